//! Labels (issue 15): what a clerk reads instead of field names and codes.
//!
//! A pack's `labels.toml` (and the shared vocabularies it imports from
//! `rules/_shared/labels/`) names, in zh-CN and English, every field path of
//! its form, every enumerated code, every derived figure, every rule, and the
//! divisions below province level that its notice names. Messages render with
//! them (`{@path}`, `{x|field}`, `{x|code}`, `{x|yesno}`, `{x|division}`),
//! and so do the SCHEMA findings; `params` keep the raw values.
//!
//! Field keys are JSON Pointers with `*` for an array item (or a value of a
//! map with free keys): `/doctors/*/outpatient_visits`. The label of an item
//! itself (`/doctors/*`) names one row and holds `{n}`, its 1-based number.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A label in both languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Label {
    /// zh-CN.
    pub zh: String,
    /// English.
    pub en: String,
}

impl Label {
    fn get(&self, english: bool) -> &str {
        if english { &self.en } else { &self.zh }
    }
}

/// A pack's label catalogue: its own `labels.toml` merged with the shared
/// vocabularies it imports. Serialised into the bundle, so its hash covers it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Labels {
    /// Field path (`*` for array items) → label.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, Label>,
    /// Enumerated code → label.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub codes: BTreeMap<String, Label>,
    /// Derived figure → label.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub derived: BTreeMap<String, Label>,
    /// Rule id → title.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rules: BTreeMap<String, Label>,
    /// Division code below province level → name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub divisions: BTreeMap<String, Label>,
}

