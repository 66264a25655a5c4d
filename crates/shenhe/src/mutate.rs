//! Mutants of a pack's rules, for `shenhe test --mutate`: each is the pack
//! with one small change in one of its scripts (a rule, `lib.rhai` or
//! `derive.rhai`, whose figures the rules read), the kind of slip a rule
//! author makes. A pack's fixtures should notice every one ("kill" it); a mutant
//! they miss ("survives") marks a boundary or an outcome no case pins.
//!
//! What is changed, one token at a time (read with Rhai's own tokenizer, so
//! comments and strings are never touched):
//! - comparisons: `<` ↔ `<=`, `>` ↔ `>=`, `==` ↔ `!=`;
//! - boolean operators: `&&` ↔ `||`;
//! - integer literals: `n` → `n + 1`;
//! - `fail()` outcomes: a variant → the default outcome and → another
//!   declared variant; the default outcome → the first declared variant.
//!
//! A mutant that cannot alter any report (an "equivalent" one) is left out
//! when its line's comment says so, naming the change and why:
//! `if d < 0 { 0 } // equivalent mutant `<` → `<=`: at 0 both give 0`. Where
//! the same change could be made at two places of the line, the mark names
//! the column too, and only that one is left out:
//! `// equivalent mutant column 23 `0` → `1`: …`.

use rhai::{Engine, Token};

use crate::{PackSource, RuleMeta, pack::Script};

/// The comment that marks a line whose mutants cannot change a report.
pub const EQUIVALENT: &str = "equivalent mutant";

/// One mutant: where, what changed, and the changed pack.
#[derive(Debug, Clone)]
pub struct Mutant {
    /// The rule file (`rules/nt05_departure_window.rhai`).
    pub file: String,
    /// 1-based line of the change.
    pub line: usize,
    /// 1-based column (in characters) of the change.
    pub column: usize,
    /// What changed, e.g. ``"`>` → `>=`"``.
    pub what: String,
    /// The pack with the change, sealed (its hash covers the change).
    pub pack: PackSource,
}

/// Where a script sits in a pack.
#[derive(Clone, Copy)]
enum Place {
    Lib,
    Derive,
    Rule(usize),
    Batch(usize),
}

fn script_at(pack: &mut PackSource, at: Place) -> Option<&mut Script> {
    match at {
        Place::Lib => pack.lib.as_mut(),
        Place::Derive => pack.derive.as_mut(),
        Place::Rule(k) => pack.rules.get_mut(k),
        Place::Batch(k) => pack.batch.get_mut(k),
    }
}

