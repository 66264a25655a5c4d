//! A batch: many submissions judged together (an NDJSON stream, a county's
//! spreadsheet). Each submission keeps its own report; the batch report adds
//! the cross-record rules (QZ-06, NT-15, the coverage roll-ups of WH-09 and
//! QZ-03), counts per rule and per jurisdiction, and the pack's roll-ups of
//! derived figures. Records are folded in one at a time; what is kept per
//! record is small (its batch record, status and where it came from).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::{Finding, Report, RuleSet, Severity, Status, report::round4, sheet::SourceMap};

/// Format tag of the batch report.
pub const BATCH_FORMAT: &str = "shenhe-batch/1";

/// Worked examples kept for the summary (the first findings of each severity).
const EXAMPLES: usize = 200;

/// A finding of a cross-record rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchFinding {
    /// Rule id (`NT-15`), or `ENGINE`.
    pub rule: String,
    /// Severity.
    pub severity: Severity,
    /// The pack whose batch rule found it.
    pub pack: String,
    /// The record (its index in the batch), or `null` for the whole batch.
    pub record: Option<u64>,
    /// Where the record came from (`teams.ndjson:12`, `teams.xlsx Sheet1!3:7`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// JSON Pointer inside that record's submission.
    pub path: String,
    /// The spreadsheet cell of `path`, when the record came from a sheet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell: Option<String>,
    /// zh-CN message.
    pub message: String,
    /// English message.
    pub message_en: String,
    /// Message parameters.
    pub params: Map<String, Value>,
    /// The outcome that fired, as in [`Finding::variant`] (not serialised).
    #[serde(skip)]
    pub variant: Option<String>,
}

impl BatchFinding {
    pub(crate) fn new(pack: &str, record: Option<u64>, path: String, f: Finding) -> Self {
        Self {
            rule: f.rule,
            severity: f.severity,
            pack: pack.to_owned(),
            record,
            source: None,
            path,
            cell: None,
            message: f.message,
            message_en: f.message_en,
            params: f.params,
            variant: f.variant,
        }
    }
}

/// Counts of the three statuses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatusCounts {
    /// Accepted.
    pub accepted: u64,
    /// Needs an explanation.
    pub needs_explanation: u64,
    /// Rejected.
    pub rejected: u64,
}

impl StatusCounts {
    fn add(&mut self, s: Status) {
        match s {
            Status::Accepted => self.accepted += 1,
            Status::NeedsExplanation => self.needs_explanation += 1,
            Status::Rejected => self.rejected += 1,
        }
    }
}

/// Findings of one rule over the batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleCount {
    /// Rule id.
    pub rule: String,
    /// Severity (a rule with variants of several severities has a row each).
    pub severity: Severity,
    /// Findings.
    pub findings: u64,
    /// Submissions with at least one such finding.
    pub submissions: u64,
}

/// One jurisdiction's line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct JurisdictionCount {
    /// The jurisdiction (province, district, recipient) the pack names.
    pub jurisdiction: String,
    /// Submissions.
    pub submissions: u64,
    /// Their statuses.
    pub status: StatusCounts,
    /// Error findings.
    pub errors: u64,
    /// Warning findings.
    pub warnings: u64,
}

/// A pack's share of the batch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PackTotals {
    /// Pack id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Version.
    pub version: String,
    /// Content hash.
    pub hash: String,
    /// Submissions it judged.
    pub submissions: u64,
    /// Their statuses.
    pub status: StatusCounts,
    /// Sums of the figures the pack's `[rollup] sum` lists.
    pub sum: Map<String, Value>,
    /// Means of the figures `[rollup] mean` lists, over submissions that have them.
    pub mean: Map<String, Value>,
}

/// A per-submission finding kept as an example for the summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Example {
    /// Where the submission came from.
    pub source: String,
    /// The cell, for sheets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell: Option<String>,
    /// Rule id.
    pub rule: String,
    /// Severity.
    pub severity: Severity,
    /// JSON Pointer.
    pub path: String,
    /// zh-CN message.
    pub message: String,
}

