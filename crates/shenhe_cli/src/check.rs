//! `shenhe check`: single JSON files, NDJSON streams and county spreadsheets
//! (CSV, `.xlsx`), judged in order-keeping rounds on every core, folded into
//! a batch report (cross-record rules, counts, roll-ups).

use std::{
    fs::File,
    io::{self, BufRead, BufReader, IsTerminal, Read, Write},
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::{Context, Result, anyhow, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;
use shenhe::{
    Report, RuleSet, Severity,
    batch::{Batch, BatchReport},
    sheet::{CellValue, Grouper, HEADER_SEARCH_ROWS, Mapping, SheetError, SourceMap, cell_ref, column_name},
};

use crate::{html, load, render, sheets};

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
}

fn is_stream(path: &Path) -> bool {
    path.as_os_str() == "-" || path.extension().is_some_and(|e| e == "ndjson" || e == "jsonl")
}

enum Input {
    /// A line or file of JSON text, parsed on a worker.
    Text(String),
    /// A submission built from sheet rows, and its cells.
    Sheet(Value, SourceMap),
}

struct Item {
    source: String,
    /// The pack to use (a sheet's mapping names it), else `--pack`, else matching.
    pack: Option<String>,
    input: Input,
}

type Judged = Result<(Report, Option<Value>), String>;

struct Pipeline<'a> {
    rules: &'a RuleSet,
    forced: Option<&'a str>,
    out: io::StdoutLock<'a>,
    output: Output,
    color: bool,
    batch: Batch<'a>,
    chunk: Vec<Item>,
    progress: ProgressBar,
    any_error: bool,
    bad_input: bool,
    from_sheet: bool,
}

/// Items judged per round. Memory stays bounded by this many submissions
/// and reports, however long the input is.
const CHUNK: usize = 512;

fn judge_one(rules: &RuleSet, forced: Option<&str>, item: &Item) -> Judged {
    let pack = item.pack.as_deref().or(forced);
    match &item.input {
        Input::Text(text) => shenhe::api::parse_submission(&item.source, text)
            .map(|v| rules.evaluate_for_batch(&v, pack))
            .map_err(|e| e.to_string()),
        Input::Sheet(v, _) => Ok(rules.evaluate_for_batch(v, pack)),
    }
}

/// Judges one round on every core; results come back in input order.
fn judge(rules: &RuleSet, forced: Option<&str>, chunk: &[Item]) -> Vec<Judged> {
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    if workers == 1 || chunk.len() < 2 * workers {
        return chunk.iter().map(|i| judge_one(rules, forced, i)).collect();
    }
    let per = chunk.len().div_ceil(workers);
    std::thread::scope(|s| {
        let parts: Vec<_> = chunk
            .chunks(per)
            .map(|part| (part, s.spawn(move || part.iter().map(|i| judge_one(rules, forced, i)).collect::<Vec<_>>())))
            .collect();
        parts
            .into_iter()
            .flat_map(|(part, handle)| {
                handle
                    .join()
                    .unwrap_or_else(|_| part.iter().map(|i| Err(format!("{}: internal error: a worker stopped", i.source))).collect())
            })
            .collect()
    })
}

