//! `shenhe diff --old RULES --new RULES INPUT…`: what a change to the rules
//! would change, before it is published. Every input is judged by both rule
//! sets; the output says which submissions change status and which findings
//! appear or disappear, per rule, with a few examples of each.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::Write as _,
    io,
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::{Context as _, Result, bail};
use shenhe::{Report, RuleSet};

use crate::{
    batchrun::{self, Consumer, Input, Item, Judged, Runner},
    html, load,
};

/// How `diff` writes what it found.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A plain listing.
    Text,
    /// One self-contained page for a reviewer.
    Html,
}

/// What `shenhe diff` was asked to do.
pub struct Options<'a> {
    pub old: &'a Path,
    pub new: &'a Path,
    pub files: &'a [PathBuf],
    /// A server database: its stored submissions, as they were judged.
    /// A store of `shenhe serve`: a SQLite file or a postgres:// URL.
    pub db: Option<&'a str>,
    pub pack: Option<&'a str>,
    pub format: Format,
    /// Examples shown per status change and per rule.
    pub examples: usize,
    pub jobs: usize,
}

/// What one run keeps of a submission: enough to compare, not the report.
struct Seen {
    source: String,
    /// `None` when the input was not a submission (bad JSON).
    status: Option<&'static str>,
    /// (rule, severity, path) → message.
    findings: BTreeMap<(String, &'static str, String), String>,
}

impl Seen {
    fn of(source: String, report: &Report) -> Self {
        Self {
            source,
            status: Some(report.status.as_str()),
            findings: report
                .findings
                .iter()
                .map(|f| ((f.rule.clone(), f.severity.as_str(), f.path.clone()), f.message.clone()))
                .collect(),
        }
    }
}

/// Collects what a run saw, in input order.
#[derive(Default)]
struct Collector {
    seen: Vec<Seen>,
    bad: Vec<String>,
}

impl Consumer for Collector {
    fn judged(&mut self, j: Judged) -> io::Result<()> {
        self.seen.push(Seen::of(j.source, &j.report));
        Ok(())
    }

    fn unreadable(&mut self, source: &str, _received: &str, _message: &str) {
        self.seen.push(Seen {
            source: source.to_owned(),
            status: None,
            findings: BTreeMap::new(),
        });
    }

    fn note(&mut self, _message: &str) {}