/// The batch report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchReport {
    /// Always [`BATCH_FORMAT`].
    pub format: &'static str,
    /// Submissions judged.
    pub submissions: u64,
    /// Inputs that could not be read as submissions (bad JSON lines).
    pub unreadable: u64,
    /// Statuses over the batch.
    pub status: StatusCounts,
    /// Per pack, with roll-ups; submissions no pack matched are under `null` id.
    pub packs: Vec<PackTotals>,
    /// Submissions no pack matched (`PACK-NONE`).
    pub unmatched: u64,
    /// Findings per rule, most frequent first (per-submission and batch rules).
    pub by_rule: Vec<RuleCount>,
    /// Per jurisdiction.
    pub by_jurisdiction: Vec<JurisdictionCount>,
    /// Findings of the cross-record rules.
    pub findings: Vec<BatchFinding>,
    /// The first per-submission errors and warnings, with their cells.
    pub examples: Vec<Example>,
}

impl BatchReport {
    /// Compact JSON.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

struct PackAcc {
    submissions: u64,
    status: StatusCounts,
    /// Totals of `[rollup] sum`, in its order.
    sums: Vec<f64>,
    /// Totals and counts of `[rollup] mean`, in its order.
    means: Vec<(f64, u64)>,
    /// Batch records as compact JSON (a few dozen bytes each, not a tree).
    records: Vec<String>,
}

/// Folds judged submissions into a batch report.
pub struct Batch<'r> {
    rules: &'r RuleSet,
    registry: Option<Value>,
    next: u64,
    unreadable: u64,
    unmatched: u64,
    status: StatusCounts,
    packs: BTreeMap<String, PackAcc>,
    by_rule: BTreeMap<(String, Severity), (u64, u64)>,
    by_jurisdiction: BTreeMap<String, JurisdictionCount>,
    sources: Vec<(String, Option<SourceMap>)>,
    examples: Vec<Example>,
}

/// A roll-up figure: rounded to 4 places; whole values as integers.
fn figure(x: f64) -> Value {
    crate::input::number_value(round4(x))
}

impl<'r> Batch<'r> {
    /// A new, empty batch over `rules`. `registry` is the caller's reference
    /// list for the coverage rules (an array of objects), if any.
    #[must_use]
    pub fn new(rules: &'r RuleSet, registry: Option<Value>) -> Self {
        Self {
            rules,
            registry,
            next: 0,
            unreadable: 0,
            unmatched: 0,
            status: StatusCounts::default(),
            packs: BTreeMap::new(),
            by_rule: BTreeMap::new(),
            by_jurisdiction: BTreeMap::new(),
            sources: Vec::new(),
            examples: Vec::new(),
        }
    }

    /// Counts an input that was not a submission.
    pub fn unreadable(&mut self) {
        self.unreadable += 1;
    }

