//! JSON Pointers (RFC 6901): building them in rules, and ordering findings by
//! the position of their path in the submitted document.

use std::cmp::Ordering;

use rhai::Dynamic;
use serde_json::Value;

/// Appends one reference token, escaped (`~` → `~0`, `/` → `~1`).
pub(crate) fn escape_into(out: &mut String, token: &str) {
    for c in token.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
}

/// Whether the value at `inner` lies at or inside the value at `outer`
/// (contract A2: an explanation at `/sites/1` covers a warning at
/// `/sites/1/county_flags`, but not one at `/sites/10`). Pointers nest by
/// whole reference tokens; `""`, the whole document, holds every path.
#[must_use]
pub fn covers(outer: &str, inner: &str) -> bool {
    inner.strip_prefix(outer).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Builds a pointer from segments: `ptr("sites", 2, "end")` → `/sites/2/end`.
#[must_use]
pub fn build(segments: &[Dynamic]) -> String {
    let mut out = String::new();
    for s in segments {
        out.push('/');
        if let Ok(i) = s.as_int() {
            out.push_str(&i.to_string());
        } else {
            escape_into(&mut out, &s.to_string());
        }
    }
    out
}

/// Splits a pointer into unescaped tokens. `None` if it is not a pointer.
#[must_use]
pub fn tokens(pointer: &str) -> Option<Vec<String>> {
    if pointer.is_empty() {
        return Some(Vec::new());
    }
    let rest = pointer.strip_prefix('/')?;
    Some(rest.split('/').map(unescape).collect())
}

/// Unescapes one reference token (`~1` → `/`, then `~0` → `~`).
pub(crate) fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// One step of a document position: an existing member by its index in the
/// document, or a missing member (sorted after every existing sibling).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Present(usize),
    Missing(String),
}

/// The position of `pointer` in `doc`, comparable in document order: a
/// parent sorts before its children, object members in the order they were
/// written, array items by index (numerically: `/10` after `/2`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DocPosition(Vec<Step>);

impl DocPosition {
    /// Computes the position of `pointer` inside `doc`.
    #[must_use]
    pub fn of(doc: &Value, pointer: &str) -> Self {
        let Some(tokens) = tokens(pointer) else {
            return Self(vec![Step::Missing(pointer.to_owned())]);
        };
        let mut steps = Vec::with_capacity(tokens.len());
        let mut cur = Some(doc);
        for t in tokens {
            let next = match cur {
                Some(Value::Object(m)) => m.iter().position(|(k, _)| *k == t).and_then(|i| m.get(&t).map(|v| (i, v))),
                Some(Value::Array(a)) => t.parse::<usize>().ok().and_then(|i| a.get(i).map(|v| (i, v))),
                _ => None,
            };
            match next {
                Some((i, v)) => {
                    steps.push(Step::Present(i));
                    cur = Some(v);
                }
                None => {
                    // Array indices past the end still sort numerically.
                    let key = t.parse::<usize>().map_or(t.clone(), |i| format!("{i:020}"));
                    steps.push(Step::Missing(key));
                    cur = None;
                }
            }
        }
        Self(steps)
    }
}

/// Compares two positions; exposed for tests.
#[must_use]
pub fn compare(doc: &Value, a: &str, b: &str) -> Ordering {
    DocPosition::of(doc, a).cmp(&DocPosition::of(doc, b))
}

#[cfg(test)]
mod tests {
    #[test]
    fn covers_nests_by_whole_tokens() {
        use super::covers;
        assert!(covers("/sites/1", "/sites/1") && covers("/sites/1", "/sites/1/county_flags"));
        assert!(covers("/sites", "/sites/10/end") && covers("", "/members/0/name") && covers("", ""));
        assert!(!covers("/sites/1", "/sites/10") && !covers("/sites/1", "/sites/10/end"));
        assert!(!covers("/sites/1/end/0", "/sites/1/end") && !covers("/members", "/sites/1"));
        assert!(!covers("/a~1b", "/a/b"), "an escaped slash is part of a token");
    }

    use super::*;
    use serde_json::json;

    #[test]
    fn pointer_build_escapes() {
        let p = build(&["sites".into(), Dynamic::from_int(2), "a/b~c".into()]);
        assert_eq!(p, "/sites/2/a~1b~0c");
        assert_eq!(tokens(&p).unwrap(), vec!["sites", "2", "a/b~c"]);
        assert_eq!(tokens("").unwrap(), Vec::<String>::new());
        assert!(tokens("sites").is_none());
    }

    #[test]
    fn pointer_document_order() {
        let doc: Value = serde_json::from_str(r#"{"z": 1, "members": [1,2,3,4,5,6,7,8,9,10,11], "a": {"x": 1}}"#).unwrap();
        let _ = json!(null);
        // Object members keep the written order, not alphabetical.
        assert_eq!(compare(&doc, "/z", "/members"), Ordering::Less);
        assert_eq!(compare(&doc, "/members", "/a"), Ordering::Less);
        // Parent before child; indices numerically.
        assert_eq!(compare(&doc, "/members", "/members/0"), Ordering::Less);
        assert_eq!(compare(&doc, "/members/2", "/members/10"), Ordering::Less);
        // Missing members after existing siblings, but inside their parent.
        assert_eq!(compare(&doc, "/a/x", "/a/missing"), Ordering::Less);
        assert_eq!(compare(&doc, "/members/12", "/a"), Ordering::Less);
        assert_eq!(compare(&doc, "/members/12", "/members/100"), Ordering::Less);
        assert_eq!(compare(&doc, "", "/z"), Ordering::Less);
    }
}