/// The lines (1-based, inclusive) of the library functions that no script
/// of the pack calls, directly or through other library functions: a shared
/// library (`yizhen_week/lib.rhai`) holds functions for every pack of its
/// form, and a change inside one this pack never calls cannot alter its
/// reports, so its fixtures cannot be asked to notice it.
fn uncalled_lines(engine: &Engine, pack: &PackSource) -> Vec<(usize, usize)> {
    let Some(lib) = &pack.lib else { return Vec::new() };
    // Rhai's default nesting limits are lower in debug builds: lift them, so
    // every build reads the library the same way.
    let _ = engine;
    let mut engine = Engine::new_raw();
    engine.set_max_expr_depths(0, 0);
    let Ok(ast) = engine.compile(&lib.source) else { return Vec::new() };
    let fns: Vec<(String, usize, usize)> = ast
        .iter_fn_def()
        .filter_map(|f| Some((f.name.to_string(), f.body.start_position().line()?, f.body.end_position().line()?)))
        .collect();
    let calls = |text: &str, name: &str| {
        text.match_indices(&format!("{name}("))
            .any(|(i, _)| text[..i].chars().next_back().is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '.')))
    };
    let others: Vec<&str> = pack.derive.iter().chain(&pack.rules).chain(&pack.batch).map(|s| s.source.as_str()).collect();
    let lines: Vec<&str> = lib.source.lines().collect();
    let body = |from: usize, to: usize| lines.get(from.saturating_sub(1)..to.min(lines.len())).map(|l| l.join("\n")).unwrap_or_default();
    let mut called: Vec<bool> = fns.iter().map(|(name, _, _)| others.iter().any(|t| calls(t, name))).collect();
    // Functions the called ones call, until nothing new is reached.
    loop {
        let mut grew = false;
        for i in 0..fns.len() {
            if !called[i] && fns.iter().zip(&called).any(|((_, a, b), c)| *c && calls(&body(*a, *b), &fns[i].0)) {
                called[i] = true;
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }
    // From the `fn` line (the body's first line is its `{`) to the body's end.
    fns.iter().zip(called).filter(|(_, c)| !c).map(|((_, a, b), _)| (*a, *b)).collect()
}

/// A pack's mutants, and how many changes were left out.
#[derive(Debug, Clone, Default)]
pub struct Mutants {
    /// The mutants to run.
    pub mutants: Vec<Mutant>,
    /// Left out as marked [`EQUIVALENT`].
    pub marked: usize,
    /// Left out as inside library functions that the pack never calls.
    pub uncalled: usize,
}

/// The mutants of every script a rule runs: `lib.rhai`, `derive.rhai` (whose
/// figures the rules read), `rules/` and `batch/`, in that order and in
/// source order, leaving out the changes marked [`EQUIVALENT`] and those
/// inside library functions the pack never calls.
#[must_use]
pub fn mutants(pack: &PackSource) -> Mutants {
    let engine = Engine::new_raw();
    let mut out = Vec::new();
    let mut skipped = 0;
    let mut uncalled = 0;
    let unreached = uncalled_lines(&engine, pack);
    let scripts = (pack.lib.iter().map(|s| (Place::Lib, s)))
        .chain(pack.derive.iter().map(|s| (Place::Derive, s)))
        .chain(pack.rules.iter().enumerate().map(|(k, s)| (Place::Rule(k), s)))
        .chain(pack.batch.iter().enumerate().map(|(k, s)| (Place::Batch(k), s)));
    for (at, script) in scripts {
        // Only a rule has outcomes to swap.
        let variants: Vec<String> = match at {
            Place::Rule(_) | Place::Batch(_) => RuleMeta::parse(&script.file, &script.source)
                .map(|m| m.variants.into_keys().collect())
                .unwrap_or_default(),
            Place::Lib | Place::Derive => Vec::new(),
        };
        for edit in edits(&engine, &script.source, &variants) {
            if marked(&script.source, edit.line, column_of(&script.source, edit.range.start), &edit.what) {
                skipped += 1;
                continue;
            }
            if matches!(at, Place::Lib) && unreached.iter().any(|(a, b)| (*a..=*b).contains(&edit.line)) {
                uncalled += 1;
                continue;
            }
            let mut changed = pack.clone();
            let Some(target) = script_at(&mut changed, at) else { continue };
            target.source.replace_range(edit.range.clone(), &edit.text);
            out.push(Mutant {
                file: script.file.clone(),
                line: edit.line,
                column: column_of(&script.source, edit.range.start),
                what: edit.what,
                pack: changed.seal(),
            });
        }
    }
    Mutants {
        mutants: out,
        marked: skipped,
        uncalled,
    }
}

/// One change to a script's text.
#[derive(Debug, PartialEq)]
struct Edit {
    line: usize,
    range: std::ops::Range<usize>,
    text: String,
    what: String,
}

/// The 1-based column, in characters, of byte `at`.
fn column_of(source: &str, at: usize) -> usize {
    let line_start = source[..at].rfind('\n').map_or(0, |i| i + 1);
    source[line_start..at].chars().count() + 1
}

/// Whether `line` (1-based) marks the change `what` at `column` as
/// [`EQUIVALENT`]: the comment names the change, and its column when it
/// names any column.
fn marked(source: &str, line: usize, column: usize, what: &str) -> bool {
    source.lines().nth(line - 1).and_then(|l| l.split_once("//")).is_some_and(|(_, c)| {
        c.contains(EQUIVALENT)
            && if c.contains("column ") {
                c.contains(&format!("column {column} {what}"))
            } else {
                c.contains(what)
            }
    })
}

/// The byte offset of a Rhai position (1-based line, 1-based character).
fn offset(source: &str, line: usize, column: usize) -> Option<usize> {
    let mut start = 0;
    for (i, l) in source.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            return l.char_indices().nth(column - 1).map(|(b, _)| start + b);
        }
        start += l.len();
    }
    None
}