impl Pipeline<'_> {
    fn push(&mut self, item: Item) -> io::Result<()> {
        self.chunk.push(item);
        if self.chunk.len() == CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        let chunk = std::mem::take(&mut self.chunk);
        let results = judge(self.rules, self.forced, &chunk);
        for (item, result) in chunk.into_iter().zip(results) {
            match result {
                Ok((report, record)) => {
                    let cells = match item.input {
                        Input::Sheet(_, cells) => Some(cells),
                        Input::Text(_) => None,
                    };
                    self.write(&item.source, &report, cells.as_ref())?;
                    self.batch.add(item.source, &report, record, cells);
                }
                Err(message) => {
                    self.batch.unreadable();
                    self.bad(&message);
                }
            }
            self.progress.inc(1);
        }
        Ok(())
    }

    fn write(&mut self, source: &str, report: &Report, cells: Option<&SourceMap>) -> io::Result<()> {
        self.any_error |= report.count(Severity::Error) > 0;
        match self.output {
            Output::Text => {
                let shown = cells.map_or_else(|| source.to_owned(), |c| format!("{source} {}", c.rows_ref()));
                self.progress
                    .suspend(|| write!(self.out, "{}", render::text(&shown, report, cells, self.color)))
            }
            Output::Json => match cells {
                None => writeln!(self.out, "{}", report.to_json()),
                Some(c) => writeln!(self.out, "{}", sheet_report_json(source, report, c)),
            },
            Output::Html => Ok(()),
        }
    }

    fn bad(&mut self, message: &str) {
        self.bad_input = true;
        #[allow(clippy::print_stderr, reason = "unreadable input is reported on stderr; reports go to stdout")]
        self.progress.suspend(|| eprintln!("shenhe: {message}"));
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

fn run_stream(p: &mut Pipeline<'_>, name: &str, reader: impl BufRead) -> io::Result<()> {
    for (i, line) in reader.lines().enumerate() {
        match line {
            Ok(l) if l.trim().is_empty() => {}
            Ok(l) => p.push(Item {
                source: format!("{name}:{}", i + 1),
                pack: None,
                input: Input::Text(l),
            })?,
            Err(e) => {
                p.flush()?;
                p.bad(&format!("{name}:{}: cannot read: {e}", i + 1));
                return Ok(());
            }
        }
    }
    p.flush()
}

/// A sheet on its way: the first rows are held until the header row is
/// found; then rows stream through the chosen pack's mapping.
struct SheetFeeder<'p, 'a, 'm> {
    pipeline: &'p mut Pipeline<'a>,
    mappings: &'m [(String, Mapping)],
    forced: Option<String>,
    file: String,
    merged: Vec<(u32, usize, u32, usize)>,
    held: Vec<(u32, Vec<CellValue>)>,
    active: Option<(String, Grouper<'m>)>,
    matched: Vec<String>,
    skipped: Vec<String>,
}

impl<'m> SheetFeeder<'_, '_, 'm> {
    /// Picks the pack whose columns this sheet has, checks merged cells, and
    /// starts building submissions from the held rows.
    fn decide(&mut self, sheet: &str) -> Result<()> {
        let held = std::mem::take(&mut self.held);
        if held.is_empty() {
            return Ok(());
        }
        let candidates: Vec<&(String, Mapping)> = match &self.forced {
            Some(id) => self.mappings.iter().filter(|(p, _)| p == id).collect(),
            None => self.mappings.iter().collect(),
        };
        let mut found = Vec::new();
        let mut errors: Vec<SheetError> = Vec::new();
        for (id, m) in candidates {
            match m.locate(sheet, &held) {
                Ok(layout) => found.push((id, m, layout)),
                Err(e) => errors.push(e),
            }
        }
        if found.len() > 1 {
            let ids: Vec<&str> = found.iter().map(|(id, _, _)| id.as_str()).collect();
            bail!(
                "{}: sheet {sheet} has the columns of several packs ({}); choose one with --pack",
                self.file,
                ids.join(", ")
            );
        }
        let Some((id, mapping, layout)) = found.pop() else {
            // Report the pack that came closest.
            let best = errors.into_iter().min_by_key(|e| match e {
                SheetError::MissingColumns { missing, .. } => missing.len(),
                SheetError::Mapping(_) => usize::MAX,
            });
            self.skipped
                .push(best.map_or_else(|| format!("{sheet}: no pack has a column mapping"), |e| e.to_string()));
            return Ok(());
        };
        for &(r0, c0, r1, c1) in &self.merged {
            if r1 > layout.header_row {
                bail!(
                    "{}: {}:{}{r1} 是合并单元格 is a merged cell in the data rows: unmerge it and fill the value into every row (only the first row of a merged cell holds its value)",
                    self.file,
                    cell_ref(sheet, r0, c0),
                    column_name(c1)
                );
            }
        }
        self.matched.push(format!("{sheet} → {id}"));
        let mut grouper = Grouper::new(mapping, layout, sheet);
        for (r, cells) in held {
            if let Some(built) = grouper.push(r, &cells) {
                self.send(id.clone(), built)?;
            }
        }
        self.active = Some((id.clone(), grouper));
        Ok(())
    }

    fn send(&mut self, pack: String, built: shenhe::sheet::Built) -> Result<()> {
        self.pipeline.push(Item {
            source: self.file.clone(),
            pack: Some(pack),
            input: Input::Sheet(built.submission, built.source),
        })?;
        Ok(())
    }
}

impl sheets::RowSink for SheetFeeder<'_, '_, '_> {
    fn row(&mut self, sheet: &str, row: u32, cells: Vec<CellValue>) -> Result<()> {
        match &mut self.active {
            Some((pack, grouper)) => {
                if let Some(built) = grouper.push(row, &cells) {
                    let pack = pack.clone();
                    self.send(pack, built)?;
                }
            }
            None => {
                self.held.push((row, cells));
                if self.held.len() >= HEADER_SEARCH_ROWS {
                    self.decide(sheet)?;
                    if self.active.is_none() {
                        // Not a sheet of any pack: ignore the rest of it.
                        self.held.clear();
                        self.active = None;
                    }
                }
            }
        }
        Ok(())
    }

    fn end_sheet(&mut self, sheet: &str) -> Result<()> {
        if self.active.is_none() {
            self.decide(sheet)?;
        }
        if let Some((pack, mut grouper)) = self.active.take()
            && let Some(built) = grouper.finish()
        {
            self.send(pack, built)?;
        }
        self.held.clear();
        self.merged.clear();
        Ok(())
    }

    fn merged(&mut self, _sheet: &str, regions: Vec<(u32, usize, u32, usize)>) {
        self.merged = regions;
    }

    fn size_hint(&mut self, rows: u64) {
        self.pipeline.progress.inc_length(rows);
    }
}

