//! Turning what people type into a submission: the number normalisation of
//! contract Part A6, and building a JSON document from `path → value` pairs.
//!
//! The browser form binding (`shenhe_wasm::attach`) and the server's
//! spreadsheet import both use these, so a cell typed as `１，２００` is the
//! same JSON number `1200` on every side.

use serde_json::{Map, Number, Value};

use crate::fold::fold;

/// Normalises a number typed by a person (A6): NFKC (full-width digits,
/// signs and points become ASCII), thousands separators (`,` and `，`)
/// removed, surrounding spaces trimmed. Returns a JSON number, or the
/// original text as a string when it still does not parse, so the schema
/// reports it against the field. Blank text gives `None` (the field is
/// left out, and a required field is reported missing).
#[must_use]
pub fn normalize_number(text: &str) -> Option<Value> {
    let Some(folded) = fold(text) else {
        // A character that no number holds, even after NFKC.
        return Some(Value::String(text.to_owned()));
    };
    let folded: String = folded.chars().filter(|c| *c != ',' && *c != '，').collect();
    let folded = folded.trim();
    if folded.is_empty() {
        return None;
    }
    Some(parse_number(folded).unwrap_or_else(|| Value::String(text.to_owned())))
}

/// The words people write for yes and no, in a form field or a sheet cell
/// (case, full-width letters and surrounding spaces do not matter):
/// 是/有/对/√/✓/true/yes/y/1 and 否/无/不/×/✗/false/no/n/0. Anything else
/// is `None`, and callers keep the text so the schema reports it.
#[must_use]
pub fn parse_bool(text: &str) -> Option<bool> {
    let folded: String = fold(text)?.chars().flat_map(char::to_lowercase).collect();
    let word = folded.trim();
    if YES_WORDS.contains(&word) {
        Some(true)
    } else if NO_WORDS.contains(&word) {
        Some(false)
    } else {
        None
    }
}

/// The yes and no words (their characters are part of the fold alphabet).
pub(crate) const YES_WORDS: [&str; 10] = ["是", "有", "对", "√", "✓", "✔", "true", "yes", "y", "1"];
pub(crate) const NO_WORDS: [&str; 10] = ["否", "无", "不", "×", "✗", "✘", "false", "no", "n", "0"];

/// Parses plain decimal notation: an optional sign, digits, an optional
/// fraction. Whole numbers become JSON integers; exponents, `NaN`, `inf`
/// and hex are refused (people do not type them in report forms).
fn parse_number(s: &str) -> Option<Value> {
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (int_part, frac_part) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if int_part.is_empty() || !digits(int_part) || !digits(frac_part) || (unsigned.contains('.') && frac_part.is_empty()) {
        return None;
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    if frac_part.is_empty()
        && let Ok(i) = s.parse::<i64>()
    {
        return Some(Value::Number(i.into()));
    }
    s.parse::<f64>().ok().and_then(Number::from_f64).map(Value::Number)
}

/// A number as JSON: whole values (Excel stores every number as a float; a
/// sum of counts is a float) become integers, others stay decimals.
#[must_use]
pub fn number_value(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        #[allow(clippy::cast_possible_truncation, reason = "whole and below 2^53")]
        return Value::from(f as i64);
    }
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// Splits a form path into tokens. Accepts a JSON Pointer (`/members/0/name`,
/// with `~0`/`~1` escapes) or the slash path of an HTML attribute
/// (`members/0/name`).
#[must_use]
pub fn path_tokens(path: &str) -> Vec<String> {
    let p = path.strip_prefix('/').unwrap_or(path);
    if p.is_empty() {
        return Vec::new();
    }
    p.split('/').map(crate::pointer::unescape).collect()
}

/// The JSON Pointer for a form path (`members/0/name` → `/members/0/name`).
#[must_use]
pub fn to_pointer(path: &str) -> String {
    let mut out = String::new();
    for t in path_tokens(path) {
        out.push('/');
        crate::pointer::escape_into(&mut out, &t);
    }
    out
}

/// Sets `value` at `path` in `doc`, creating what is missing on the way: an
/// array where the next token is an index, an object otherwise. Arrays are
/// padded with `null` up to the index. A scalar in the way is replaced, so
/// the last write wins, as it does in a form.
pub fn set_path(doc: &mut Value, path: &str, value: Value) {
    let mut cur = doc;
    for token in path_tokens(path) {
        let index = is_index(&token).then(|| token.parse::<usize>().unwrap_or(0));
        // An index into an array descends into it; anything else needs an object.
        let into_array = index.is_some() && cur.is_array();
        if !into_array && !cur.is_object() {
            *cur = if index.is_some() {
                Value::Array(Vec::new())
            } else {
                Value::Object(Map::new())
            };
        }
        cur = match (cur, index) {
            (Value::Array(items), Some(idx)) => {
                if items.len() <= idx {
                    items.resize(idx + 1, Value::Null);
                }
                &mut items[idx]
            }
            (Value::Object(map), _) => map.entry(token).or_insert(Value::Null),
            (other, _) => other,
        };
    }
    *cur = value;
}

/// An array index token: ASCII digits, at most 6 of them (a form has no
/// million-row repeat, and this bounds what a hostile path can allocate).
fn is_index(t: &str) -> bool {
    !t.is_empty() && t.len() <= 6 && t.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn numbers_typed_by_people() {
        for (typed, want) in [
            ("１２３", json!(123)),
            ("1,200", json!(1200)),
            ("1，200", json!(1200)),
            ("  42 ", json!(42)),
            ("１，２００．５", json!(1200.5)),
            ("-7", json!(-7)),
            ("+7", json!(7)),
            ("0.25", json!(0.25)),
            ("\u{3000}8\u{3000}", json!(8)),
        ] {
            assert_eq!(normalize_number(typed), Some(want), "{typed:?}");
        }
        for typed in ["12a", "1e3", "NaN", "inf", "0x10", "1.", ".5", "--1", "一百"] {
            assert_eq!(normalize_number(typed), Some(json!(typed)), "{typed:?} stays a string");
        }
        assert_eq!(normalize_number("   "), None);
        assert_eq!(normalize_number(""), None);
    }

    #[test]
    fn builds_documents_from_paths() {
        let mut doc = json!({});
        set_path(&mut doc, "form", json!("national_medical_team"));
        set_path(&mut doc, "/policy/year", json!(2024));
        set_path(&mut doc, "members/1/name", json!("李二"));
        set_path(&mut doc, "members/0/name", json!("张一"));
        set_path(&mut doc, "a~1b/c", json!(true));
        assert_eq!(
            doc,
            json!({"form": "national_medical_team", "policy": {"year": 2024},
                   "members": [{"name": "张一"}, {"name": "李二"}], "a/b": {"c": true}})
        );
        set_path(&mut doc, "form/x", json!(1));
        assert_eq!(doc["form"], json!({"x": 1}));
        assert_eq!(to_pointer("members/0/a~b"), "/members/0/a~0b");
    }
}

#[cfg(test)]
mod bool_tests {
    use super::parse_bool;

    #[test]
    fn input_one_vocabulary_for_yes_and_no() {
        for yes in ["是", "有", "√", "✓", "true", "TRUE", " yes ", "Ｙ", "1"] {
            assert_eq!(parse_bool(yes), Some(true), "{yes}");
        }
        for no in ["否", "无", "×", "✗", "false", "No", "n", "0", "０"] {
            assert_eq!(parse_bool(no), Some(false), "{no}");
        }
        for other in ["", "也许", "2", "yesno"] {
            assert_eq!(parse_bool(other), None, "{other}");
        }
    }
}
