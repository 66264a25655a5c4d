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
pub(crate) fn build_engine(limits: &Limits, optimize: bool, properties: &std::collections::BTreeSet<String>) -> Engine {
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
    helpers::register(&mut e, &mut helpers::native::Natives::default());
    document::register(&mut e, properties);
    e
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