fn run_sheet(p: &mut Pipeline<'_>, mappings: &[(String, Mapping)], forced: Option<&str>, path: &Path) -> Result<()> {
    let file = path.display().to_string();
    if mappings.is_empty() {
        bail!("{file}: none of the loaded packs has a column mapping (columns.toml), so spreadsheets cannot be read");
    }
    if let Some(id) = forced
        && !mappings.iter().any(|(p, _)| p == id)
    {
        bail!("{file}: pack {id} has no column mapping (columns.toml)");
    }
    p.from_sheet = true;
    let mut feeder = SheetFeeder {
        pipeline: p,
        mappings,
        forced: forced.map(str::to_owned),
        file: file.clone(),
        merged: Vec::new(),
        held: Vec::new(),
        active: None,
        matched: Vec::new(),
        skipped: Vec::new(),
    };
    let result = sheets::read(path, &mut feeder);
    let (matched, skipped) = (std::mem::take(&mut feeder.matched), std::mem::take(&mut feeder.skipped));
    p.flush()?;
    result?;
    if matched.is_empty() {
        bail!("{}", skipped.join("\n"));
    }
    for s in skipped {
        #[allow(clippy::print_stderr, reason = "notes about skipped sheets")]
        p.progress.suspend(|| eprintln!("shenhe: {file}: skipped sheet {s}"));
    }
    Ok(())
}

