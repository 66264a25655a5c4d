//! Rule-pack fixtures: a submission (inline, or a base file plus a JSON Patch)
//! and what its report must contain. Used by `shenhe test` and the test suite.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::{Report, RuleSet, Severity, Status};

/// A finding the report must contain.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedFinding {
    /// Rule id.
    pub rule: String,
    /// Batch cases only: the record (0-based index in `submissions`), or
    /// absent for a finding about the whole batch.
    #[serde(default)]
    pub record: Option<u64>,
    /// Exact path, if given.
    #[serde(default)]
    pub path: Option<String>,
    /// Severity, if given.
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Parameters that must be present with these values, if given.
    #[serde(default)]
    pub params: Option<Map<String, Value>>,
    /// The outcome that must have fired: a variant the rule's header
    /// declares. Absent or `null` means the rule's default outcome, so a case
    /// always says which outcome it expects.
    #[serde(default)]
    pub variant: Option<String>,
    /// Text the zh-CN message must contain, if given.
    #[serde(default)]
    pub message: Option<String>,
    /// Text the English message must contain, if given.
    #[serde(default)]
    pub message_en: Option<String>,
}

/// What the report must look like. Every part is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The status.
    #[serde(default)]
    pub status: Option<Status>,
    /// Findings that must be present.
    #[serde(default)]
    pub findings: Vec<ExpectedFinding>,
    /// Rule ids that must not appear at all.
    #[serde(default)]
    pub absent: Vec<String>,
    /// When true, `findings` is the complete list (no other finding allowed).
    #[serde(default)]
    pub exact: bool,
    /// Derived figures that must have these values.
    #[serde(default)]
    pub derived: Map<String, Value>,
}

/// One fixture case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Unique name, e.g. `nt01/four_members_fires`.
    pub name: String,
    /// What the case shows.
    #[serde(default)]
    pub description: String,
    /// A base submission file, relative to the pack's `tests/` directory.
    #[serde(default)]
    pub base: Option<String>,
    /// The submission itself (instead of `base`).
    #[serde(default)]
    pub submission: Option<Value>,
    /// RFC 6902 operations applied to the base.
    #[serde(default)]
    pub patch: Option<json_patch::Patch>,
    /// Force this pack id instead of matching on `policy`.
    #[serde(default)]
    pub pack: Option<String>,
    /// The expectation.
    pub expect: Expect,
}

/// Parses a fixture file: one case, or an array of cases.
pub fn parse_cases(text: &str) -> Result<Vec<Case>, String> {
    one_or_many(text)
}

fn one_or_many<T: serde::de::DeserializeOwned>(text: &str) -> Result<Vec<T>, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("line {}, column {}: {e}", e.line(), e.column()))?;
    let cases = if v.is_array() {
        serde_json::from_value(v)
    } else {
        serde_json::from_value(v).map(|c| vec![c])
    };
    cases.map_err(|e| e.to_string())
}

/// The outcome of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The case name.
    pub name: String,
    /// Every mismatch; empty when the case passed.
    pub failures: Vec<String>,
    /// The report, when the submission could be built.
    pub report: Option<Report>,
}

impl CaseResult {
    /// True when nothing mismatched.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Builds the case's submission from `base` (looked up with `load_base`) and `patch`.
pub fn build_submission(case: &Case, load_base: &dyn Fn(&str) -> Result<Value, String>) -> Result<Value, String> {
    build_doc(case.base.as_deref(), case.submission.as_ref(), case.patch.as_ref(), load_base)
}

/// A submission given inline, or as a base file plus a JSON Patch (cases and batch items).
fn build_doc(
    base: Option<&str>,
    submission: Option<&Value>,
    patch: Option<&json_patch::Patch>,
    load_base: &dyn Fn(&str) -> Result<Value, String>,
) -> Result<Value, String> {
    let mut doc = match (submission, base) {
        (Some(s), None) => s.clone(),
        (None, Some(b)) => load_base(b)?,
        (Some(_), Some(_)) => return Err("give either `submission` or `base`, not both".into()),
        (None, None) => return Err("the case has neither `submission` nor `base`".into()),
    };
    if let Some(p) = patch {
        json_patch::patch(&mut doc, p).map_err(|e| format!("patch: {e}"))?;
    }
    Ok(doc)
}

fn finding_matches(f: &crate::Finding, e: &ExpectedFinding) -> bool {
    same_finding(
        (&f.rule, &f.path, f.severity, &f.params),
        (&e.rule, e.path.as_ref(), e.severity, e.params.as_ref()),
    ) && f.variant == e.variant
        && e.message.as_ref().is_none_or(|m| f.message.contains(m.as_str()))
        && e.message_en.as_ref().is_none_or(|m| f.message_en.contains(m.as_str()))
}

type Got<'a> = (&'a String, &'a String, Severity, &'a Map<String, Value>);
type Want<'a> = (&'a String, Option<&'a String>, Option<Severity>, Option<&'a Map<String, Value>>);

