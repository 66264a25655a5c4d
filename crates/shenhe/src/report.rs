//! The report (contract Part A3): identical bytes natively and in wasm.

use rhai::Dynamic;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use crate::{labels::Labels, pointer::DocPosition};

/// The three audit classes of Chinese direct reporting (Part A2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// 强制性审核: the submission is rejected until fixed.
    Error,
    /// 核实性审核: may be submitted with an explanation (上报说明).
    Warning,
    /// 提示: shown and recorded.
    Info,
}

impl Severity {
    /// The name used in reports and rule headers.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Info => "info",
        }
    }

    /// Parses `error` / `warning` / `info`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "error" => Some(Self::Error),
            "warning" => Some(Self::Warning),
            "info" => Some(Self::Info),
            _ => None,
        }
    }
}

/// The verdict on a submission, computed from its findings (Part A2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// No error, and every warning has an explanation.
    Accepted,
    /// No error, but at least one warning lacks an explanation.
    NeedsExplanation,
    /// At least one error.
    Rejected,
}

impl Status {
    /// Computes the status from findings whose `explained` flags are set.
    #[must_use]
    pub fn of(findings: &[Finding]) -> Self {
        if findings.iter().any(|f| f.severity == Severity::Error) {
            Self::Rejected
        } else if findings.iter().any(|f| f.severity == Severity::Warning && !f.explained) {
            Self::NeedsExplanation
        } else {
            Self::Accepted
        }
    }

    /// The name used in reports.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::NeedsExplanation => "needs_explanation",
            Self::Rejected => "rejected",
        }
    }
}

/// One finding. Field order is the serialised order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Rule id from the catalogue (`NT-01`), or `SCHEMA`, `ENGINE`, `PACK-NONE`.
    pub rule: String,
    /// Severity after the Part A2 mapping.
    pub severity: Severity,
    /// JSON Pointer into the submission, as deep as the data allows.
    pub path: String,
    /// zh-CN message, ending with the rule id in full-width brackets.
    pub message: String,
    /// English message, ending with the rule id in brackets.
    pub message_en: String,
    /// Named message parameters (thresholds and actual values).
    pub params: Map<String, Value>,
    /// A warning with a matching, non-blank explanation.
    pub explained: bool,
    /// Which outcome of the rule fired (`fail(path, "variant", …)`), or
    /// `None` for its default one. Not part of the report's bytes: fixtures
    /// and the mutation tester read it.
    #[serde(skip)]
    pub variant: Option<String>,
}

/// Identifies the pack a report was made with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackRef {
    /// Pack id, e.g. `national-medical-team-2024`.
    pub id: String,
    /// Pack version from its manifest.
    pub version: String,
    /// `sha256:` content hash of the compiled bundle.
    pub hash: String,
    /// The pack's edition (a year or policy window), when it has editions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edition: Option<String>,
}

/// The report on one submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The submission's `form`, or `null` if it has none.
    pub form: Option<String>,
    /// The pack that judged it; `null` with a `PACK-NONE` finding.
    pub pack: Option<PackRef>,
    /// The verdict.
    pub status: Status,
    /// Findings in document order, then by rule.
    pub findings: Vec<Finding>,
    /// Derived figures, in the order the manifest declares them.
    pub derived: Map<String, Value>,
}

impl Report {
    /// The canonical JSON bytes (compact). Every host prints exactly this.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// Number of findings of a severity.
    #[must_use]
    pub fn count(&self, severity: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == severity).count()
    }
}

/// Rounds to 4 decimal places, the precision of every decimal in a report.
#[must_use]
pub fn round4(x: f64) -> f64 {
    // Multiplication, rounding and division are exactly specified by IEEE 754,
    // so this gives the same bits on every target.
    let r = (x * 10_000.0).round() / 10_000.0;
    if r == 0.0 { 0.0 } else { r }
}

