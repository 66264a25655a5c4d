//! Helper functions written in Rust and registered into Rhai for rule authors.
//!
//! Every helper takes `Dynamic` where the value comes from a submission, so a
//! missing or mistyped field yields `()`/`false` instead of a runtime error:
//! the schema reports the structural problem and the rules keep running.

pub mod dates;
pub mod ids;
pub(crate) mod native;
pub mod rows;
pub mod vocab;

use std::cell::RefCell;

use rhai::{Array, Dynamic, Engine, FLOAT, FnPtr, INT, ImmutableString, Map, NativeCallContext};

use crate::pointer;

/// One finding a rule script emitted with `fail(...)`, before the engine
/// attaches severity and messages.
#[derive(Debug, Clone)]
pub(crate) struct Emitted {
    pub path: String,
    pub variant: Option<String>,
    pub params: Map,
}

thread_local! {
    // Findings of the rule that is running on this thread. An evaluation is
    // synchronous and never re-entrant, so a per-thread buffer is exact; the
    // evaluator drains it after every rule (see `evaluate::run_rule`).
    static EMITTED: RefCell<Vec<Emitted>> = const { RefCell::new(Vec::new()) };
}

/// Takes everything emitted since the last call.
pub(crate) fn drain_emitted() -> Vec<Emitted> {
    EMITTED.with(|e| std::mem::take(&mut *e.borrow_mut()))
}

fn emit(path: &str, variant: Option<String>, params: Map) {
    EMITTED.with(|e| {
        e.borrow_mut().push(Emitted {
            path: path.to_owned(),
            variant,
            params,
        })
    });
}

/// A number from a submission value: ints and floats, nothing else.
pub(crate) fn as_number(x: &Dynamic) -> Option<FLOAT> {
    #[allow(clippy::cast_precision_loss, reason = "counts in forms are far below 2^53")]
    if x.is_int() {
        x.as_int().map(|i| i as FLOAT).ok()
    } else if x.is_float() {
        x.as_float().ok()
    } else {
        None
    }
}

fn as_str(x: &Dynamic) -> Option<ImmutableString> {
    x.clone().into_immutable_string().ok()
}

use crate::document::{self, field};
use native::{Natives, def, def_b};
use rows::charged_rows;

fn date_of(x: &Dynamic) -> Option<time::Date> {
    as_str(x).and_then(|s| dates::civil_date(&s))
}

fn unit_or<T: Into<Dynamic>>(v: Option<T>) -> Dynamic {
    v.map_or(Dynamic::UNIT, Into::into)
}

/// Sum of numbers: an int while every addend is an int, else a float.
pub(crate) fn sum_values(values: impl Iterator<Item = Dynamic>) -> Dynamic {
    let mut int_sum: INT = 0;
    let mut float_sum: FLOAT = 0.0;
    let mut all_int = true;
    for v in values {
        if let Ok(i) = v.as_int() {
            int_sum = int_sum.saturating_add(i);
            #[allow(clippy::cast_precision_loss, reason = "counts in forms are far below 2^53")]
            {
                float_sum += i as FLOAT;
            }
        } else if let Ok(f) = v.as_float() {
            all_int = false;
            float_sum += f;
        }
    }
    if all_int { int_sum.into() } else { float_sum.into() }
}

fn truthy(ctx: &NativeCallContext, pred: &FnPtr, item: &Dynamic) -> Result<bool, Box<rhai::EvalAltResult>> {
    let r: Dynamic = pred.call_within_context(ctx, (item.clone(),))?;
    Ok(r.as_bool().unwrap_or(false))
}

/// The group key of an item: the key function's result as text, or `None` for `()`.
fn group_key(ctx: &NativeCallContext, key: &FnPtr, item: &Dynamic) -> Result<Option<String>, Box<rhai::EvalAltResult>> {
    let k: Dynamic = key.call_within_context(ctx, (item.clone(),))?;
    Ok(if k.is_unit() { None } else { Some(k.to_string()) })
}