/// A finding against an expectation: the rule, and the path, severity and
/// parameters where the expectation gives them.
fn same_finding(got: Got<'_>, want: Want<'_>) -> bool {
    got.0 == want.0
        && want.1.is_none_or(|p| p == got.1)
        && want.2.is_none_or(|s| s == got.2)
        && want.3.is_none_or(|ps| ps.iter().all(|(k, v)| got.3.get(k) == Some(v)))
}

/// ` (variant x)` for an outcome other than the default one.
fn outcome(variant: Option<&String>) -> String {
    variant.map_or_else(String::new, |v| format!(" (variant {v})"))
}

fn describe(e: &ExpectedFinding) -> String {
    let mut s = e.rule.clone();
    s.push_str(&outcome(e.variant.as_ref()));
    if let Some(p) = &e.path {
        s.push_str(&format!(" at {p:?}"));
    }
    if let Some(sev) = e.severity {
        s.push_str(&format!(" ({})", sev.as_str()));
    }
    if let Some(ps) = &e.params {
        s.push_str(&format!(" with {}", Value::Object(ps.clone())));
    }
    for m in [&e.message, &e.message_en].into_iter().flatten() {
        s.push_str(&format!(" saying {m:?}"));
    }
    s
}

/// Checks a report against an expectation; returns every mismatch.
#[must_use]
pub fn check(report: &Report, expect: &Expect) -> Vec<String> {
    let mut failures = Vec::new();
    let got = || {
        report
            .findings
            .iter()
            .map(|f| format!("{}{} {} {:?}", f.rule, outcome(f.variant.as_ref()), f.severity.as_str(), f.path))
            .collect::<Vec<_>>()
            .join("; ")
    };
    if let Some(s) = expect.status
        && s != report.status
    {
        failures.push(format!("status: expected {}, got {} [findings: {}]", s.as_str(), report.status.as_str(), got()));
    }
    for e in &expect.findings {
        if !report.findings.iter().any(|f| finding_matches(f, e)) {
            failures.push(format!("missing finding {} [got: {}]", describe(e), got()));
        }
    }
    for rule in &expect.absent {
        for f in report.findings.iter().filter(|f| &f.rule == rule) {
            failures.push(format!("unexpected finding {} at {:?}: {}", f.rule, f.path, f.message));
        }
        // A rule that crashed did not fire, but it did not pass either.
        for f in report
            .findings
            .iter()
            .filter(|f| f.rule == "ENGINE" && f.params.get("rule").and_then(Value::as_str) == Some(rule))
        {
            failures.push(format!("{rule} could not run, so its absence proves nothing: {}", f.message_en));
        }
    }
    if expect.exact {
        for f in &report.findings {
            if !expect.findings.iter().any(|e| finding_matches(f, e)) {
                failures.push(format!("unexpected finding {} at {:?}: {}", f.rule, f.path, f.message));
            }
        }
    }
    for (k, v) in &expect.derived {
        let actual = report.derived.get(k);
        let same = match (actual, v) {
            (Some(Value::Number(a)), Value::Number(b)) => a.as_f64().zip(b.as_f64()).is_some_and(|(a, b)| (a - b).abs() < 5e-5),
            (Some(a), b) => a == b,
            (None, _) => false,
        };
        if !same {
            failures.push(format!(
                "derived {k}: expected {v}, got {}",
                actual.map_or("nothing".to_owned(), Value::to_string)
            ));
        }
    }
    failures
}

