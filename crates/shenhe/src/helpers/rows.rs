//! Native helpers over rows, by field and value: what rules do most, without
//! a closure call per row (`count_where(members, "role", "management")`).
//! Also the operation budget of native work: every helper that walks rows
//! charges one operation per row to the running rule, so a rule that loops
//! over helpers stops at its budget like one that loops in script.

use rhai::{Array, Dynamic, Engine, EvalAltResult, INT, ImmutableString, Map};

use super::native::{Budget, Natives, def_b};
use crate::document::{self, field, rows};

type R<T> = Result<T, Box<EvalAltResult>>;

/// The rows as a vector, charged one operation each.
pub(crate) fn charged_rows(budget: &dyn Budget, arr: Dynamic) -> R<Vec<Dynamic>> {
    let out: Vec<Dynamic> = rows(arr).collect();
    budget.charge(out.len())?;
    Ok(out)
}

fn matches(row: &Dynamic, name: &str, value: &Dynamic) -> bool {
    document::equal(&field(row, name), value)
}

fn member_of(x: &Dynamic, list: &[Dynamic]) -> bool {
    list.iter().any(|y| document::equal(x, y))
}

/// The group key of a value: its text, or `None` for `()`.
pub(crate) fn key_text(k: &Dynamic) -> Option<String> {
    if k.is_unit() { None } else { Some(document::thaw(k).to_string()) }
}

#[allow(clippy::cast_possible_wrap, reason = "row counts are bounded by the input size")]
fn count(n: usize) -> INT {
    n as INT
}

/// Registers the row helpers.
pub(crate) fn register(e: &mut Engine, t: &mut Natives) {
    def_b!(e, t, "count_where", |ctx, arr: Dynamic, name: ImmutableString, value: Dynamic| -> R<INT> {
        Ok(count(charged_rows(&ctx, arr)?.iter().filter(|r| matches(r, &name, &value)).count()))
    });
    def_b!(e, t, "count_in", |ctx, arr: Dynamic, name: ImmutableString, list: Dynamic| -> R<INT> {
        let list = charged_rows(&ctx, list)?;
        Ok(count(charged_rows(&ctx, arr)?.iter().filter(|r| member_of(&field(r, &name), &list)).count()))
    },);
    def_b!(e, t, "any_where", |ctx, arr: Dynamic, name: ImmutableString, value: Dynamic| -> R<bool> {
        Ok(charged_rows(&ctx, arr)?.iter().any(|r| matches(r, &name, &value)))
    });
    def_b!(e, t, "all_where", |ctx, arr: Dynamic, name: ImmutableString, value: Dynamic| -> R<bool> {
        Ok(charged_rows(&ctx, arr)?.iter().all(|r| matches(r, &name, &value)))
    });
    def_b!(e, t, "filter_where", |ctx, arr: Dynamic, name: ImmutableString, value: Dynamic| -> R<Array> {
        Ok(charged_rows(&ctx, arr)?.into_iter().filter(|r| matches(r, &name, &value)).collect())
    });
    def_b!(e, t, "filter_in", |ctx, arr: Dynamic, name: ImmutableString, list: Dynamic| -> R<Array> {
        let list = charged_rows(&ctx, list)?;
        Ok(charged_rows(&ctx, arr)?.into_iter().filter(|r| member_of(&field(r, &name), &list)).collect())
    },);
    def_b!(e, t, "index_where", |ctx, arr: Dynamic, name: ImmutableString, value: Dynamic| -> R<Dynamic> {
        let rows = charged_rows(&ctx, arr)?;
        Ok(rows
            .iter()
            .position(|r| matches(r, &name, &value))
            .map_or(Dynamic::UNIT, |i| Dynamic::from_int(count(i))))
    },);
    def_b!(e, t, "sum_where", |ctx,
                               arr: Dynamic,
                               sum: ImmutableString,
                               name: ImmutableString,
                               value: Dynamic|
     -> R<Dynamic> {
        let rows = charged_rows(&ctx, arr)?;
        Ok(super::sum_values(rows.iter().filter(|r| matches(r, &name, &value)).map(|r| field(r, &sum))))
    },);
    def_b!(e, t, "values_of", |ctx, arr: Dynamic, name: ImmutableString| -> R<Array> {
        Ok(charged_rows(&ctx, arr)?.iter().map(|r| field(r, &name)).collect())
    });
    // Grouping by a field: key (as text) → the rows, the first row, or the count.
    def_b!(e, t, "group_by", |ctx, arr: Dynamic, name: ImmutableString| -> R<Map> {
        let mut out: std::collections::BTreeMap<String, Array> = std::collections::BTreeMap::new();
        for r in charged_rows(&ctx, arr)? {
            if let Some(k) = key_text(&field(&r, &name)) {
                out.entry(k).or_default().push(r);
            }
        }
        Ok(out.into_iter().map(|(k, v)| (k.into(), Dynamic::from_array(v))).collect())
    });
    def_b!(e, t, "first_by", |ctx, arr: Dynamic, name: ImmutableString| -> R<Map> {
        let mut out = Map::new();
        for r in charged_rows(&ctx, arr)? {
            if let Some(k) = key_text(&field(&r, &name)) {
                out.entry(k.into()).or_insert(r);
            }
        }
        Ok(out)
    });
    def_b!(e, t, "count_by", |ctx, arr: Dynamic, name: ImmutableString| -> R<Map> {
        let mut counts: std::collections::BTreeMap<String, INT> = std::collections::BTreeMap::new();
        for r in charged_rows(&ctx, arr)? {
            if let Some(k) = key_text(&field(&r, &name)) {
                *counts.entry(k).or_insert(0) += 1;
            }
        }
        Ok(counts.into_iter().map(|(k, n)| (k.into(), Dynamic::from_int(n))).collect())
    });
}