/// Converts a Rhai value to JSON: floats rounded to 4 places (non-finite →
/// `null`), maps with sorted keys (Rhai maps are ordered), anything that is not
/// data (functions, ranges) as its string form.
#[must_use]
pub fn dynamic_to_json(d: &Dynamic) -> Value {
    if d.is_unit() {
        return Value::Null;
    }
    if let Ok(b) = d.as_bool() {
        return Value::Bool(b);
    }
    if let Ok(i) = d.as_int() {
        return Value::Number(i.into());
    }
    if let Ok(f) = d.as_float() {
        return Number::from_f64(round4(f)).map_or(Value::Null, Value::Number);
    }
    if let Some(a) = d.read_lock::<rhai::Array>() {
        return Value::Array(a.iter().map(dynamic_to_json).collect());
    }
    if let Some(a) = d.read_lock::<crate::document::DocArray>() {
        return Value::Array(a.iter().map(|v| dynamic_to_json(&v)).collect());
    }
    if let Some(m) = d.read_lock::<crate::document::DocMap>() {
        return Value::Object(m.entries().map(|(k, v)| (k.to_owned(), dynamic_to_json(&v))).collect());
    }
    if let Some(m) = d.read_lock::<rhai::Map>() {
        return Value::Object(m.iter().map(|(k, v)| (k.to_string(), dynamic_to_json(v))).collect());
    }
    if let Ok(s) = d.clone().into_immutable_string() {
        return Value::String(s.to_string());
    }
    Value::String(d.to_string())
}

/// Renders a message parameter for text: strings bare, numbers as JSON, lists joined.
fn param_text(v: &Value, sep: &str) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(|x| param_text(x, sep)).collect::<Vec<_>>().join(sep),
        Value::Null => "—".to_owned(),
        other => other.to_string(),
    }
}

/// A parameter through a filter: `division` names division codes, `code`
/// labels codes, `field` names the field a JSON Pointer points at, `derived`
/// names a derived figure; booleans
/// always read 是/否 (`yesno` says so explicitly); lists are joined. Values
/// the catalogue cannot name stay as they are (they are what was typed).
fn filtered(v: &Value, filter: &str, sep: &str, english: bool, labels: &Labels) -> String {
    match (v, filter) {
        (Value::Array(a), _) => a.iter().map(|x| filtered(x, filter, sep, english, labels)).collect::<Vec<_>>().join(sep),
        (Value::String(code), "division") => labels.division_text(code, english),
        (Value::String(code), "code") => labels.code(code, english).map_or_else(|| code.clone(), str::to_owned),
        (Value::String(pointer), "field") => labels.field(pointer, english),
        (Value::String(name), "derived") => labels.derived(name, english).to_owned(),
        // A clerk never reads `true`/`false`, whatever the placeholder says.
        (Value::Bool(b), _) => match (b, english) {
            (true, false) => "是",
            (false, false) => "否",
            (true, true) => "yes",
            (false, true) => "no",
        }
        .to_owned(),
        (other, _) => param_text(other, sep),
    }
}

const FILTERS: [&str; 6] = ["", "division", "code", "field", "derived", "yesno"];