    /// Adds a judged submission: its report, its batch record (from
    /// [`RuleSet::evaluate_for_batch`]), where it came from, and its cells.
    pub fn add(&mut self, source: String, report: &Report, record: Option<Value>, cells: Option<SourceMap>) {
        let index = self.next;
        self.next += 1;
        self.status.add(report.status);
        let mut record = match record {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let jurisdiction = record
            .get("jurisdiction")
            .map(|j| match j {
                Value::String(s) => s.clone(),
                Value::Null => "—".to_owned(),
                other => other.to_string(),
            })
            .unwrap_or_else(|| "—".to_owned());
        let j = self.by_jurisdiction.entry(jurisdiction.clone()).or_insert_with(|| JurisdictionCount {
            jurisdiction,
            ..JurisdictionCount::default()
        });
        j.submissions += 1;
        j.status.add(report.status);
        j.errors += report.count(Severity::Error) as u64;
        j.warnings += report.count(Severity::Warning) as u64;
        let mut seen: Vec<(&str, Severity)> = Vec::new();
        for f in &report.findings {
            let e = self.by_rule.entry((f.rule.clone(), f.severity)).or_insert((0, 0));
            e.0 += 1;
            if !seen.contains(&(f.rule.as_str(), f.severity)) {
                seen.push((f.rule.as_str(), f.severity));
                e.1 += 1;
            }
            if f.severity != Severity::Info && !f.explained && self.examples.len() < EXAMPLES {
                self.examples.push(Example {
                    source: source.clone(),
                    cell: cells.as_ref().map(|c| c.cite(&f.path)),
                    rule: f.rule.clone(),
                    severity: f.severity,
                    path: f.path.clone(),
                    message: f.message.clone(),
                });
            }
        }
        // The pack always is in `rules`: the report was made with them.
        let rules = self.rules;
        match report.pack.as_ref().and_then(|p| rules.pack(&p.id).map(|c| (p, c))) {
            Some((p, pack)) => {
                let rollup = &pack.manifest().rollup;
                let acc = self.packs.entry(p.id.clone()).or_insert_with(|| PackAcc {
                    submissions: 0,
                    status: StatusCounts::default(),
                    sums: vec![0.0; rollup.sum.len()],
                    means: vec![(0.0, 0); rollup.mean.len()],
                    records: Vec::new(),
                });
                acc.submissions += 1;
                acc.status.add(report.status);
                let figure_of = |name: &String| report.derived.get(name).and_then(Value::as_f64);
                for (total, name) in acc.sums.iter_mut().zip(&rollup.sum) {
                    *total += figure_of(name).unwrap_or(0.0);
                }
                for ((total, n), name) in acc.means.iter_mut().zip(&rollup.mean) {
                    if let Some(x) = figure_of(name) {
                        *total += x;
                        *n += 1;
                    }
                }
                if pack.batch_rules().next().is_some() {
                    record.insert("index".into(), Value::from(index));
                    record.insert("status".into(), Value::from(report.status.as_str()));
                    acc.records.push(Value::Object(record).to_string());
                }
            }
            None => self.unmatched += 1,
        }
        self.sources.push((source, cells.map(SourceMap::header_only)));
    }

    /// Runs the cross-record rules and returns the batch report.
    #[must_use]
    pub fn finish(self) -> BatchReport {
        let mut findings = Vec::new();
        let mut packs = Vec::new();
        let mut by_rule = self.by_rule;
        for (id, acc) in &self.packs {
            let Some(pack) = self.rules.pack(id) else { continue };
            let records = acc.records.iter().map(|r| serde_json::from_str(r).unwrap_or(Value::Null));
            for mut f in pack.run_batch(records, self.registry.as_ref()) {
                if let Some((source, cells)) = f.record.and_then(|i| usize::try_from(i).ok()).and_then(|i| self.sources.get(i)) {
                    f.source = Some(match cells {
                        Some(c) => format!("{source} {}", c.rows_ref()),
                        None => source.clone(),
                    });
                    f.cell = cells.as_ref().map(|c| c.cite(&f.path));
                }
                let e = by_rule.entry((f.rule.clone(), f.severity)).or_insert((0, 0));
                e.0 += 1;
                e.1 += u64::from(f.record.is_some());
                findings.push(f);
            }
            let m = pack.manifest();
            packs.push(PackTotals {
                id: id.clone(),
                title: m.title.clone(),
                version: m.version.clone(),
                hash: pack.hash().to_owned(),
                submissions: acc.submissions,
                status: acc.status,
                sum: m.rollup.sum.iter().cloned().zip(acc.sums.iter().map(|t| figure(*t))).collect(),
                mean: m
                    .rollup
                    .mean
                    .iter()
                    .cloned()
                    .zip(acc.means.iter().map(|(total, n)| {
                        #[allow(clippy::cast_precision_loss, reason = "a count of submissions")]
                        if *n > 0 { figure(total / *n as f64) } else { Value::Null }
                    }))
                    .collect(),
            });
        }
        let mut by_rule: Vec<RuleCount> = by_rule
            .into_iter()
            .map(|((rule, severity), (findings, submissions))| RuleCount {
                rule,
                severity,
                findings,
                submissions,
            })
            .collect();
        by_rule.sort_by(|a, b| {
            b.findings
                .cmp(&a.findings)
                .then_with(|| a.rule.cmp(&b.rule))
                .then_with(|| a.severity.cmp(&b.severity))
        });
        let mut by_jurisdiction: Vec<JurisdictionCount> = self.by_jurisdiction.into_values().collect();
        by_jurisdiction.sort_by(|a, b| b.submissions.cmp(&a.submissions).then_with(|| a.jurisdiction.cmp(&b.jurisdiction)));
        BatchReport {
            format: BATCH_FORMAT,
            submissions: self.next,
            unreadable: self.unreadable,
            status: self.status,
            packs,
            unmatched: self.unmatched,
            by_rule,
            by_jurisdiction,
            findings,
            examples: self.examples,
        }
    }
}
