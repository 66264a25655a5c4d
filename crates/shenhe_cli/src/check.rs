//! `shenhe check`: single JSON files, NDJSON streams and county spreadsheets
//! (CSV, `.xlsx`), judged in order-keeping rounds on every core, folded into
//! a batch report (cross-record rules, counts, roll-ups).

use std::{
    fs::File,
    io::{self, IsTerminal, Read, Write},
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;
use shenhe::{
    Report, RuleSet, Severity,
    batch::{Batch, BatchReport},
    sheet::SourceMap,
};

use crate::{
    batchrun::{self, Consumer, Judged, Runner},
    html, load, render,
};

/// How `check` writes what it found.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// One canonical JSON report per submission (NDJSON for several).
    Json,
    /// A readable listing, then the batch findings.
    Text,
    /// The self-contained batch summary page.
    Html,
}

/// What `shenhe check` was asked to do.
pub struct Options<'a> {
    pub rules: &'a Path,
    pub pack: Option<&'a str>,
    pub output: Output,
    pub files: &'a [PathBuf],
    pub registry: Option<&'a Path>,
    pub batch_report: Option<&'a Path>,
    /// Threads judging submissions (0: every core).
    pub jobs: usize,
    /// Run every script in Rhai's interpreter (no compiled path).
    pub interpreter_only: bool,
}

/// Prints each report as it comes and folds it into the batch.
struct Printer<'a> {
    out: io::StdoutLock<'a>,
    rules: &'a RuleSet,
    output: Output,
    color: bool,
    batch: Batch<'a>,
    progress: ProgressBar,
    /// Submissions judged so far (the progress line's message).
    judged: u64,
    any_error: bool,
    bad_input: bool,
}

impl Printer<'_> {
    fn write(&mut self, source: &str, report: &Report, cells: Option<&SourceMap>) -> io::Result<()> {
        self.any_error |= report.count(Severity::Error) > 0;
        match self.output {
            Output::Text => {
                let shown = cells.map_or_else(|| source.to_owned(), |c| format!("{source} {}", c.rows_ref()));
                self.progress
                    .suspend(|| write!(self.out, "{}", render::text(&shown, report, cells, self.color, self.rules)))
            }
            Output::Json => match cells {
                None => writeln!(self.out, "{}", report.to_json()),
                Some(c) => writeln!(self.out, "{}", sheet_report_json(source, report, c)),
            },
            Output::Html => Ok(()),
        }
    }

    fn count(&mut self) {
        self.judged += 1;
        if self.judged.is_multiple_of(64) {
            self.progress.set_message(format!("{} 份已审核 checked", self.judged));
        }
    }
}

impl Consumer for Printer<'_> {
    fn judged(&mut self, j: Judged) -> io::Result<()> {
        self.write(&j.source, &j.report, j.cells.as_ref())?;
        self.batch.add(j.source, &j.report, j.record, j.cells);
        self.count();
        Ok(())
    }

    fn unreadable(&mut self, _source: &str, _received: &str, message: &str) {
        self.batch.unreadable();
        self.count();
        self.bad(message);
    }

    fn note(&mut self, message: &str) {
        #[allow(clippy::print_stderr, reason = "unreadable input is reported on stderr; reports go to stdout")]
        self.progress.suspend(|| eprintln!("shenhe: {message}"));
    }

    fn expect_rows(&mut self, rows: u64) {
        self.progress
            .set_style(style("{spinner} [{bar:30}] {pos}/{len} 行 rows  {msg}  {elapsed} (ETA {eta})"));
        self.progress.set_position(0);
        self.progress.set_length(rows);
    }

    fn rows_read(&mut self, rows: u64) {
        self.progress.inc(rows);
    }

    fn bad(&mut self, message: &str) {
        self.bad_input = true;
        self.note(message);
    }

    /// A file of `bytes` is next: the bar follows the bytes read.
    fn start_file(&mut self, bytes: u64, file: File) -> Box<dyn Read + Send> {
        self.progress
            .set_style(style("{spinner} [{bar:30}] {bytes}/{total_bytes}  {msg}  {elapsed} (ETA {eta})"));
        self.progress.set_position(0);
        self.progress.set_length(bytes);
        Box::new(self.progress.wrap_read(file))
    }
}

