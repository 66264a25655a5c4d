//! Judging a batch: NDJSON streams and spreadsheets, in order-keeping rounds
//! on every core. `shenhe check` prints what comes out; `shenhe serve`
//! stores it. Both hand the results to a [`Consumer`] in input order.

use std::{
    borrow::Cow,
    fs::File,
    io::{self, BufRead, BufReader, Read},
    path::{Path, PathBuf},
};

use anyhow::{Result, bail};
use serde_json::{Value, json};
use shenhe::{
    Report, RuleSet,
    sheet::{Built, CellValue, Grouper, HEADER_SEARCH_ROWS, Mapping, SheetError, SourceMap, cell_ref, column_name},
};

use crate::sheets;

/// One submission to judge.
pub enum Input {
    /// A line or file of JSON text, parsed on a worker.
    Text(String),
    /// A submission built from sheet rows, and its cells.
    Sheet(Value, SourceMap),
}

/// An input and where it came from.
pub struct Item {
    /// `file:line`, or the file for a sheet.
    pub source: String,
    /// The pack to use (a sheet's mapping names it), else `--pack`, else matching.
    pub pack: Option<String>,
    /// The submission.
    pub input: Input,
}

/// What was received, as received.
pub enum Received {
    /// A line's (or file's) text.
    Text(String),
    /// The submission built from sheet rows.
    Built(Value),
}

impl Received {
    /// The text to store.
    pub fn into_text(self) -> String {
        match self {
            Self::Text(t) => t,
            Self::Built(v) => v.to_string(),
        }
    }
}

/// A judged submission.
pub struct Judged {
    /// Where it came from.
    pub source: String,
    /// What was received.
    pub received: Received,
    /// The submission as judged, when the server stamped it (A4); `None`
    /// when it was judged as received.
    pub stamped: Option<Value>,
    /// Its report.
    pub report: Report,
    /// Its batch record (what the cross-record rules read).
    pub record: Option<Value>,
    /// Its cells, for a sheet.
    pub cells: Option<SourceMap>,
}

/// What receives the results, in input order.
pub trait Consumer {
    /// A submission and its report.
    fn judged(&mut self, j: Judged) -> io::Result<()>;
    /// An input that is not a submission (bad JSON), with why.
    fn unreadable(&mut self, source: &str, received: &str, message: &str);
    /// Sheets only: a note that does not stop the batch (a skipped sheet).
    fn note(&mut self, message: &str);
    /// How many rows are coming, when known (for progress).
    fn expect_rows(&mut self, _rows: u64) {}
    /// Rows read from a sheet so far (for progress).
    fn rows_read(&mut self, _rows: u64) {}
    /// An input that could not be read at all (a missing file, a sheet no
    /// pack maps): the run goes on, and ends with exit code 2.
    fn bad(&mut self, message: &str) {
        self.note(message);
    }
    /// A stream file of `bytes` is next; `wrap` returns the reader to use
    /// (one that moves a progress bar, say).
    fn start_file(&mut self, _bytes: u64, file: File) -> Box<dyn Read + Send> {
        Box::new(file)
    }
}

/// NDJSON by its name: `-`, `.ndjson` or `.jsonl`.
pub fn is_stream(path: &Path) -> bool {
    path.as_os_str() == "-" || path.extension().is_some_and(|e| e == "ndjson" || e == "jsonl")
}

/// Items judged per round. Memory stays bounded by this many submissions
/// and reports, however long the input is.
const CHUNK: usize = 512;

/// Every core of this machine: the default of `--jobs`.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// Runs inputs through the rules and into a consumer.
pub struct Runner<'a, C: Consumer> {
    rules: &'a RuleSet,
    forced: Option<&'a str>,
    /// The receipt time the server stamps on every submission (A4).
    stamp: Option<String>,
    chunk: Vec<Item>,
    /// Threads that judge a round (`--jobs`).
    workers: usize,
    /// Where the results go.
    pub consumer: C,
    /// Whether any input was a spreadsheet.
    pub from_sheet: bool,
}

/// The stamped document (when stamped), the report and the batch record; or why it is unreadable.
type Outcome = Result<(Option<Value>, Report, Option<Value>), String>;

/// Sets `submission.submitted_at` to the receipt time (A4).
pub fn stamp(doc: &mut Value, at: &str) {
    if let Value::Object(map) = doc {
        let meta = map.entry("submission").or_insert_with(|| json!({}));
        if !meta.is_object() {
            *meta = json!({});
        }
        meta["submitted_at"] = Value::String(at.to_owned());
    }
}

/// What a worker needs to judge an item.
#[derive(Clone, Copy)]
struct Judge<'a> {
    rules: &'a RuleSet,
    forced: Option<&'a str>,
    stamp: Option<&'a str>,
    workers: usize,
}