impl Labels {
    /// Whether the pack has no labels at all (older bundles).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.codes.is_empty() && self.derived.is_empty() && self.rules.is_empty() && self.divisions.is_empty()
    }

    /// Adds `other` (one file's tables); a key defined twice is an error
    /// naming the table and the key, so one vocabulary has one meaning.
    ///
    /// # Errors
    /// The first key that both define.
    pub fn merge(&mut self, other: Self) -> Result<(), String> {
        for (table, mine, theirs) in [
            ("fields", &mut self.fields, other.fields),
            ("codes", &mut self.codes, other.codes),
            ("derived", &mut self.derived, other.derived),
            ("rules", &mut self.rules, other.rules),
            ("divisions", &mut self.divisions, other.divisions),
        ] {
            for (k, v) in theirs {
                if mine.contains_key(&k) {
                    return Err(format!(
                        "[{table}] {k:?} is defined twice (in this file and in another labels file of the pack)"
                    ));
                }
                mine.insert(k, v);
            }
        }
        Ok(())
    }

    /// The label of a code, if the catalogue has one.
    #[must_use]
    pub fn code(&self, code: &str, english: bool) -> Option<&str> {
        self.codes.get(code).map(|l| l.get(english))
    }

    /// The label of a derived figure, or its name.
    #[must_use]
    pub fn derived<'a>(&'a self, name: &'a str, english: bool) -> &'a str {
        self.derived.get(name).map_or(name, |l| l.get(english))
    }

    /// The title of a rule, if the catalogue has one.
    #[must_use]
    pub fn rule(&self, id: &str, english: bool) -> Option<&str> {
        self.rules.get(id).map(|l| l.get(english))
    }

    /// The name of a division code: the pack's own names first, then the
    /// provinces that ship with the engine.
    #[must_use]
    pub fn division(&self, code: &str, english: bool) -> Option<&str> {
        self.divisions
            .get(code)
            .map(|l| l.get(english))
            .or_else(|| crate::division::province_name(code, english))
    }

    /// A division code as people read it: `云南省（53）`, `Yunnan (53)`, or
    /// the code where no name is known.
    #[must_use]
    pub fn division_text(&self, code: &str, english: bool) -> String {
        match self.division(code, english) {
            Some(name) if english => format!("{name} ({code})"),
            Some(name) => format!("{name}（{code}）"),
            None => code.to_owned(),
        }
    }

    /// The field a JSON Pointer names, with the rows it lies in:
    /// `第2名医师的“门诊人次”`, `"outpatient visits" of doctor 2`; the root
    /// is 表单 / the form. Tokens without a label are shown as they are, so
    /// a key the form does not define still reads as what was sent.
    #[must_use]
    pub fn field(&self, pointer: &str, english: bool) -> String {
        let Some(tokens) = crate::pointer::tokens(pointer) else {
            return pointer.to_owned();
        };
        if tokens.is_empty() {
            return if english { "the form" } else { "表单" }.to_owned();
        }
        // The pattern of each prefix, with `*` for row numbers.
        let mut pattern = String::new();
        let mut rows: Vec<String> = Vec::new();
        let mut leaf: Option<String> = None;
        for (i, token) in tokens.iter().enumerate() {
            let last = i + 1 == tokens.len();
            if let Ok(index) = token.parse::<usize>() {
                pattern.push_str("/*");
                let n = (index + 1).to_string();
                let text = self.fields.get(&pattern).map_or_else(
                    || if english { format!("item {n}") } else { format!("第{n}项") },
                    |l| l.get(english).replace("{n}", &n),
                );
                if last {
                    leaf = Some(text);
                } else {
                    rows.push(text);
                }
            } else {
                let parent = pattern.len();
                pattern.push('/');
                pattern.push_str(&token.replace('~', "~0").replace('/', "~1"));
                if last {
                    // A key of a map with free keys (`county_flags/ethnic`) reads as its code.
                    let name = self
                        .fields
                        .get(&pattern)
                        .or_else(|| self.codes.get(token.as_str()))
                        .map_or_else(|| token.clone(), |l| l.get(english).to_owned());
                    leaf = Some(if english { format!("\"{name}\"") } else { format!("“{name}”") });
                } else if !self.fields.contains_key(&pattern) && self.fields.contains_key(&format!("{}/*", &pattern[..parent])) {
                    pattern.truncate(parent);
                    pattern.push_str("/*");
                }
            }
        }
        let leaf = leaf.unwrap_or_default();
        if rows.is_empty() {
            leaf
        } else if english {
            format!("{leaf} of {}", rows.iter().rev().cloned().collect::<Vec<_>>().join(" of "))
        } else {
            format!("{}的{leaf}", rows.join("的"))
        }
    }

    /// Field paths of `schema` (as label keys) that have no label.
    #[must_use]
    pub fn unlabelled_fields(&self, schema: &Value) -> Vec<String> {
        let mut paths = Vec::new();
        schema_paths(schema, schema, "", 0, &mut paths);
        paths.dedup();
        let mut missing: Vec<String> = paths.into_iter().filter(|p| !self.fields.contains_key(p)).collect();
        missing.sort();
        missing.dedup();
        missing
    }

    /// Row labels (`…/*`) without `{n}`, and labels with an empty text.
    #[must_use]
    pub fn malformed(&self) -> Vec<String> {
        let mut bad = Vec::new();
        for (table, map) in [
            ("fields", &self.fields),
            ("codes", &self.codes),
            ("derived", &self.derived),
            ("rules", &self.rules),
            ("divisions", &self.divisions),
        ] {
            for (k, l) in map {
                if l.zh.trim().is_empty() || l.en.trim().is_empty() {
                    bad.push(format!("[{table}] {k:?}: a label needs both zh and en text"));
                }
                if table == "fields" && k.ends_with("/*") && !(l.zh.contains("{n}") && l.en.contains("{n}")) {
                    bad.push(format!("[fields] {k:?}: a row label names one row and must contain {{n}} in zh and en"));
                }
            }
        }
        bad
    }

    /// The string codes of `schema`'s `enum`s that have no label.
    #[must_use]
    pub fn unlabelled_enum_codes(&self, schema: &Value) -> Vec<String> {
        let mut codes = Vec::new();
        enum_codes(schema, &mut codes);
        codes.sort();
        codes.dedup();
        codes.retain(|c| !self.codes.contains_key(c));
        codes
    }
}

/// Follows a local `$ref` (`#/$defs/org`).
fn resolve<'a>(root: &'a Value, mut s: &'a Value) -> &'a Value {
    for _ in 0..16 {
        match s.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
            Some(ptr) => match root.pointer(ptr) {
                Some(t) => s = t,
                None => break,
            },
            None => break,
        }
    }
    s
}

