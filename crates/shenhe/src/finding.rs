//! What a script emitted with `fail(…)`, or how it failed, as a finding:
//! severity from the rule's header, messages from `messages.toml`.

use serde_json::{Map, Value, json};

use crate::{
    compile::{CompiledPack, RuleMeta},
    helpers::Emitted,
    pointer,
    report::{Finding, Severity, dynamic_to_json},
};

impl CompiledPack {
    pub(crate) fn finding(&self, rule: &RuleMeta, e: Emitted) -> Finding {
        let params = match dynamic_to_json(&e.params.into()) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let (severity, key) = match &e.variant {
            None => (rule.severity, rule.id.clone()),
            Some(v) => match rule.variants.get(v) {
                Some(s) => (*s, format!("{}.{v}", rule.id)),
                None => {
                    let detail = format!("fail() names variant {v:?}, which the header of {} does not declare", rule.file);
                    return self.engine_finding(&rule.id, "rule.runtime", &format!("规则使用了未声明的结果类型 {v}"), &detail, None, None);
                }
            },
        };
        if pointer::tokens(&e.path).is_none() {
            let detail = format!("fail() was given {:?}, which is not a JSON Pointer", e.path);
            return self.engine_finding(&rule.id, "rule.runtime", "规则给出的路径不是 JSON Pointer", &detail, None, None);
        }
        let (message, message_en) = self.messages.get(&key).map_or_else(
            || (format!("未通过规则（{}）", rule.id), format!("Rule failed ({})", rule.id)),
            |m| m.render(&rule.id, &params, &e.path, &self.source.labels),
        );
        Finding {
            rule: rule.id.clone(),
            severity,
            path: e.path,
            message,
            message_en,
            params,
            explained: false,
            variant: e.variant,
        }
    }

    pub(crate) fn engine_finding(&self, rule: &str, code: &str, zh: &str, en: &str, line: Option<usize>, column: Option<usize>) -> Finding {
        let mut params = Map::new();
        params.insert("rule".into(), json!(rule));
        params.insert("code".into(), json!(code));
        params.insert("detail".into(), json!(en));
        if let Some(l) = line {
            params.insert("line".into(), json!(l));
        }
        if let Some(c) = column {
            params.insert("column".into(), json!(c));
        }
        Finding {
            rule: "ENGINE".into(),
            severity: Severity::Error,
            path: String::new(),
            message: format!("规则 {rule} 无法完成审核：{zh}（ENGINE）"),
            message_en: format!("Rule {rule} could not be checked: {en} (ENGINE)"),
            params,
            explained: false,
            variant: None,
        }
    }
}
/// The finding when no pack matches the submission's form and policy.
pub(crate) fn pack_none(form: Option<&str>, policy: Option<&Map<String, Value>>, forced: Option<&str>) -> Finding {
    let get = |k: &str| policy.and_then(|p| p.get(k)).cloned().unwrap_or(Value::Null);
    let mut params = Map::new();
    params.insert("form".into(), form.map_or(Value::Null, |f| json!(f)));
    params.insert("program".into(), get("program"));
    params.insert("year".into(), get("year"));
    params.insert("region".into(), get("region"));
    params.insert("pack".into(), forced.map_or_else(|| get("pack"), |f| json!(f)));
    let show = |v: &Value| match v {
        Value::Null => "—".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let (f, pr, y, r, pk) = (
        show(&params["form"]),
        show(&params["program"]),
        show(&params["year"]),
        show(&params["region"]),
        show(&params["pack"]),
    );
    Finding {
        rule: "PACK-NONE".into(),
        severity: Severity::Error,
        path: if policy.is_some() { "/policy".into() } else { String::new() },
        message: format!("没有适用的规则包：表单 {f}，项目 {pr}，年度 {y}，地区 {r}，指定规则包 {pk}（PACK-NONE）"),
        message_en: format!("No rule pack matches: form {f}, program {pr}, year {y}, region {r}, pack {pk} (PACK-NONE)"),
        params,
        explained: false,
        variant: None,
    }
}

impl CompiledPack {
    /// What the pack's label catalogue lacks (issue 15): schema fields, enum
    /// codes, derived figures and rules without a label, and malformed
    /// labels. `shenhe test` fails a pack that lists any.
    #[must_use]
    pub fn label_problems(&self) -> Vec<String> {
        let labels = &self.source.labels;
        let mut problems = labels.malformed();
        problems.extend(
            labels
                .unlabelled_fields(&self.source.schema)
                .into_iter()
                .map(|p| format!("labels.toml [fields] has no label for the form's field {p:?}")),
        );
        problems.extend(
            labels
                .unlabelled_enum_codes(&self.source.schema)
                .into_iter()
                .map(|c| format!("labels.toml [codes] has no label for {c:?}, which schema.json allows")),
        );
        for d in &self.manifest.derived {
            if !labels.derived.contains_key(d) {
                problems.push(format!("labels.toml [derived] has no label for the derived figure {d:?}"));
            }
        }
        for r in self.rules().chain(self.batch_rules()) {
            if labels.rule(&r.id, false).is_none() {
                problems.push(format!("labels.toml [rules] has no title for {} ({})", r.id, r.file));
            }
        }
        problems
    }

    /// The codes a finding's message shows through `{x|code}` that the
    /// catalogue cannot name.
    #[must_use]
    pub fn unlabelled_codes(&self, rule: &str, variant: Option<&str>, params: &Map<String, Value>) -> Vec<String> {
        let key = variant.map_or_else(|| rule.to_owned(), |v| format!("{rule}.{v}"));
        self.messages.get(&key).map_or_else(Vec::new, |m| {
            let mut codes = crate::report::unlabelled_codes(&m.zh, params, &self.source.labels);
            codes.extend(crate::report::unlabelled_codes(&m.en, params, &self.source.labels));
            codes.sort();
            codes.dedup();
            codes
        })
    }
}

/// Finds what a clerk should never read in a message (issue 15): a field
/// name, a code or `true`/`false` where a label belongs. Built once per
/// pack; `shenhe test` runs it over the pack's parity corpus.
#[derive(Debug, Clone)]
pub struct MessageAudit {
    /// Property names of the schema, codes of the catalogue and the schema's
    /// enums, and `true`/`false`.
    raw: std::collections::BTreeSet<String>,
    /// Words of the English labels: a code that reads as English (`county`,
    /// whose label is "county level") may appear in `message_en`.
    english: std::collections::BTreeSet<String>,
}

fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| !w.is_empty())
}

