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

/// Lines judged per round. Memory stays bounded by this many submissions
/// and reports, however long the stream is.
const CHUNK: usize = 512;

/// Judges one round of lines on every core; results come back in input order.
fn judge(rules: &RuleSet, pack: Option<&str>, name: &str, chunk: &[(usize, String)]) -> Vec<Result<Report, String>> {
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let one = |(i, line): &(usize, String)| {
        let source = format!("{name}:{}", i + 1);
        shenhe::api::parse_submission(&source, line)
            .map(|v| rules.evaluate(&v, pack))
            .map_err(|e| e.to_string())
    };
    if workers == 1 || chunk.len() < 2 * workers {
        return chunk.iter().map(one).collect();
    }
    let per = chunk.len().div_ceil(workers);
    std::thread::scope(|s| {
        let parts: Vec<_> = chunk
            .chunks(per)
            .map(|part| (part, s.spawn(move || part.iter().map(one).collect::<Vec<_>>())))
            .collect();
        parts
            .into_iter()
            .flat_map(|(part, handle)| {
                handle.join().unwrap_or_else(|_| {
                    part.iter()
                        .map(|(i, _)| Err(format!("{name}:{}: internal error: a worker stopped", i + 1)))
                        .collect()
                })
            })
            .collect()
    })
}

fn run_stream(rules: &RuleSet, pack: Option<&str>, name: &str, reader: impl BufRead, sink: &mut Sink<'_>) -> io::Result<()> {
    let mut lines = reader.lines().enumerate();
    loop {
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut read_error = None;
        let mut exhausted = true;
        for (i, line) in lines.by_ref() {
            match line {
                Ok(l) if l.trim().is_empty() => {}
                Ok(l) => chunk.push((i, l)),
                Err(e) => {
                    read_error = Some(format!("{name}:{}: cannot read: {e}", i + 1));
                    break;
                }
            }
            if chunk.len() == CHUNK {
                exhausted = false;
                break;
            }
        }
        for ((i, _), result) in chunk.iter().zip(judge(rules, pack, name, &chunk)) {
            match result {
                Ok(report) => sink.report(&format!("{name}:{}", i + 1), &report)?,
                Err(message) => sink.bad(&message),
            }
        }
        if let Some(message) = read_error {
            sink.bad(&message);
            return Ok(());
        }
        if exhausted {
            return Ok(());
        }
    }
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