/// The changes to make to one script.
fn edits(engine: &Engine, source: &str, variants: &[String]) -> Vec<Edit> {
    let inputs = [source];
    // The tokenizer yields `EOF` for ever once the text ends.
    let tokens: Vec<(Token, rhai::Position)> = engine.lex(&inputs).0.take_while(|(t, _)| !matches!(t, Token::EOF)).collect();
    let mut out = Vec::new();
    let at = |i: usize| -> Option<(usize, usize)> {
        let (_, pos) = &tokens[i];
        let line = pos.line()?;
        Some((line, offset(source, line, pos.position()?)?))
    };
    for i in 0..tokens.len() {
        let swap = match &tokens[i].0 {
            Token::LessThan => Some(("<", "<=")),
            Token::LessThanEqualsTo => Some(("<=", "<")),
            Token::GreaterThan => Some((">", ">=")),
            Token::GreaterThanEqualsTo => Some((">=", ">")),
            Token::EqualsTo => Some(("==", "!=")),
            Token::NotEqualsTo => Some(("!=", "==")),
            Token::And => Some(("&&", "||")),
            Token::Or => Some(("||", "&&")),
            _ => None,
        };
        if let Some((from, to)) = swap
            && let Some((line, start)) = at(i)
            && source[start..].starts_with(from)
        {
            out.push(Edit {
                line,
                range: start..start + from.len(),
                text: to.into(),
                what: format!("`{from}` → `{to}`"),
            });
        }
        if let Token::IntegerConstant(n) = tokens[i].0
            && let Some((line, start)) = at(i)
            && let Some(next) = n.checked_add(1)
        {
            let len = source[start..].bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count();
            out.push(Edit {
                line,
                range: start..start + len,
                text: next.to_string(),
                what: format!("`{}` → `{next}`", &source[start..start + len]),
            });
        }
        if matches!(&tokens[i].0, Token::Identifier(name) if name.as_str() == "fail") && matches!(tokens.get(i + 1), Some((Token::LeftParen, _))) {
            out.extend(fail_edits(&tokens, i + 2, variants, &at));
        }
    }
    out
}