/// `true` for a non-negative whole number (`3` or `3.0`).
pub(crate) fn is_count(x: &Dynamic) -> bool {
    if let Ok(i) = x.as_int() {
        return i >= 0;
    }
    x.as_float().is_ok_and(|f| f >= 0.0 && f.fract() == 0.0 && f.is_finite())
}

/// `true` for a non-negative amount with at most two decimals, as a number or decimal string.
fn is_money(x: &Dynamic) -> bool {
    if let Some(s) = as_str(x) {
        let s = s.trim();
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        return !whole.is_empty()
            && whole.bytes().all(|c| c.is_ascii_digit())
            && frac.len() <= 2
            && frac.bytes().all(|c| c.is_ascii_digit())
            && !(s.contains('.') && frac.is_empty());
    }
    if let Ok(i) = x.as_int() {
        return i >= 0;
    }
    x.as_float()
        .is_ok_and(|f| f >= 0.0 && f.is_finite() && ((f * 100.0).round() - f * 100.0).abs() < 1e-6)
}

/// An amount to add up: a number as it is, a decimal string that
/// [`is_money`] accepts as its value, anything else 0 (it is X-02's finding).
fn money_value(x: &Dynamic) -> Dynamic {
    if x.is_int() || x.is_float() {
        return x.clone();
    }
    match as_str(x) {
        Some(s) if is_money(x) => s.trim().parse::<FLOAT>().map_or(Dynamic::from_int(0), Dynamic::from_float),
        _ => Dynamic::from_int(0),
    }
}

/// Every helper, as the compiled path calls it (the same closures the
/// engines have registered).
pub(crate) static NATIVES: std::sync::LazyLock<Natives> = std::sync::LazyLock::new(|| {
    let mut table = Natives::default();
    register(&mut Engine::new_raw(), &mut table);
    table
});