/// Fills `{name}` placeholders from `params`, through a filter when the
/// placeholder names one (`{name|code}`, see [`filtered`]); `{@path}` is the
/// finding's own field (`第2名医师的“门诊人次”`). Unknown names stay visible.
#[must_use]
pub fn render(template: &str, params: &Map<String, Value>, path: &str, labels: &Labels, english: bool) -> String {
    let sep = if english { ", " } else { "、" };
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let placeholder = after.find('}').map(|end| (end, after[..end].split_once('|').unwrap_or((&after[..end], ""))));
        match placeholder {
            Some((end, ("@path", ""))) => {
                out.push_str(&labels.field(path, english));
                rest = &after[end + 1..];
            }
            Some((end, (name, filter))) if params.contains_key(name) && FILTERS.contains(&filter) => {
                out.push_str(&filtered(&params[name], filter, sep, english, labels));
                rest = &after[end + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The codes a template shows through `{x|code}` that `labels` cannot name:
/// `shenhe test` fails a pack whose messages would show a raw code.
#[must_use]
pub fn unlabelled_codes(template: &str, params: &Map<String, Value>, labels: &Labels) -> Vec<String> {
    let mut missing = Vec::new();
    for piece in template.split('{').skip(1) {
        let Some((name, "code")) = piece.split_once('}').and_then(|(p, _)| p.split_once('|')) else {
            continue;
        };
        let mut stack: Vec<&Value> = params.get(name).into_iter().collect();
        while let Some(v) = stack.pop() {
            match v {
                Value::Array(a) => stack.extend(a),
                Value::String(c) if labels.code(c, false).is_none() => missing.push(c.clone()),
                _ => {}
            }
        }
    }
    missing
}

/// A message in both languages, from a pack's `messages.toml` or the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// zh-CN template.
    pub zh: String,
    /// English template.
    pub en: String,
}

impl Message {
    /// Renders both languages for a finding at `path` and appends the rule
    /// id: `…（NT-01）` / `… (NT-01)`.
    #[must_use]
    pub fn render(&self, rule: &str, params: &Map<String, Value>, path: &str, labels: &Labels) -> (String, String) {
        (
            format!("{}（{rule}）", render(&self.zh, params, path, labels, false)),
            format!("{} ({rule})", render(&self.en, params, path, labels, true)),
        )
    }
}

/// Marks explained warnings, sorts, and computes the status.
pub(crate) fn finish(pack: Option<PackRef>, submission: &Value, mut findings: Vec<Finding>, derived: Map<String, Value>) -> Report {
    let explanations: Vec<(&str, Option<&str>)> = submission
        .get("explanations")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter(|e| e.get("text").and_then(Value::as_str).is_some_and(|t| !t.trim().is_empty()))
                .filter_map(|e| Some((e.get("rule")?.as_str()?, e.get("path").and_then(Value::as_str))))
                .collect()
        })
        .unwrap_or_default();
    for f in &mut findings {
        // A2: an explanation covers its rule's warnings at its path or inside it.
        f.explained = f.severity == Severity::Warning
            && explanations
                .iter()
                .any(|(rule, path)| *rule == f.rule && path.is_none_or(|p| crate::pointer::covers(p, &f.path)));
    }
    let mut keyed: Vec<(DocPosition, Finding)> = findings.into_iter().map(|f| (DocPosition::of(submission, &f.path), f)).collect();
    keyed.sort_by(|(pa, a), (pb, b)| {
        pa.cmp(pb)
            .then_with(|| a.rule.cmp(&b.rule))
            .then_with(|| a.severity.cmp(&b.severity))
            .then_with(|| a.message.cmp(&b.message))
            .then_with(|| Value::Object(a.params.clone()).to_string().cmp(&Value::Object(b.params.clone()).to_string()))
    });
    let findings: Vec<Finding> = keyed.into_iter().map(|(_, f)| f).collect();
    let form = submission.get("form").and_then(Value::as_str).map(str::to_owned);
    Report {
        form,
        pack,
        status: Status::of(&findings),
        findings,
        derived,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn report_round4_is_stable() {
        assert!((round4(2.0 / 3.0) - 0.6667).abs() < f64::EPSILON);
        assert!((round4(0.123_45) - 0.1235).abs() < 1e-12 || (round4(0.123_45) - 0.1234).abs() < 1e-12);
        assert_eq!(round4(-0.000_01).to_string(), "0");
        assert_eq!(serde_json::to_string(&json!(round4(1.0 / 3.0))).unwrap(), "0.3333");
    }

    #[test]
    fn report_render_messages() {
        let params = json!({"min": 5, "actual": 4, "list": ["a", "b"]});
        let params = params.as_object().unwrap();
        let m = Message {
            zh: "每支国家医疗队不少于{min}人，本队{actual}人".into(),
            en: "at least {min}; has {actual}; {list}; {unknown}".into(),
        };
        let (zh, en) = m.render("NT-01", params, "", &Labels::default());
        assert_eq!(zh, "每支国家医疗队不少于5人，本队4人（NT-01）");
        assert_eq!(en, "at least 5; has 4; a, b; {unknown} (NT-01)");
    }

    #[test]
    fn report_division_filter_names_provinces() {
        let m = Message {
            zh: "省份“{p|division}”不在名单内（{list|division}），{p}".into(),
            en: "province {p|division} not in ({list|division}); {other|division}".into(),
        };
        let params = serde_json::json!({"p": "44", "list": ["53", "XPCC", "532600"], "other": 7});
        let (zh, en) = m.render("NT-11", params.as_object().unwrap(), "", &Labels::default());
        assert_eq!(
            zh,
            "省份“广东省（44）”不在名单内（云南省（53）、新疆生产建设兵团（XPCC）、532600），44（NT-11）"
        );
        assert_eq!(
            en,
            "province Guangdong (44) not in (Yunnan (53), Xinjiang Production and Construction Corps (XPCC), 532600); 7 (NT-11)"
        );
    }

    #[test]
    fn report_filters_show_labels_not_codes() {
        let mut labels = Labels::default();
        let l = |zh: &str, en: &str| crate::labels::Label { zh: zh.into(), en: en.into() };
        labels.codes.insert("provincial".into(), l("省级", "provincial"));
        labels.codes.insert("county".into(), l("县级", "county level"));
        labels.fields.insert("/sites".into(), l("工作地点", "sites"));
        labels.fields.insert("/sites/*".into(), l("第{n}个工作地点", "site {n}"));
        labels.fields.insert("/sites/*/level".into(), l("工作地点级别", "site level"));
        labels.divisions.insert("532624".into(), l("麻栗坡县", "Malipo County"));
        let m = Message {
            zh: "{@path}为“{actual|code}”，应为{allowed|code}；{other|code}；{flag|yesno}，{on}；{at|field}；{county|division}".into(),
            en: "{@path} is {actual|code}, not {allowed|code}; {other|code}; {flag|yesno}, {on}; {at|field}; {county|division}".into(),
        };
        let params = json!({
            "actual": "provincial", "allowed": ["county"], "other": "typed text",
            "flag": false, "on": true, "at": "/sites/0", "county": "532624"
        });
        let params = params.as_object().unwrap();
        let (zh, en) = m.render("NT-09", params, "/sites/2/level", &labels);
        assert_eq!(
            zh,
            "第3个工作地点的“工作地点级别”为“省级”，应为县级；typed text；否，是；第1个工作地点；麻栗坡县（532624）（NT-09）"
        );
        assert_eq!(
            en,
            "\"site level\" of site 3 is provincial, not county level; typed text; no, yes; site 1; Malipo County (532624) (NT-09)"
        );
        assert_eq!(unlabelled_codes(&m.zh, params, &labels), vec!["typed text".to_owned()]);
    }

    #[test]
    fn report_status_from_findings() {
        let f = |severity, explained| Finding {
            rule: "X".into(),
            severity,
            path: String::new(),
            message: String::new(),
            message_en: String::new(),
            params: Map::new(),
            explained,
            variant: None,
        };
        assert_eq!(Status::of(&[]), Status::Accepted);
        assert_eq!(Status::of(&[f(Severity::Info, false)]), Status::Accepted);
        assert_eq!(Status::of(&[f(Severity::Warning, true)]), Status::Accepted);
        assert_eq!(Status::of(&[f(Severity::Warning, false)]), Status::NeedsExplanation);
        assert_eq!(Status::of(&[f(Severity::Warning, true), f(Severity::Error, false)]), Status::Rejected);
    }
}