/// Runs one case.
#[must_use]
pub fn run_case(rules: &RuleSet, case: &Case, load_base: &dyn Fn(&str) -> Result<Value, String>) -> CaseResult {
    match build_submission(case, load_base) {
        Ok(doc) => {
            let report = rules.evaluate(&doc, case.pack.as_deref());
            let mut failures = check(&report, &case.expect);
            if let Some(pack) = report.pack.as_ref().and_then(|p| rules.pack(&p.id)) {
                for f in &report.findings {
                    failures.extend(unlabelled(pack, &f.rule, f.variant.as_deref(), &f.params));
                }
            }
            CaseResult {
                name: case.name.clone(),
                failures,
                report: Some(report),
            }
        }
        Err(e) => CaseResult {
            name: case.name.clone(),
            failures: vec![e],
            report: None,
        },
    }
}

/// A failure for every code a finding's message would show raw.
fn unlabelled(pack: &crate::CompiledPack, rule: &str, variant: Option<&str>, params: &serde_json::Map<String, Value>) -> Vec<String> {
    pack.unlabelled_codes(rule, variant, params)
        .into_iter()
        .map(|c| format!("the message of {rule} shows the code {c:?}, which labels.toml [codes] does not name"))
        .collect()
}

/// Every path of a JSON document (objects in written order, arrays by index),
/// parents before children.
#[must_use]
pub fn all_paths(doc: &Value) -> Vec<String> {
    fn walk(v: &Value, prefix: &str, out: &mut Vec<String>) {
        let children: Vec<(String, &Value)> = match v {
            Value::Object(m) => m.iter().map(|(k, x)| (k.clone(), x)).collect(),
            Value::Array(a) => a.iter().enumerate().map(|(i, x)| (i.to_string(), x)).collect(),
            _ => return,
        };
        for (token, x) in children {
            let mut p = format!("{prefix}/");
            crate::pointer::escape_into(&mut p, &token);
            out.push(p.clone());
            walk(x, &p, out);
        }
    }
    let mut out = Vec::new();
    walk(doc, "", &mut out);
    out
}

/// The replacements a broken submission is made of: every value replaced by
/// a string, `null`, an object, an array, a negative decimal, a boolean.
#[must_use]
pub fn broken_values() -> Vec<Value> {
    vec![json!("x"), Value::Null, json!({}), json!([]), json!(-1.5), json!(true)]
}

/// Replacements that probe number formatting and text handling, where a
/// browser and a server could disagree.
#[must_use]
pub fn parity_values() -> Vec<Value> {
    vec![
        json!(0.1),
        json!(1e21),
        json!(123_456_789.123_456_78),
        json!(9_007_199_254_740_993_u64),
        json!(-0.0),
        json!(2.5e-7),
        json!("１２３"),
        json!("2024-02-30"),
        json!("\u{1F600}😀"),
        json!(""),
    ]
}

/// Mutations of `doc`: at every path, the member removed, then each of
/// `values` in its place. Yields `(path, what, mutated document)`.
pub fn mutations<'a>(doc: &'a Value, values: &'a [Value]) -> impl Iterator<Item = (String, String, Value)> + 'a {
    all_paths(doc).into_iter().flat_map(move |p| {
        let removed = {
            let mut d = doc.clone();
            let (parent, key) = p.rsplit_once('/').unwrap_or(("", ""));
            let key = crate::pointer::unescape(key);
            match d.pointer_mut(parent) {
                Some(Value::Object(m)) => {
                    m.shift_remove(&key);
                }
                Some(Value::Array(a)) => {
                    if let Ok(i) = key.parse::<usize>()
                        && i < a.len()
                    {
                        a.remove(i);
                    }
                }
                _ => {}
            }
            (p.clone(), "removed".to_owned(), d)
        };
        let replaced = values.iter().map(move |v| {
            let mut d = doc.clone();
            if let Some(slot) = d.pointer_mut(&p) {
                *slot = v.clone();
            }
            (p.clone(), v.to_string(), d)
        });
        std::iter::once(removed).chain(replaced)
    })
}