    fn bad(&mut self, message: &str) {
        self.bad.push(message.to_owned());
    }
}

/// The submissions a server stored, as it judged them (with its receipt time).
fn stored(db: &str) -> Result<Vec<Item>> {
    let store = crate::serve::Store::open_read_only(db)?;
    let rows = store.read(|tx| tx.query("SELECT id, submission FROM submissions ORDER BY id", &[]))?;
    Ok(rows
        .iter()
        .map(|r| Item {
            source: format!("{}#{}", store.shown, r.int(0)),
            pack: None,
            input: Input::Text(r.string(1)),
        })
        .collect())
}

/// Judges every input with `rules`.
fn judge(rules: &RuleSet, o: &Options<'_>) -> Result<Collector> {
    let mut runner = Runner::new(rules, o.pack, None, Collector::default()).with_jobs(o.jobs);
    if let Some(db) = o.db {
        for item in stored(db)? {
            runner.push(item)?;
        }
        runner.flush()?;
    }
    runner.run_files(o.files, &batchrun::mappings(rules), o.pack)?;
    Ok(runner.consumer)
}

/// What changed between two runs over the same inputs.
#[derive(Default)]
struct Changes {
    judged: usize,
    /// (old status, new status) → sources.
    statuses: BTreeMap<(&'static str, &'static str), Vec<String>>,
    /// rule → (appeared, disappeared): (source, path, message).
    rules: BTreeMap<String, (Vec<Example>, Vec<Example>)>,
}

struct Example {
    source: String,
    path: String,
    message: String,
}

fn compare(old: Vec<Seen>, new: Vec<Seen>) -> Changes {
    let mut c = Changes::default();
    for (a, b) in old.into_iter().zip(new) {
        let (Some(sa), Some(sb)) = (a.status, b.status) else { continue };
        c.judged += 1;
        if sa != sb {
            c.statuses.entry((sa, sb)).or_default().push(a.source.clone());
        }
        let keys: BTreeSet<_> = a.findings.keys().chain(b.findings.keys()).cloned().collect();
        for key in keys {
            let (rule, _, path) = &key;
            let example = |message: &String| Example {
                source: a.source.clone(),
                path: path.clone(),
                message: message.clone(),
            };
            match (a.findings.get(&key), b.findings.get(&key)) {
                (None, Some(m)) => c.rules.entry(rule.clone()).or_default().0.push(example(m)),
                (Some(m), None) => c.rules.entry(rule.clone()).or_default().1.push(example(m)),
                _ => {}
            }
        }
    }
    c
}

fn text(c: &Changes, examples: usize) -> String {
    let mut s = String::new();
    let changed: usize = c.statuses.values().map(Vec::len).sum();
    let _ = writeln!(s, "shenhe diff: {} submissions judged by both rule sets; {changed} change status.", c.judged);
    if !c.statuses.is_empty() {
        let _ = writeln!(s, "\nStatus changes (old → new):");
        for ((a, b), sources) in &c.statuses {
            let shown: Vec<&str> = sources.iter().take(examples).map(String::as_str).collect();
            let more = if sources.len() > examples { ", …" } else { "" };
            let _ = writeln!(s, "  {a} → {b}: {}   e.g. {}{more}", sources.len(), shown.join(", "));
        }
    }
    if !c.rules.is_empty() {
        let _ = writeln!(s, "\nFindings per rule (+ appear with the new rules, − disappear):");
        for (rule, (plus, minus)) in &c.rules {
            let _ = writeln!(s, "  {rule}: +{} −{}", plus.len(), minus.len());
            for (sign, list) in [("+", plus), ("−", minus)] {
                for e in list.iter().take(examples) {
                    let _ = writeln!(s, "      {sign} {} {}: {}", e.source, e.path, e.message);
                }
            }
        }
    }
    s
}

fn page(c: &Changes, o: &Options<'_>) -> String {
    let esc = html::esc;
    let changed: usize = c.statuses.values().map(Vec::len).sum();
    let mut s = String::from(
        "<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>规则变更影响 Impact of a rule change</title>\
         <style>body{font:15px/1.5 system-ui,sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;margin:1em 0}\
         td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}.plus{color:#c0392b}.minus{color:#1e8449}\
         code{font-size:90%}</style></head><body>\n",
    );
    let _ = writeln!(
        s,
        "<h1>规则变更影响 Impact of a rule change</h1>\n<p>旧规则 old: <code>{}</code>; 新规则 new: <code>{}</code>.</p>\n\
         <p>{} 份提交经两套规则审核，{changed} 份结论改变。{} submissions judged by both; {changed} change status.</p>",
        esc(&o.old.display().to_string()),
        esc(&o.new.display().to_string()),
        c.judged,
        c.judged
    );
    if !c.statuses.is_empty() {
        s.push_str("<h2>结论变化 Status changes</h2>\n<table><tr><th>旧 old</th><th>新 new</th><th>份数 count</th><th>示例 examples</th></tr>\n");
        for ((a, b), sources) in &c.statuses {
            let shown: Vec<String> = sources.iter().take(o.examples).map(|x| esc(x)).collect();
            let _ = writeln!(s, "<tr><td>{a}</td><td>{b}</td><td>{}</td><td>{}</td></tr>", sources.len(), shown.join("<br>"));
        }
        s.push_str("</table>\n");
    }
    if !c.rules.is_empty() {
        s.push_str(
            "<h2>各规则的发现 Findings per rule</h2>\n<table><tr><th>规则 rule</th><th>新增 appear</th><th>消失 disappear</th><th>示例 examples</th></tr>\n",
        );
        for (rule, (plus, minus)) in &c.rules {
            let mut ex = String::new();
            for (class, sign, list) in [("plus", "+", plus), ("minus", "−", minus)] {
                for e in list.iter().take(o.examples) {
                    let _ = write!(
                        ex,
                        "<div class=\"{class}\">{sign} {} <code>{}</code>: {}</div>",
                        esc(&e.source),
                        esc(&e.path),
                        esc(&e.message)
                    );
                }
            }
            let _ = writeln!(s, "<tr><td>{}</td><td>{}</td><td>{}</td><td>{ex}</td></tr>", esc(rule), plus.len(), minus.len());
        }
        s.push_str("</table>\n");
    }
    s.push_str("</body></html>\n");
    s
}

/// Runs the comparison. Exit code: 0 when nothing changes, 1 when something
/// does (as diff(1)), 2 when an input could not be read.
#[allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the listing is the command's output; unreadable inputs go to stderr"
)]
pub fn run(o: &Options<'_>) -> Result<ExitCode> {
    if o.files.iter().any(|f| f.as_os_str() == "-") {
        bail!("shenhe diff reads every input twice (once per rule set), so it cannot read stdin: save it to a .ndjson file");
    }
    if o.files.is_empty() && o.db.is_none() {
        bail!("nothing to compare: give submission files, or --db with a server's database");
    }
    let (old_rules, _) = load::load_rules(o.old).with_context(|| format!("--old {}", o.old.display()))?;
    let (new_rules, _) = load::load_rules(o.new).with_context(|| format!("--new {}", o.new.display()))?;
    let old = judge(&old_rules, o)?;
    let new = judge(&new_rules, o)?;
    for message in &new.bad {
        eprintln!("shenhe: {message}");
    }
    let changes = compare(old.seen, new.seen);
    match o.format {
        Format::Text => print!("{}", text(&changes, o.examples)),
        Format::Html => print!("{}", page(&changes, o)),
    }
    Ok(if !new.bad.is_empty() {
        ExitCode::from(2)
    } else if changes.statuses.is_empty() && changes.rules.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