impl MessageAudit {
    /// The words of `finding`'s zh-CN and English messages that are raw
    /// names or codes, as `zh: word` / `en: word`. `ENGINE` and `PACK-NONE`
    /// findings are exempt (their details are for operators), and so are the
    /// rule id and the unknown keys a SCHEMA finding quotes (what was sent).
    #[must_use]
    pub fn raw_words(&self, finding: &Finding) -> Vec<String> {
        self.raw_words_in(&finding.rule, &finding.message, &finding.message_en, &finding.params)
    }

    /// [`Self::raw_words`] for any finding's rule, messages and params (a
    /// batch finding's too).
    #[must_use]
    pub fn raw_words_in(&self, rule: &str, message: &str, message_en: &str, params: &Map<String, Value>) -> Vec<String> {
        if matches!(rule, "ENGINE" | "PACK-NONE") {
            return Vec::new();
        }
        let sent: Vec<&str> = params
            .get("unexpected")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let zh = message.strip_suffix(&format!("（{rule}）")).unwrap_or(message);
        let en = message_en.strip_suffix(&format!(" ({rule})")).unwrap_or(message_en);
        let mut out = Vec::new();
        for (lang, text) in [("zh", zh), ("en", en)] {
            for w in words(text) {
                let raw = self.raw.contains(w) && !sent.contains(&w);
                let reads_as_english = lang == "en" && self.english.contains(w) && !w.contains('_') && !matches!(w, "true" | "false");
                if raw && !reads_as_english {
                    out.push(format!("{lang}: {w}"));
                }
            }
        }
        out.dedup();
        out
    }
}

impl CompiledPack {
    /// The audit of this pack's messages (see [`MessageAudit`]).
    #[must_use]
    pub fn message_audit(&self) -> MessageAudit {
        fn properties(v: &Value, out: &mut std::collections::BTreeSet<String>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::Object(props)) = m.get("properties") {
                        out.extend(props.keys().cloned());
                    }
                    if let Some(Value::Array(options)) = m.get("enum") {
                        out.extend(options.iter().filter_map(Value::as_str).map(str::to_owned));
                    }
                    m.values().for_each(|x| properties(x, out));
                }
                Value::Array(a) => a.iter().for_each(|x| properties(x, out)),
                _ => {}
            }
        }
        let labels = &self.source.labels;
        let mut raw = std::collections::BTreeSet::new();
        properties(&self.source.schema, &mut raw);
        raw.extend(labels.codes.keys().cloned());
        raw.extend(["true".to_owned(), "false".to_owned()]);
        let mut english = std::collections::BTreeSet::new();
        let texts = [&labels.fields, &labels.codes, &labels.derived, &labels.rules, &labels.divisions]
            .into_iter()
            .flat_map(|m| m.values().map(|l| l.en.as_str()));
        for t in texts {
            english.extend(words(t).map(str::to_owned));
        }
        // A title level whose code is also plain English ("the log has none").
        english.insert("none".to_owned());
        MessageAudit { raw, english }
    }
}