/// Registers every helper. Called once per engine, in `engine::build_engine`.
#[allow(clippy::too_many_lines, reason = "a flat list of registrations reads best")]
#[allow(clippy::cast_possible_truncation, reason = "to_int: saturating float-to-int is the documented behaviour")]
#[allow(clippy::cast_precision_loss, reason = "to_float: ints in forms are far below 2^53")]
pub(crate) fn register(e: &mut Engine, t: &mut Natives) {
    // --- findings -------------------------------------------------------
    def!(e, t, "fail", |path: ImmutableString| emit(&path, None, Map::new()));
    def!(e, t, "fail", |path: ImmutableString, params: Map| emit(&path, None, params));
    def!(e, t, "fail", |path: ImmutableString, variant: ImmutableString, params: Map| {
        emit(&path, Some(variant.to_string()), params)
    });
    def!(e, t, "ptr", |a: Dynamic| pointer::build(&[a]));
    def!(e, t, "ptr", |a: Dynamic, b: Dynamic| pointer::build(&[a, b]));
    def!(e, t, "ptr", |a: Dynamic, b: Dynamic, c: Dynamic| pointer::build(&[a, b, c]));
    def!(e, t, "ptr", |a: Dynamic, b: Dynamic, c: Dynamic, d: Dynamic| pointer::build(&[a, b, c, d]));
    def!(e, t, "ptr", |a: Dynamic, b: Dynamic, c: Dynamic, d: Dynamic, f: Dynamic| {
        pointer::build(&[a, b, c, d, f])
    });
    def!(e, t, "ptr", |a: Dynamic, b: Dynamic, c: Dynamic, d: Dynamic, f: Dynamic, g: Dynamic| {
        pointer::build(&[a, b, c, d, f, g])
    });

    // --- defensive access ----------------------------------------------
    def!(e, t, "items", |x: Dynamic| if document::is_array(&x) { x } else { Array::new().into() });
    def!(e, t, "rec", |x: Dynamic| if document::is_map(&x) { x } else { Map::new().into() });
    // Same length and indices as the input, so paths stay right; a
    // non-object row reads as `#{}` and its properties as `()`.
    def!(e, t, "records", |x: Dynamic| document::records(x));
    def!(e, t, "num", |x: Dynamic| if as_number(&x).is_some() { x } else { Dynamic::UNIT });
    def!(e, t, "is_num", |x: Dynamic| as_number(&x).is_some());
    def!(e, t, "num_or", |x: Dynamic, d: Dynamic| if as_number(&x).is_some() { x } else { d });
    def!(e, t, "text", |x: Dynamic| as_str(&x).unwrap_or_default());
    def!(e, t, "is_blank", |x: Dynamic| as_str(&x).is_none_or(|s| s.trim().is_empty()));
    def!(e, t, "is_count", |x: Dynamic| is_count(&x));
    def!(e, t, "is_money", |x: Dynamic| is_money(&x));
    def!(e, t, "money_value", |x: Dynamic| money_value(&x));
    def!(e, t, "is_true", |x: Dynamic| x.as_bool().unwrap_or(false));
    def!(e, t, "get", |m: Dynamic, key: ImmutableString| field(&m, &key));

    // --- aggregates -----------------------------------------------------
    // Native work is charged to the rule's operation budget (see rows.rs).
    def_b!(e, t, "sum", |ctx, arr: Dynamic| -> Result<Dynamic, Box<rhai::EvalAltResult>> {
        Ok(sum_values(charged_rows(&ctx, arr)?.into_iter()))
    });
    def_b!(e, t, "sum_of", |ctx,
                            arr: Dynamic,
                            name: ImmutableString|
     -> Result<Dynamic, Box<rhai::EvalAltResult>> {
        Ok(sum_values(charged_rows(&ctx, arr)?.iter().map(|x| field(x, &name))))
    });
    e.register_fn(
        "count_if",
        |ctx: NativeCallContext, arr: Dynamic, pred: FnPtr| -> Result<INT, Box<rhai::EvalAltResult>> {
            let mut n: INT = 0;
            for item in charged_rows(&ctx, arr)? {
                if truthy(&ctx, &pred, &item)? {
                    n += 1;
                }
            }
            Ok(n)
        },
    );
    e.register_fn(
        "sum_if",
        |ctx: NativeCallContext, arr: Dynamic, name: ImmutableString, pred: FnPtr| -> Result<Dynamic, Box<rhai::EvalAltResult>> {
            let mut picked = Vec::new();
            for item in charged_rows(&ctx, arr)? {
                if truthy(&ctx, &pred, &item)? {
                    picked.push(field(&item, &name));
                }
            }
            Ok(sum_values(picked.into_iter()))
        },
    );
    e.register_fn(
        "share_if",
        |ctx: NativeCallContext, arr: Dynamic, pred: FnPtr| -> Result<Dynamic, Box<rhai::EvalAltResult>> {
            let items = charged_rows(&ctx, arr)?;
            if items.is_empty() {
                return Ok(Dynamic::UNIT);
            }
            let mut n: INT = 0;
            for item in &items {
                if truthy(&ctx, &pred, item)? {
                    n += 1;
                }
            }
            #[allow(clippy::cast_precision_loss, reason = "array lengths are bounded by the sandbox")]
            Ok(Dynamic::from_float(n as FLOAT / items.len() as FLOAT))
        },
    );
    // Grouping, for cross-record rules over large batches: one native pass,
    // where a script loop filling a map would be checked for size on every
    // insert. Keys are the key function's result as text; `()` is skipped.
    e.register_fn(
        "first_by",
        |ctx: NativeCallContext, arr: Dynamic, key: FnPtr| -> Result<Map, Box<rhai::EvalAltResult>> {
            let mut out = Map::new();
            for item in charged_rows(&ctx, arr)? {
                if let Some(k) = group_key(&ctx, &key, &item)? {
                    out.entry(k.into()).or_insert(item);
                }
            }
            Ok(out)
        },
    );
    e.register_fn(
        "count_by",
        |ctx: NativeCallContext, arr: Dynamic, key: FnPtr| -> Result<Map, Box<rhai::EvalAltResult>> {
            let mut counts: std::collections::BTreeMap<String, INT> = std::collections::BTreeMap::new();
            for item in charged_rows(&ctx, arr)? {
                if let Some(k) = group_key(&ctx, &key, &item)? {
                    *counts.entry(k).or_insert(0) += 1;
                }
            }
            Ok(counts.into_iter().map(|(k, n)| (k.into(), Dynamic::from_int(n))).collect())
        },
    );
    def_b!(e, t, "min_of", |ctx,
                            arr: Dynamic,
                            name: ImmutableString|
     -> Result<Dynamic, Box<rhai::EvalAltResult>> {
        Ok(extreme(charged_rows(&ctx, arr)?, &name, std::cmp::Ordering::Less))
    });
    def_b!(e, t, "max_of", |ctx,
                            arr: Dynamic,
                            name: ImmutableString|
     -> Result<Dynamic, Box<rhai::EvalAltResult>> {
        Ok(extreme(charged_rows(&ctx, arr)?, &name, std::cmp::Ordering::Greater))
    });
    def!(e, t, "ratio", |a: Dynamic, b: Dynamic| match (as_number(&a), as_number(&b)) {
        (Some(a), Some(b)) if b != 0.0 => Dynamic::from_float(a / b),
        _ => Dynamic::UNIT,
    });
    def_b!(e, t, "distinct", |ctx, arr: Dynamic| -> Result<Array, Box<rhai::EvalAltResult>> {
        // Compared as their text and type, as before handles existed: the
        // document's handles are compared as the plain values they stand for.
        let mut seen: Vec<(String, &'static str)> = Vec::new();
        let mut out = Array::new();
        for x in charged_rows(&ctx, arr)? {
            let plain = document::thaw(&x);
            let key = (plain.to_string(), plain.type_name());
            // Each comparison with what was kept is work too.
            ctx.charge(seen.len())?;
            if !seen.contains(&key) {
                seen.push(key);
                out.push(x);
            }
        }
        Ok(out)
    });

    rows::register(e, t);

    // --- civil dates ----------------------------------------------------
    def!(e, t, "is_date", |x: Dynamic| as_str(&x).is_some_and(|s| dates::parse_date(&s).is_some()));
    def!(e, t, "civil_date", |x: Dynamic| unit_or(date_of(&x).map(dates::format_date)));
    def!(e, t, "days_incl", |a: Dynamic, b: Dynamic| {
        unit_or(date_of(&a).zip(date_of(&b)).map(|(a, b)| dates::days_inclusive(a, b)))
    });
    def!(e, t, "days_between", |a: Dynamic, b: Dynamic| {
        unit_or(date_of(&a).zip(date_of(&b)).map(|(a, b)| dates::days_between(a, b)))
    });
    def!(e, t, "date_add", |a: Dynamic, n: INT| {
        unit_or(date_of(&a).and_then(|d| dates::add_days(d, n)).map(dates::format_date))
    });
    def!(e, t, "iso_week", |a: Dynamic| unit_or(date_of(&a).map(dates::iso_week)));
    def!(e, t, "month_of", |a: Dynamic| unit_or(date_of(&a).map(dates::month_bucket)));
    def!(e, t, "months_since", |a: Dynamic, b: Dynamic| {
        unit_or(date_of(&a).zip(date_of(&b)).map(|(a, b)| dates::months_since(a, b)))
    });
    def!(e, t, "date_in", |x: Dynamic, from: Dynamic, to: Dynamic| {
        match (date_of(&x), date_of(&from), date_of(&to)) {
            (Some(x), Some(f), Some(t)) => f <= x && x <= t,
            _ => false,
        }
    });
    def!(e, t, "days_late", |x: Dynamic, deadline: Dynamic| {
        unit_or(date_of(&x).zip(date_of(&deadline)).map(|(x, d)| dates::days_between(d, x).max(0)))
    });

    // --- vocabularies ---------------------------------------------------
    def!(e, t, "title_rank", |x: Dynamic| title_rank_dyn(&x));
    def!(e, t, "mid_plus", |x: Dynamic| title_rank_dyn(&x) >= 3);
    def!(e, t, "assoc_plus", |x: Dynamic| title_rank_dyn(&x) >= 4);
    def!(e, t, "senior", |x: Dynamic| title_rank_dyn(&x) >= 4);
    def!(e, t, "title_level_of", |x: Dynamic| {
        unit_or(code_string(&x).and_then(|c| vocab::title_level_of_code(&c)))
    });
    def!(e, t, "title_code_ok", |x: Dynamic| {
        code_string(&x).is_some_and(|c| vocab::title_level_of_code(&c).is_some())
    });
    def!(e, t, "grade_level_ok", |x: Dynamic| x.as_int().is_ok_and(vocab::grade_level_valid));
    def!(e, t, "grade_class_ok", |x: Dynamic| as_str(&x).is_some_and(|s| vocab::grade_class_valid(&s)));
    def!(e, t, "inst_type_ok", |x: Dynamic| as_str(&x).is_some_and(|s| vocab::inst_type_well_formed(&s)));
    def!(e, t, "is_specialty_inst", |x: Dynamic| as_str(&x).is_some_and(|s| vocab::is_specialty_inst(&s)));
    def!(e, t, "is_grassroots_inst", |x: Dynamic| as_str(&x)
        .is_some_and(|s| vocab::is_grassroots_inst(&s)));
    def!(e, t, "division_ok", |x: Dynamic| as_str(&x).is_some_and(|s| vocab::division_well_formed(&s)));
    def!(e, t, "division_within", |c: Dynamic, p: Dynamic| match (as_str(&c), as_str(&p)) {
        (Some(c), Some(p)) => vocab::division_within(&c, &p),
        _ => false,
    });
    def!(e, t, "province_of", |x: Dynamic| {
        unit_or(as_str(&x).filter(|s| vocab::division_well_formed(s)).map(|s| s[..2].to_string()))
    });
    def!(e, t, "uscc_status", |x: Dynamic| {
        as_str(&x).map_or(ids::IdStatus::BadFormat, |s| ids::uscc_status(&s)).as_str()
    });
    def!(e, t, "resident_id_status", |x: Dynamic| {
        as_str(&x).map_or(ids::IdStatus::BadFormat, |s| ids::resident_id_status(&s)).as_str()
    });

    // --- deterministic maths (see engine.rs for what is left out) --------
    def!(e, t, "floor", |x: FLOAT| x.floor());
    def!(e, t, "ceiling", |x: FLOAT| x.ceil());
    def!(e, t, "round", |x: FLOAT| x.round());
    def!(e, t, "round4", |x: FLOAT| crate::report::round4(x));
    def!(e, t, "sqrt", |x: FLOAT| x.sqrt());
    def!(e, t, "to_int", |x: FLOAT| x as INT);
    def!(e, t, "to_int", |x: INT| x);
    def!(e, t, "to_float", |x: INT| x as FLOAT);
    def!(e, t, "to_float", |x: FLOAT| x);
    def!(e, t, "parse_int", |s: ImmutableString| unit_or(s.trim().parse::<INT>().ok()));
    def!(e, t, "parse_float", |s: ImmutableString| unit_or(
        s.trim().parse::<FLOAT>().ok().filter(|f| f.is_finite())
    ));
}

fn code_string(x: &Dynamic) -> Option<String> {
    if let Ok(i) = x.as_int() {
        return Some(i.to_string());
    }
    as_str(x).map(|s| s.trim().to_string())
}

fn title_rank_dyn(x: &Dynamic) -> INT {
    code_string(x).and_then(|s| vocab::title_rank(&s)).unwrap_or(-1)
}

fn extreme(items: Vec<Dynamic>, name: &str, want: std::cmp::Ordering) -> Dynamic {
    let mut best: Option<(FLOAT, Dynamic)> = None;
    for item in items {
        let v = field(&item, name);
        if let Some(n) = as_number(&v) {
            if best.as_ref().is_none_or(|(b, _)| n.partial_cmp(b) == Some(want)) {
                best = Some((n, v));
            }
        } else if let Some(d) = date_of(&v) {
            // Dates compare as their Julian day, so min_of/max_of work on date fields too.
            let n = FLOAT::from(d.to_julian_day());
            if best.as_ref().is_none_or(|(b, _)| n.partial_cmp(b) == Some(want)) {
                best = Some((n, v));
            }
        }
    }
    best.map_or(Dynamic::UNIT, |(_, v)| v)
}