/// The outcome mutants of one `fail(` call whose arguments start at token `first`.
fn fail_edits(tokens: &[(Token, rhai::Position)], first: usize, variants: &[String], at: &dyn Fn(usize) -> Option<(usize, usize)>) -> Vec<Edit> {
    // The first comma at the call's own depth ends the path argument.
    let mut depth = 0usize;
    let mut comma = None;
    for (j, (t, _)) in tokens.iter().enumerate().skip(first) {
        match t {
            Token::LeftParen | Token::LeftBracket | Token::LeftBrace | Token::MapStart => depth += 1,
            Token::RightParen | Token::RightBracket | Token::RightBrace if depth == 0 => break,
            Token::RightParen | Token::RightBracket | Token::RightBrace => depth -= 1,
            Token::Comma if depth == 0 => {
                comma = Some(j);
                break;
            }
            _ => {}
        }
    }
    let Some(comma) = comma else { return Vec::new() };
    let (Some((line, comma_at)), Some((_, next_at))) = (at(comma), at(comma + 1)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    match &tokens[comma + 1].0 {
        // fail(path, "variant", params): to the default outcome, and to another variant.
        Token::StringConstant(v) if matches!(tokens.get(comma + 2), Some((Token::Comma, _))) => {
            let Some((_, after)) = at(comma + 2) else { return out };
            out.push(Edit {
                line,
                range: comma_at..after,
                text: String::new(),
                what: format!("fail() outcome `{v}` → the default"),
            });
            if let Some(other) = variants.iter().find(|w| w.as_str() != v.as_str()) {
                out.push(Edit {
                    line,
                    range: next_at..after,
                    text: format!("{other:?}"),
                    what: format!("fail() outcome `{v}` → `{other}`"),
                });
            }
        }
        // fail(path, params) in a rule with variants: to the first variant.
        _ => {
            if let Some(v) = variants.first() {
                out.push(Edit {
                    line,
                    range: comma_at..comma_at + 1,
                    text: format!(", {v:?},"),
                    what: format!("fail() default outcome → `{v}`"),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(source: &str, e: &Edit) -> String {
        let mut s = source.to_owned();
        s.replace_range(e.range.clone(), &e.text);
        s
    }

    #[test]
    fn mutate_comparisons_booleans_and_integers_but_not_comments_or_strings() {
        let src = "// a > b in a comment\nif x >= 5 && y != \"<\" { fail(\"/a\", #{ n: 1 }); }\n";
        let engine = Engine::new_raw();
        let got: Vec<String> = edits(&engine, src, &[])
            .iter()
            .map(|e| apply(src, e).lines().nth(1).unwrap().to_owned())
            .collect();
        assert_eq!(
            got,
            [
                "if x > 5 && y != \"<\" { fail(\"/a\", #{ n: 1 }); }",
                "if x >= 6 && y != \"<\" { fail(\"/a\", #{ n: 1 }); }",
                "if x >= 5 || y != \"<\" { fail(\"/a\", #{ n: 1 }); }",
                "if x >= 5 && y == \"<\" { fail(\"/a\", #{ n: 1 }); }",
                "if x >= 5 && y != \"<\" { fail(\"/a\", #{ n: 2 }); }",
            ]
        );
    }

    #[test]
    fn mutate_fail_outcomes() {
        let variants = ["above".to_owned(), "below".to_owned()];
        let engine = Engine::new_raw();
        let src = "fail(ptr(\"a\", i), \"below\", #{ n: n });";
        let got: Vec<String> = edits(&engine, src, &variants).iter().map(|e| apply(src, e)).collect();
        assert!(got.contains(&"fail(ptr(\"a\", i), #{ n: n });".to_owned()), "{got:?}");
        assert!(got.contains(&"fail(ptr(\"a\", i), \"above\", #{ n: n });".to_owned()), "{got:?}");
        let src = "fail(\"/a\", #{ n: n });";
        let got: Vec<String> = edits(&engine, src, &variants).iter().map(|e| apply(src, e)).collect();
        assert_eq!(got, ["fail(\"/a\", \"above\", #{ n: n });"]);
    }

    #[test]
    fn mutate_offsets_count_characters_not_bytes() {
        let src = "let s = \"驻点\"; if s.len() > 2 { }";
        let engine = Engine::new_raw();
        let e = &edits(&engine, src, &[])[0];
        assert_eq!(apply(src, e), "let s = \"驻点\"; if s.len() >= 2 { }");
    }

    #[test]
    fn mutate_leaves_out_library_functions_the_pack_never_calls() {
        let lib = "fn used(x) {\n    helper(x) > 1\n}\nfn helper(x) {\n    x + 1\n}\nfn unused(x) {\n    x < 2\n}\n";
        let manifest = "id = \"tiny\"\nversion = \"1\"\nform = \"f\"\n[policy]\nprogram = \"p\"\nyear = 2024\nregion = \"CN\"\n[effective]\nfrom = \"2024-01-01\"\nto = \"2024-12-31\"\n";
        let rule = "//! id: T-01\n//! severity: error\nif used(submission.n) { fail(\"/n\"); }\n";
        let pack = PackSource::from_files([("pack.toml", manifest), ("schema.json", "{}"), ("lib.rhai", lib), ("rules/t.rhai", rule)]).unwrap();
        assert_eq!(uncalled_lines(&Engine::new_raw(), &pack), vec![(7, 9)], "helper is reached through used");
        let m = mutants(&pack);
        assert_eq!(m.uncalled, 2, "unused's `<` and its `2`");
        assert!(
            m.mutants.iter().all(|x| x.file != "lib.rhai" || x.line < 7),
            "{:?}",
            m.mutants.iter().map(|x| x.line).collect::<Vec<_>>()
        );
    }

    #[test]
    fn mutate_honours_the_equivalent_mark() {
        let src = "a\nif x > 0 || y { } // equivalent mutant `>` → `>=`: x is never 0\n";
        assert!(marked(src, 2, 6, "`>` → `>=`"));
        assert!(!marked(src, 2, 10, "`||` → `&&`"));
        assert!(!marked("a\nif x > 0 { }\n", 2, 6, "`>` → `>=`"));
        // With a column, only the change there is left out.
        let src = "a\nlet d = if d < 0 { 0 } else { d }; // equivalent mutant column 17 `0` → `1`: d is an integer\n";
        assert!(marked(src, 2, 17, "`0` → `1`"));
        assert!(!marked(src, 2, 21, "`0` → `1`"));
    }
}