/// One submission of a batch case: inline, or a base plus a patch.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchItem {
    /// A base submission file, relative to `tests/`.
    #[serde(default)]
    pub base: Option<String>,
    /// The submission itself.
    #[serde(default)]
    pub submission: Option<Value>,
    /// RFC 6902 operations applied to the base.
    #[serde(default)]
    pub patch: Option<json_patch::Patch>,
}

/// What the cross-record findings must be.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchExpect {
    /// Findings that must be present.
    #[serde(default)]
    pub findings: Vec<ExpectedFinding>,
    /// When true, `findings` is the complete list.
    #[serde(default)]
    pub exact: bool,
}

/// A batch fixture (`tests/batch/*.json`): several submissions judged
/// together, with an optional registry, and the cross-record findings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchCase {
    /// Unique name.
    pub name: String,
    /// What the case shows.
    #[serde(default)]
    pub description: String,
    /// The reference list the coverage rules read (`--registry`).
    #[serde(default)]
    pub registry: Option<Value>,
    /// The submissions, in batch order.
    pub submissions: Vec<BatchItem>,
    /// The expectation.
    pub expect: BatchExpect,
}

/// Parses a batch fixture file: one case or an array of cases.
pub fn parse_batch_cases(text: &str) -> Result<Vec<BatchCase>, String> {
    one_or_many(text)
}

fn batch_matches(f: &crate::batch::BatchFinding, e: &ExpectedFinding) -> bool {
    f.record == e.record
        && f.variant == e.variant
        && e.message.as_ref().is_none_or(|m| f.message.contains(m.as_str()))
        && e.message_en.as_ref().is_none_or(|m| f.message_en.contains(m.as_str()))
        && same_finding(
            (&f.rule, &f.path, f.severity, &f.params),
            (&e.rule, e.path.as_ref(), e.severity, e.params.as_ref()),
        )
}

