//! `shenhe check`.

use std::{
    fs::File,
    io::{self, BufRead, BufReader, IsTerminal, Read, Write},
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::{Result, bail};
use shenhe::{Report, RuleSet, Severity};

use crate::{load, render};

fn is_stream(path: &Path) -> bool {
    path.as_os_str() == "-" || path.extension().is_some_and(|e| e == "ndjson" || e == "jsonl")
}

struct Sink<'a> {
    out: io::StdoutLock<'a>,
    text: bool,
    color: bool,
    any_error: bool,
    bad_input: bool,
}

impl Sink<'_> {
    fn report(&mut self, source: &str, report: &Report) -> io::Result<()> {
        self.any_error |= report.count(Severity::Error) > 0;
        if self.text {
            write!(self.out, "{}", render::text(source, report, self.color))
        } else {
            writeln!(self.out, "{}", report.to_json())
        }
    }

    fn bad(&mut self, message: &str) {
        self.bad_input = true;
        #[allow(clippy::print_stderr, reason = "unreadable input is reported on stderr; reports go to stdout")]
        {
            eprintln!("shenhe: {message}");
        }
    }
}

fn run_stream(rules: &RuleSet, pack: Option<&str>, name: &str, reader: impl BufRead, sink: &mut Sink<'_>) -> io::Result<()> {
    for (i, line) in reader.lines().enumerate() {
        let source = format!("{name}:{}", i + 1);
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                sink.bad(&format!("{source}: cannot read: {e}"));
                break;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        match shenhe::api::parse_submission(&source, &line) {
            Ok(v) => sink.report(&source, &rules.evaluate(&v, pack))?,
            Err(e) => sink.bad(&e.to_string()),
        }
    }
    Ok(())
}

pub fn run(rules_path: &Path, pack: Option<&str>, text: bool, files: &[PathBuf]) -> Result<ExitCode> {
    let (rules, _) = load::load_rules(rules_path)?;
    if let Some(id) = pack
        && rules.pack(id).is_none()
    {
        let known: Vec<_> = rules.packs().iter().map(|p| p.manifest().id.clone()).collect();
        bail!("--pack {id}: no such pack (loaded: {})", known.join(", "));
    }
    let stdout = io::stdout();
    let color = text && stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut sink = Sink {
        out: stdout.lock(),
        text,
        color,
        any_error: false,
        bad_input: false,
    };
    for path in files {
        let name = path.display().to_string();
        if path.as_os_str() == "-" {
            run_stream(&rules, pack, "-", io::stdin().lock(), &mut sink)?;
            continue;
        }
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                sink.bad(&format!("{name}: cannot read: {e}"));
                continue;
            }
        };
        if is_stream(path) {
            run_stream(&rules, pack, &name, BufReader::new(file), &mut sink)?;
            continue;
        }
        let mut text = String::new();
        if let Err(e) = BufReader::new(file).read_to_string(&mut text) {
            sink.bad(&format!("{name}: cannot read: {e}"));
            continue;
        }
        match shenhe::api::parse_submission(&name, &text) {
            Ok(v) => sink.report(&name, &rules.evaluate(&v, pack))?,
            Err(e) => sink.bad(&e.to_string()),
        }
    }
    sink.out.flush()?;
    Ok(if sink.bad_input {
        ExitCode::from(2)
    } else if sink.any_error {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