impl Judge<'_> {
    fn one(self, item: &Item) -> Outcome {
        let pack = item.pack.as_deref().or(self.forced);
        // A sheet's submission is judged in place; it is copied only to be stamped.
        let mut doc = match &item.input {
            Input::Text(text) => Cow::Owned(shenhe::api::parse_submission(&item.source, text).map_err(|e| e.to_string())?),
            Input::Sheet(v, _) => Cow::Borrowed(v),
        };
        if let Some(at) = self.stamp {
            stamp(doc.to_mut(), at);
        }
        let (report, record) = self.rules.evaluate_for_batch(&doc, pack);
        Ok((self.stamp.is_some().then(|| doc.into_owned()), report, record))
    }

    /// Judges one round on `workers` threads; results come back in input order.
    fn round(self, chunk: &[Item]) -> Vec<Outcome> {
        let workers = self.workers.max(1);
        if workers == 1 || chunk.len() < 2 * workers {
            return chunk.iter().map(|i| self.one(i)).collect();
        }
        let per = chunk.len().div_ceil(workers);
        std::thread::scope(|s| {
            let parts: Vec<_> = chunk
                .chunks(per)
                .map(|part| (part, s.spawn(move || part.iter().map(|i| self.one(i)).collect::<Vec<_>>())))
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
}

impl<'a, C: Consumer> Runner<'a, C> {
    /// A runner over `rules`; `forced` is `--pack`; `stamp` the server's receipt time.
    pub fn new(rules: &'a RuleSet, forced: Option<&'a str>, stamp: Option<String>, consumer: C) -> Self {
        Self {
            rules,
            forced,
            stamp,
            chunk: Vec::new(),
            workers: default_jobs(),
            consumer,
            from_sheet: false,
        }
    }

    /// Judges on `jobs` threads (`--jobs`); 0 means every core.
    #[must_use]
    pub fn with_jobs(mut self, jobs: usize) -> Self {
        self.workers = if jobs == 0 { default_jobs() } else { jobs };
        self
    }

    /// Queues one input; judges a round when it is full.
    pub fn push(&mut self, item: Item) -> io::Result<()> {
        self.chunk.push(item);
        if self.chunk.len() == CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    /// Judges what is queued.
    pub fn flush(&mut self) -> io::Result<()> {
        let chunk = std::mem::take(&mut self.chunk);
        let judge = Judge {
            rules: self.rules,
            forced: self.forced,
            stamp: self.stamp.as_deref(),
            workers: self.workers,
        };
        let results = judge.round(&chunk);
        for (item, result) in chunk.into_iter().zip(results) {
            let (received, cells) = match item.input {
                Input::Text(text) => (Received::Text(text), None),
                Input::Sheet(built, cells) => (Received::Built(built), Some(cells)),
            };
            match result {
                Ok((stamped, report, record)) => self.consumer.judged(Judged {
                    source: item.source,
                    received,
                    stamped,
                    report,
                    record,
                    cells,
                })?,
                Err(message) => self.consumer.unreadable(&item.source, &received.into_text(), &message),
            }
        }
        Ok(())
    }

    /// Every input file, as `shenhe check` and `shenhe diff` take them: a
    /// JSON file, an NDJSON stream (`-` is stdin), or a spreadsheet. An
    /// input that cannot be read goes to [`Consumer::bad`]; returns how many
    /// were streams.
    pub fn run_files(&mut self, files: &[PathBuf], mappings: &[(String, Mapping)], forced: Option<&str>) -> Result<usize> {
        let mut streams = 0;
        for path in files {
            let name = path.display().to_string();
            if path.as_os_str() == "-" {
                streams += 1;
                self.run_stream("-", io::stdin().lock())?;
                continue;
            }
            if sheets::is_sheet(path) {
                if let Err(e) = self.run_sheet(mappings, forced, &sheets::Source::File(path)) {
                    self.consumer.bad(&format!("{e:#}"));
                }
                continue;
            }
            let file = match File::open(path) {
                Ok(f) => f,
                Err(e) => {
                    self.consumer.bad(&format!("{name}: cannot read: {e}"));
                    continue;
                }
            };
            if is_stream(path) {
                streams += 1;
                let bytes = file.metadata().map_or(0, |m| m.len());
                let reader = self.consumer.start_file(bytes, file);
                self.run_stream(&name, BufReader::new(reader))?;
                continue;
            }
            let mut text = String::new();
            if let Err(e) = BufReader::new(file).read_to_string(&mut text) {
                self.consumer.bad(&format!("{name}: cannot read: {e}"));
                continue;
            }
            self.push(Item {
                source: name,
                pack: None,
                input: Input::Text(text),
            })?;
        }
        self.flush()?;
        Ok(streams)
    }

    /// An NDJSON stream, one submission per non-blank line.
    pub fn run_stream(&mut self, name: &str, reader: impl BufRead) -> io::Result<()> {
        for (i, line) in reader.lines().enumerate() {
            match line {
                Ok(l) if l.trim().is_empty() => {}
                Ok(l) => self.push(Item {
                    source: format!("{name}:{}", i + 1),
                    pack: None,
                    input: Input::Text(l),
                })?,
                Err(e) => {
                    self.flush()?;
                    self.consumer
                        .unreadable(&format!("{name}:{}", i + 1), "", &format!("{name}:{}: cannot read: {e}", i + 1));
                    return Ok(());
                }
            }
        }
        self.flush()
    }

    /// A spreadsheet, read with the mapping of the pack whose headers it has
    /// (`forced` limits the choice to that pack).
    pub fn run_sheet(&mut self, mappings: &[(String, Mapping)], forced: Option<&str>, source: &sheets::Source<'_>) -> Result<()> {
        let file = source.name();
        if mappings.is_empty() {
            bail!("{file}: none of the loaded packs has a column mapping (columns.toml), so spreadsheets cannot be read");
        }
        if let Some(id) = forced
            && !mappings.iter().any(|(p, _)| p == id)
        {
            bail!("{file}: pack {id} has no column mapping (columns.toml)");
        }
        self.from_sheet = true;
        let mut feeder = SheetFeeder {
            runner: self,
            mappings,
            forced: forced.map(str::to_owned),
            file: file.clone(),
            merged: Vec::new(),
            held: Vec::new(),
            active: None,
            matched: 0,
            skipped: Vec::new(),
            ignoring: false,
            built: 0,
            empty: Vec::new(),
        };
        let result = sheets::read(source, &mut feeder);
        let (matched, skipped, empty) = (feeder.matched, std::mem::take(&mut feeder.skipped), std::mem::take(&mut feeder.empty));
        self.flush()?;
        result?;
        if matched == 0 && skipped.is_empty() {
            bail!("{file}: the file has no rows");
        }
        if matched == 0 {
            bail!("{}", skipped.join("\n"));
        }
        for s in skipped {
            self.consumer.note(&format!("{file}: skipped sheet {s}"));
        }
        for e in empty {
            self.consumer.note(&e);
        }
        Ok(())
    }
}

/// A sheet on its way: the first rows are held until the header row is
/// found; then rows stream through the chosen pack's mapping.
struct SheetFeeder<'r, 'a, 'm, C: Consumer> {
    runner: &'r mut Runner<'a, C>,
    mappings: &'m [(String, Mapping)],
    forced: Option<String>,
    file: String,
    merged: Vec<(u32, usize, u32, usize)>,
    held: Vec<(u32, Vec<CellValue>)>,
    active: Option<(String, Grouper<'m>)>,
    matched: usize,
    skipped: Vec<String>,
    /// The sheet has no pack's columns: its remaining rows are ignored.
    ignoring: bool,
    /// Submissions built from the current sheet.
    built: usize,
    /// Sheets with a header row and no data rows.
    empty: Vec<String>,
}

impl<'m, C: Consumer> SheetFeeder<'_, '_, 'm, C> {
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
            self.ignoring = true;
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
        self.matched += 1;
        let mut grouper = Grouper::new(mapping, layout, sheet);
        for (r, cells) in held {
            if let Some(built) = grouper.push(r, &cells) {
                self.send(id.clone(), built)?;
            }
        }
        self.active = Some((id.clone(), grouper));
        Ok(())
    }

    fn send(&mut self, pack: String, built: Built) -> Result<()> {
        self.built += 1;
        self.runner.push(Item {
            source: self.file.clone(),
            pack: Some(pack),
            input: Input::Sheet(built.submission, built.source),
        })?;
        Ok(())
    }
}

impl<C: Consumer> sheets::RowSink for SheetFeeder<'_, '_, '_, C> {
    fn row(&mut self, sheet: &str, row: u32, cells: Vec<CellValue>) -> Result<()> {
        self.runner.consumer.rows_read(1);
        match &mut self.active {
            Some((pack, grouper)) => {
                if let Some(built) = grouper.push(row, &cells) {
                    let pack = pack.clone();
                    self.send(pack, built)?;
                }
            }
            None if self.ignoring => {}
            None => {
                self.held.push((row, cells));
                if self.held.len() >= HEADER_SEARCH_ROWS {
                    self.decide(sheet)?;
                }
            }
        }
        Ok(())
    }

    fn end_sheet(&mut self, sheet: &str) -> Result<()> {
        if self.active.is_none() && !self.ignoring {
            self.decide(sheet)?;
        }
        self.ignoring = false;
        if let Some((pack, mut grouper)) = self.active.take() {
            if let Some(built) = grouper.finish() {
                self.send(pack, built)?;
            }
            if self.built == 0 {
                self.empty.push(format!("{}: sheet {sheet} has the header row but no data rows", self.file));
            }
        }
        self.built = 0;
        self.held.clear();
        self.merged.clear();
        Ok(())
    }

    fn merged(&mut self, _sheet: &str, regions: Vec<(u32, usize, u32, usize)>) {
        self.merged = regions;
    }

    fn size_hint(&mut self, rows: u64) {
        self.runner.consumer.expect_rows(rows);
    }
}

/// The column mappings of the loaded packs.
pub fn mappings(rules: &RuleSet) -> Vec<(String, Mapping)> {
    rules.packs().iter().filter_map(|p| p.mapping().map(|m| (p.manifest().id.clone(), m))).collect()
}