/// Runs one batch case; the failures list is empty when it passed. Also
/// returns the batch findings, for coverage counting.
#[must_use]
pub fn run_batch_case(rules: &RuleSet, case: &BatchCase, load_base: &dyn Fn(&str) -> Result<Value, String>) -> (Vec<String>, Vec<crate::batch::BatchFinding>) {
    let mut batch = crate::batch::Batch::new(rules, case.registry.clone());
    for (i, item) in case.submissions.iter().enumerate() {
        match build_doc(item.base.as_deref(), item.submission.as_ref(), item.patch.as_ref(), load_base) {
            Ok(doc) => {
                let (report, record) = rules.evaluate_for_batch(&doc, None);
                batch.add(format!("#{i}"), &report, record, None);
            }
            Err(e) => return (vec![format!("submission {i}: {e}")], Vec::new()),
        }
    }
    let report = batch.finish();
    let got = || {
        report
            .findings
            .iter()
            .map(|f| {
                format!(
                    "{}{} {} record {:?} {:?}",
                    f.rule,
                    outcome(f.variant.as_ref()),
                    f.severity.as_str(),
                    f.record,
                    f.path
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let mut failures = Vec::new();
    for f in &report.findings {
        if let Some(pack) = rules.pack(&f.pack) {
            failures.extend(unlabelled(pack, &f.rule, f.variant.as_deref(), &f.params));
        }
    }
    for e in &case.expect.findings {
        if !report.findings.iter().any(|f| batch_matches(f, e)) {
            failures.push(format!("missing batch finding {} record {:?} [got: {}]", e.rule, e.record, got()));
        }
    }
    if case.expect.exact {
        for f in &report.findings {
            if !case.expect.findings.iter().any(|e| batch_matches(f, e)) {
                failures.push(format!(
                    "unexpected batch finding {} record {:?} at {:?}: {}",
                    f.rule, f.record, f.path, f.message
                ));
            }
        }
    }
    (failures, report.findings)
}

/// A pack's fixtures, parsed once from its `tests/` files, given as (path
/// relative to `tests/`, text): every `*.json` at the top holds cases, every
/// `batch/*.json` batch cases, and every JSON file is a base a case may name
/// (`base/summary.json`), parsed once. `shenhe test`, `shenhe test --mutate`
/// and the playground all read fixtures through this.
#[derive(Debug, Clone, Default)]
pub struct Suite {
    /// The cases, each with its file.
    pub cases: Vec<(String, Case)>,
    /// The batch cases, each with its file.
    pub batch: Vec<(String, BatchCase)>,
    bases: std::collections::BTreeMap<String, Result<Value, String>>,
}

impl Suite {
    /// Parses the files, in path order.
    ///
    /// # Errors
    /// The first fixture file that does not parse, as `file: why`.
    pub fn parse<'a>(tests: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, String> {
        let mut suite = Self::default();
        let mut files: Vec<(&str, &str)> = tests.into_iter().filter(|(f, _)| f.ends_with(".json")).collect();
        files.sort_unstable();
        for (file, text) in files {
            if !file.contains('/') {
                let cases = parse_cases(text).map_err(|e| format!("{file}: {e}"))?;
                suite.cases.extend(cases.into_iter().map(|c| (file.to_owned(), c)));
            } else if file.strip_prefix("batch/").is_some_and(|f| !f.contains('/')) {
                let cases = parse_batch_cases(text).map_err(|e| format!("{file}: {e}"))?;
                suite.batch.extend(cases.into_iter().map(|c| (file.to_owned(), c)));
            }
            let base = serde_json::from_str(text).map_err(|e| format!("tests/{file}: {e}"));
            suite.bases.insert(file.to_owned(), base);
        }
        Ok(suite)
    }

    /// The parity corpus of one pack: every case's submission, then every
    /// base (`base/*.json`) mutated at every path (removed, or replaced by
    /// each of `values`), evenly thinned to at most `per_base` per base.
    /// Named `fixture CASE` and `BASE PATH := WHAT`.
    #[must_use]
    pub fn corpus(&self, values: &[Value], per_base: usize) -> Vec<(String, Value)> {
        let load = |n: &str| self.base(n);
        let mut out: Vec<(String, Value)> = self
            .cases
            .iter()
            .filter_map(|(_, case)| Some((format!("fixture {}", case.name), build_submission(case, &load).ok()?)))
            .collect();
        for (file, doc) in &self.bases {
            let (Some(name), Ok(doc)) = (file.strip_prefix("base/").filter(|n| !n.contains('/')), doc) else {
                continue;
            };
            // Every path of a small base; an even spread over a large one.
            let total = all_paths(doc).len() * (values.len() + 1);
            let stride = total.div_ceil(per_base.max(1)).max(1);
            out.extend(
                mutations(doc, values)
                    .step_by(stride)
                    .map(|(path, what, sub)| (format!("{name} {path} := {what}"), sub)),
            );
        }
        out
    }

    /// The base submission `name` (relative to `tests/`).
    ///
    /// # Errors
    /// When there is no such file or it is not JSON.
    pub fn base(&self, name: &str) -> Result<Value, String> {
        self.bases.get(name).cloned().unwrap_or_else(|| Err(format!("tests/{name}: no such file")))
    }
}

/// What one case of a pack's fixtures gave (the playground lists these).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    /// The fixture file, relative to `tests/` (`nt01_team_size.json`, `batch/…`).
    pub file: String,
    /// The case name.
    pub name: String,
    /// Every mismatch; empty when the case passed.
    pub failures: Vec<String>,
}

/// Runs every case of a pack's fixtures (its `tests/` files, as
/// [`Suite::parse`] takes them); a fixture file that does not parse is one
/// failed outcome.
#[must_use]
pub fn run_tests(rules: &RuleSet, tests: &std::collections::BTreeMap<String, String>) -> Vec<Outcome> {
    let suite = match Suite::parse(tests.iter().map(|(f, t)| (f.as_str(), t.as_str()))) {
        Ok(s) => s,
        Err(e) => {
            return vec![Outcome {
                file: e.split_once(':').map_or_else(String::new, |(f, _)| f.to_owned()),
                name: "(fixture files)".into(),
                failures: vec![e],
            }];
        }
    };
    let load = |n: &str| suite.base(n);
    let cases = suite.cases.iter().map(|(file, c)| Outcome {
        file: file.clone(),
        name: c.name.clone(),
        failures: run_case(rules, c, &load).failures,
    });
    let batch = suite.batch.iter().map(|(file, c)| Outcome {
        file: file.clone(),
        name: c.name.clone(),
        failures: run_batch_case(rules, c, &load).0,
    });
    cases.chain(batch).collect()
}