/// Reads `--registry`: a JSON array of objects, or a CSV whose headers name
/// `code`/`name`/`type`/`uscc` (or 区划代码/名称/机构类别/统一社会信用代码).
fn read_registry(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("--registry {}: cannot read", path.display()))?;
    if path.extension().is_some_and(|e| e == "json") {
        let v: Value = serde_json::from_str(&text).map_err(|e| anyhow!("--registry {}:{}:{}: invalid JSON: {e}", path.display(), e.line(), e.column()))?;
        if !v.as_array().is_some_and(|a| a.iter().all(Value::is_object)) {
            bail!(
                "--registry {}: must be a JSON array of objects ({{\"code\", \"name\", \"type\"}})",
                path.display()
            );
        }
        return Ok(v);
    }
    let key = |h: &str| -> String {
        match h.trim() {
            "区划代码" | "代码" | "机构代码" | "统计用区划代码" | "code" => "code",
            "名称" | "机构名称" | "行政村" | "单位名称" | "name" => "name",
            "类别" | "机构类别" | "机构类型" | "wsinst_type" | "type" => "type",
            "统一社会信用代码" | "uscc" => "uscc",
            other => other,
        }
        .to_owned()
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers: Vec<String> = reader.headers()?.iter().map(key).collect();
    if !headers.iter().any(|h| h == "code") {
        bail!(
            "--registry {}: needs a code column (code / 区划代码); it has {}",
            path.display(),
            headers.join(", ")
        );
    }
    let mut rows = Vec::new();
    for r in reader.records() {
        let r = r.map_err(|e| anyhow!("--registry {}: {e}", path.display()))?;
        let obj: serde_json::Map<String, Value> = headers.iter().cloned().zip(r.iter().map(|c| Value::from(c.trim()))).collect();
        rows.push(Value::Object(obj));
    }
    Ok(Value::Array(rows))
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(ProgressStyle::with_template("{spinner} {pos} 份已审核 checked  {per_sec}  {elapsed}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
    bar
}

pub fn run(o: &Options<'_>) -> Result<ExitCode> {
    let (rules, _) = load::load_rules(o.rules)?;
    if let Some(id) = o.pack
        && rules.pack(id).is_none()
    {
        let known: Vec<_> = rules.packs().iter().map(|p| p.manifest().id.clone()).collect();
        bail!("--pack {id}: no such pack (loaded: {})", known.join(", "));
    }
    let registry = o.registry.map(read_registry).transpose()?;
    let mappings: Vec<(String, Mapping)> = rules.packs().iter().filter_map(|p| p.mapping().map(|m| (p.manifest().id.clone(), m))).collect();
    let stdout = io::stdout();
    let color = o.output == Output::Text && stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut p = Pipeline {
        rules: &rules,
        forced: o.pack,
        out: stdout.lock(),
        output: o.output,
        color,
        batch: Batch::new(&rules, registry),
        chunk: Vec::new(),
        progress: progress_bar(),
        any_error: false,
        bad_input: false,
        from_sheet: false,
    };
    let mut streams = 0;
    for path in o.files {
        let name = path.display().to_string();
        if path.as_os_str() == "-" {
            streams += 1;
            run_stream(&mut p, "-", io::stdin().lock())?;
            continue;
        }
        if sheets::is_sheet(path) {
            if let Err(e) = run_sheet(&mut p, &mappings, o.pack, path) {
                p.bad(&format!("{e:#}"));
            }
            continue;
        }
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                p.bad(&format!("{name}: cannot read: {e}"));
                continue;
            }
        };
        if is_stream(path) {
            streams += 1;
            run_stream(&mut p, &name, BufReader::new(file))?;
            continue;
        }
        let mut text = String::new();
        if let Err(e) = BufReader::new(file).read_to_string(&mut text) {
            p.bad(&format!("{name}: cannot read: {e}"));
            continue;
        }
        p.push(Item {
            source: name,
            pack: None,
            input: Input::Text(text),
        })?;
    }
    p.flush()?;
    p.progress.finish_and_clear();
    let is_batch = streams > 0 || p.from_sheet || o.files.len() > 1;
    let Pipeline {
        batch,
        mut out,
        any_error,
        bad_input,
        ..
    } = p;
    let report = batch.finish();
    if let Some(path) = o.batch_report {
        std::fs::write(path, report.to_json() + "\n").with_context(|| format!("cannot write {}", path.display()))?;
    }
    match o.output {
        Output::Html => write!(out, "{}", html::summary(&report, o.files))?,
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
