//! The one place a Rhai engine is configured, for every target.

use rhai::{Engine, EvalAltResult, OptimizationLevel, Position, packages::Package};

use crate::{document, helpers, pack::Limits};

/// Builds the sandboxed engine for a pack.
///
/// What is left out, and why:
/// - `eval` (a script could compile code the pack never declared);
/// - `**` (float `powf` is computed by the platform's libm, which may differ
///   in the last bit between wasm and native);
/// - trigonometry, `exp`, `ln`, `log` (same reason: `BasicMathPackage` is not
///   loaded; `helpers::register` adds the exactly rounded subset);
/// - time (`no_time`), modules and `import` (`no_module`): no clock, no files;
/// - `print`/`debug` output goes nowhere, so a script cannot write to a console.
///
/// `properties` are the names the pack's scripts read with `.name`; each
/// gets a getter on the document's objects (see `document.rs`).
/// `bound_total` bounds the total size of a script's variables (below); batch
/// rules, whose limits grow with the batch instead, do without it.
pub(crate) fn build_engine(limits: &Limits, optimize: bool, properties: &std::collections::BTreeSet<String>, bound_total: bool) -> Engine {
    let mut e = Engine::new_raw();
    e.register_global_module(rhai::packages::CorePackage::new().as_shared_module());
    e.register_global_module(rhai::packages::LogicPackage::new().as_shared_module());
    e.register_global_module(rhai::packages::BasicArrayPackage::new().as_shared_module());
    e.register_global_module(rhai::packages::BasicMapPackage::new().as_shared_module());
    e.register_global_module(rhai::packages::MoreStringPackage::new().as_shared_module());
    e.disable_symbol("eval");
    e.disable_symbol("**");
    e.disable_symbol("**=");
    e.on_print(|_| {});
    e.on_debug(|_, _, _| {});
    e.set_strict_variables(true);
    e.set_optimization_level(if optimize { OptimizationLevel::Simple } else { OptimizationLevel::None });
    e.set_max_operations(limits.max_operations)
        .set_max_call_levels(limits.max_call_levels)
        .set_max_expr_depths(limits.max_expr_depth, limits.max_fn_expr_depth)
        .set_max_string_size(limits.max_string_len)
        .set_max_array_size(limits.max_array_len)
        .set_max_map_size(limits.max_map_len)
        .set_max_variables(limits.max_variables);
    if bound_total {
        bound_total_size(&mut e, limits);
    }
    helpers::register(&mut e, &mut helpers::native::Natives::default());
    document::register(&mut e, properties);
    e
}

/// Items all of a script's variables may hold together: twice what one array may.
#[must_use]
pub(crate) const fn max_total_items(limits: &Limits) -> usize {
    limits.max_array_len.saturating_mul(2)
}

/// String bytes all of a script's variables may hold together: sixteen strings' worth.
#[must_use]
pub(crate) const fn max_total_bytes(limits: &Limits) -> usize {
    limits.max_string_len.saturating_mul(16)
}

/// Bounds what one script holds over all its variables, not only each value:
/// without it, 1,000 variables of 100,000 items each would be allowed. Rhai
/// checks each value; this checks their sum whenever a variable is defined,
/// and at every 16th variable read (a value only grows through its name), so
/// the point where a script stops depends on its operations alone and is the
/// same on every host. It fails as Rhai's own size limit does.
#[allow(deprecated, reason = "on_var/on_def_var are marked volatile, not deprecated (rhai's own note)")]
fn bound_total_size(e: &mut Engine, limits: &Limits) {
    let (items, bytes) = (max_total_items(limits), max_total_bytes(limits));
    let audit = move |scope: &rhai::Scope<'_>| -> Result<(), Box<EvalAltResult>> {
        let (mut i, mut b) = (0usize, 0usize);
        // Constants cannot grow: the host's inputs (a batch's records) and `const`s
        // were bounded when they were made, and counting them on every audit
        // would cost a pass over a whole batch.
        for (_, _, v) in scope.iter_raw().filter(|(_, constant, _)| !constant) {
            let (vi, vb) = document::data_size(v);
            i += vi;
            b += vb;
        }
        if i > items || b > bytes {
            return Err(EvalAltResult::ErrorDataTooLarge("Total size of the script's variables".into(), Position::NONE).into());
        }
        Ok(())
    };
    e.on_def_var(move |_, _, ctx| audit(ctx.scope()).map(|()| true));
    e.on_var(move |_, _, ctx| {
        if helpers::native::every_16th_read() {
            audit(ctx.scope())?;
        }
        Ok(None)
    });
}

/// A script failure, split into the stable code, a message without the
/// position, and the position (rhai's `Display` appends it; we keep it apart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScriptFailure {
    /// `rule.limit` or `rule.runtime`.
    pub code: &'static str,
    /// English detail.
    pub detail: String,
    /// zh-CN detail.
    pub detail_zh: String,
    /// 1-based line, if known.
    pub line: Option<usize>,
    /// 1-based column, if known.
    pub column: Option<usize>,
}

fn split_position(pos: Position) -> (Option<usize>, Option<usize>) {
    (pos.line(), pos.position())
}

/// Converts a runtime error once, taking the position out before formatting.
pub(crate) fn classify(mut err: Box<EvalAltResult>, limits: &Limits) -> ScriptFailure {
    let (line, column) = split_position(err.take_position());
    let (code, detail_zh) = match &*err {
        EvalAltResult::ErrorTooManyOperations(_) => ("rule.limit", format!("运算次数超过上限 {}", limits.max_operations)),
        EvalAltResult::ErrorStackOverflow(_) => ("rule.limit", format!("函数调用层数超过上限 {}", limits.max_call_levels)),
        EvalAltResult::ErrorDataTooLarge(what, _) => ("rule.limit", format!("数据规模超过上限（{what}）")),
        EvalAltResult::ErrorTooManyVariables(_) => ("rule.limit", format!("变量个数超过上限 {}", limits.max_variables)),
        _ => ("rule.runtime", "运行时错误".to_owned()),
    };
    let detail = err.to_string();
    ScriptFailure {
        code,
        detail_zh: if code == "rule.runtime" {
            format!("{detail_zh}：{detail}")
        } else {
            detail_zh
        },
        detail,
        line,
        column,
    }
}