fn schema_paths(root: &Value, s: &Value, path: &str, depth: usize, out: &mut Vec<String>) {
    let s = resolve(root, s);
    if depth > 16 {
        return;
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        for sub in s.get(key).and_then(Value::as_array).into_iter().flatten() {
            schema_paths(root, sub, path, depth + 1, out);
        }
    }
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        for (k, sub) in props {
            let p = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
            out.push(p.clone());
            schema_paths(root, sub, &p, depth + 1, out);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(sub) = s.get(key).filter(|v| v.is_object()) {
            let p = format!("{path}/*");
            out.push(p.clone());
            schema_paths(root, sub, &p, depth + 1, out);
        }
    }
}

fn enum_codes(s: &Value, out: &mut Vec<String>) {
    match s {
        Value::Object(m) => {
            if let Some(Value::Array(options)) = m.get("enum") {
                out.extend(options.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            m.values().for_each(|v| enum_codes(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| enum_codes(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels() -> Labels {
        let l = |zh: &str, en: &str| Label { zh: zh.into(), en: en.into() };
        let mut labels = Labels::default();
        labels.fields.insert("/doctors".into(), l("支援医师", "doctors"));
        labels.fields.insert("/doctors/*".into(), l("第{n}名医师", "doctor {n}"));
        labels.fields.insert("/doctors/*/outpatient_visits".into(), l("门诊人次", "outpatient visits"));
        labels.fields.insert("/doctors/*/onsite_dates".into(), l("驻点工作日期", "on-site dates"));
        labels
            .fields
            .insert("/doctors/*/onsite_dates/*".into(), l("第{n}个驻点日期", "on-site date {n}"));
        labels.fields.insert("/period".into(), l("报告年月", "reporting period"));
        labels.divisions.insert("350505".into(), l("泉港区", "Quangang District"));
        labels
    }

    #[test]
    fn labels_name_fields_with_their_rows() {
        let l = labels();
        assert_eq!(l.field("/doctors/1/outpatient_visits", false), "第2名医师的“门诊人次”");
        assert_eq!(l.field("/doctors/1/outpatient_visits", true), "\"outpatient visits\" of doctor 2");
        assert_eq!(l.field("/doctors/0/onsite_dates/2", false), "第1名医师的第3个驻点日期");
        assert_eq!(l.field("/doctors/0/onsite_dates/2", true), "on-site date 3 of doctor 1");
        assert_eq!(l.field("/doctors/4", false), "第5名医师");
        assert_eq!(l.field("/period", false), "“报告年月”");
        assert_eq!(l.field("", true), "the form");
        assert_eq!(l.field("/unknown_key", false), "“unknown_key”", "what was sent stays visible");
    }

    #[test]
    fn labels_name_divisions_pack_first_then_provinces() {
        let l = labels();
        assert_eq!(l.division_text("350505", false), "泉港区（350505）");
        assert_eq!(l.division_text("35", true), "Fujian (35)");
        assert_eq!(l.division_text("350599", false), "350599");
    }

    #[test]
    fn labels_merge_refuses_a_second_meaning() {
        let mut a = labels();
        let mut b = Labels::default();
        b.divisions.insert(
            "350505".into(),
            Label {
                zh: "x".into(),
                en: "x".into(),
            },
        );
        assert!(a.merge(b).unwrap_err().contains("350505"));
    }

    #[test]
    fn labels_find_unlabelled_schema_paths_and_codes() {
        let schema = json!({
            "$defs": {"visit": {"type": "integer"}},
            "properties": {
                "doctors": {"items": {"properties": {"outpatient_visits": {"$ref": "#/$defs/visit"}, "role": {"enum": ["clinical", 3]}}}},
                "period": {"type": "object"}
            }
        });
        let l = labels();
        assert_eq!(l.unlabelled_fields(&schema), vec!["/doctors/*/role".to_owned()]);
        assert_eq!(l.unlabelled_enum_codes(&schema), vec!["clinical".to_owned()]);
        assert!(l.malformed().is_empty());
    }
}