/// A report on a submission built from a sheet: the canonical report with
/// `source` (file and rows), `key` (the group key) and each finding's `cell`.
fn sheet_report_json(file: &str, report: &Report, cells: &SourceMap) -> String {
    let mut v = serde_json::to_value(report).unwrap_or(Value::Null);
    if let Some(findings) = v.get_mut("findings").and_then(Value::as_array_mut) {
        for f in findings {
            let cell = cells.cite(f.get("path").and_then(Value::as_str).unwrap_or(""));
            if let Some(m) = f.as_object_mut() {
                m.insert("cell".into(), Value::from(cell));
            }
        }
    }
    let mut out = serde_json::Map::new();
    out.insert("source".into(), Value::from(format!("{file} {}", cells.rows_ref())));
    out.insert("key".into(), Value::from(cells.key.clone()));
    if let Value::Object(m) = v {
        out.extend(m);
    }
    Value::Object(out).to_string()
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .progress_chars("=> ")
}

/// The progress line on stderr; drawn only when stderr is a terminal.
fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(style("{spinner} {msg}  {elapsed}"));
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

pub fn run(o: &Options<'_>) -> Result<ExitCode> {
    let options = shenhe::CompileOptions {
        compiled: !o.interpreter_only,
        ..shenhe::CompileOptions::default()
    };
    let (rules, _) = load::load_rules_with(o.rules, options)?;
    if let Some(id) = o.pack
        && rules.pack(id).is_none()
    {
        let known: Vec<_> = rules.packs().iter().map(|p| p.manifest().id.clone()).collect();
        bail!("--pack {id}: no such pack (loaded: {})", known.join(", "));
    }
    let registry = o.registry.map(load::read_registry).transpose()?;
    // Division names the registry gives (code → name), for the batch summary.
    let names: std::collections::BTreeMap<String, String> = registry
        .iter()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|r| Some((r.get("code")?.as_str()?.to_owned(), r.get("name")?.as_str()?.to_owned())))
        .collect();
    let mappings = batchrun::mappings(&rules);
    let stdout = io::stdout();
    let color = o.output == Output::Text && stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let printer = Printer {
        out: stdout.lock(),
        rules: &rules,
        output: o.output,
        color,
        batch: Batch::new(&rules, registry),
        progress: progress_bar(),
        judged: 0,
        any_error: false,
        bad_input: false,
    };
    let mut runner = Runner::new(&rules, o.pack, None, printer).with_jobs(o.jobs);
    let streams = runner.run_files(o.files, &mappings, o.pack)?;
    let is_batch = streams > 0 || runner.from_sheet || o.files.len() > 1;
    let Printer {
        batch,
        mut out,
        any_error,
        bad_input,
        progress,
        ..
    } = runner.consumer;
    progress.finish_and_clear();
    let report = batch.finish();
    if let Some(path) = o.batch_report {
        std::fs::write(path, report.to_json() + "\n").with_context(|| format!("cannot write {}", path.display()))?;
    }
    match o.output {
        Output::Html => write!(
            out,
            "{}",
            html::summary(
                &report,
                o.files,
                &html::Names {
                    rules: &rules,
                    registry: &names
                }
            )
        )?,
        Output::Text if is_batch => write!(out, "{}", batch_text(&report))?,
        _ => {}
    }
    out.flush()?;
    Ok(if bad_input {
        ExitCode::from(2)
    } else if any_error {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The batch part of the text output.
fn batch_text(r: &BatchReport) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "batch 批量: {} submission(s) 份 — accepted 通过 {}, needs_explanation 需说明 {}, rejected 退回 {}; unreadable 无法读取 {}",
        r.submissions, r.status.accepted, r.status.needs_explanation, r.status.rejected, r.unreadable
    );
    for f in &r.findings {
        let at = match (&f.source, &f.cell) {
            (Some(src), Some(cell)) => format!("{src} {cell}"),
            (Some(src), None) => format!("{src} {}", if f.path.is_empty() { "/" } else { &f.path }),
            _ => "batch 批量".to_owned(),
        };
        let _ = writeln!(
            s,
            "  {} {:<7} {:<9} {at}\n      {}\n      {}",
            match f.severity {
                Severity::Error => "✗",
                Severity::Warning => "!",
                Severity::Info => "i",
            },
            f.severity.as_str(),
            f.rule,
            f.message,
            f.message_en
        );
    }
    s
}
