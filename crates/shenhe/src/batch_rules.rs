//! Cross-record rules (`batch/*.rhai`): run once over a whole batch, after
//! every submission of it was judged. Their records are plain Rhai data (the
//! `_batch` maps of `derive.rhai`), and their limits grow with the batch.

use rhai::{Dynamic, Scope};
use serde_json::Value;

use crate::{
    batch::BatchFinding,
    compile::CompiledPack,
    document,
    engine::{build_engine, classify},
    helpers, pointer,
    report::Finding,
};

/// Operations a batch rule gets per record (and per registry entry), on top
/// of the pack's `max_operations`.
pub const BATCH_OPS_PER_RECORD: u64 = 2_000;

/// Items (counted as Rhai counts them, nested ones included) a batch rule's
/// arrays and maps may hold per record, when that is more than the pack's limits.
pub const BATCH_ITEMS_PER_RECORD: usize = 64;

/// Bytes of text a batch rule's collections may hold per record (and per
/// registry entry), when that is more than the pack's `max_string_len`.
pub const BATCH_TEXT_PER_RECORD: usize = 1_024;

impl CompiledPack {
    /// Runs the cross-record rules over this pack's records, each an object
    /// with at least `index` (its place in the whole batch). A rule points
    /// at a record with `ptr(r.index, "field", …)`, and at the whole batch
    /// with `""`. `registry` is the caller's reference list, or `()`.
    ///
    /// A batch rule's limits grow with the batch, so the same rule that
    /// checks ten records can check a hundred thousand: operations get
    /// [`BATCH_OPS_PER_RECORD`] more per record, arrays and maps may hold
    /// [`BATCH_ITEMS_PER_RECORD`] items per record, and the text in them may reach
    /// [`BATCH_TEXT_PER_RECORD`] bytes per record. Both depend only on the number of records, so a
    /// batch stops at the same point on every host.
    #[must_use]
    pub fn run_batch(&self, records: impl IntoIterator<Item = Value>, registry: Option<&Value>) -> Vec<BatchFinding> {
        let mut out = Vec::new();
        if self.batch.is_empty() {
            return out;
        }
        let mut known = std::collections::BTreeSet::new();
        let array: rhai::Array = records
            .into_iter()
            .map(|r| {
                if let Some(i) = r.get("index").and_then(Value::as_u64) {
                    known.insert(i);
                }
                document::plain_from_json(&r)
            })
            .collect();
        let n = array.len();
        let registry_len = registry.and_then(Value::as_array).map_or(0, Vec::len);
        let mut limits = self.manifest.limits;
        limits.max_operations = limits
            .max_operations
            .saturating_add(BATCH_OPS_PER_RECORD.saturating_mul((n + registry_len) as u64));
        // Rhai counts every element and entry nested inside a collection:
        // a map of records holds each record's fields too.
        limits.max_array_len = limits.max_array_len.max(BATCH_ITEMS_PER_RECORD * (n + registry_len));
        limits.max_map_len = limits.max_map_len.max(BATCH_ITEMS_PER_RECORD * (n + registry_len));
        // Rhai counts the text inside a collection against the string limit.
        limits.max_string_len = limits.max_string_len.max(BATCH_TEXT_PER_RECORD * (n + registry_len));
        let inputs = [
            Dynamic::from_array(array),
            document::plain_from_json(&self.source().params),
            registry.map_or(Dynamic::UNIT, document::plain_from_json),
        ];
        // The compiled form first, as for the rules of one submission; each
        // rule it leaves runs in the interpreter after, so the records are moved
        // into its scope rather than copied.
        let mut by_rule: Vec<Option<Vec<Finding>>> = self
            .batch
            .iter()
            .map(|rule| {
                let p = rule.fast.as_ref().ok()?;
                helpers::drain_emitted();
                helpers::native::reset_charges();
                let done = p.run(&inputs, &limits).is_ok();
                #[cfg(feature = "coverage")]
                if !done {
                    crate::coverage::fell_back(&self.manifest.id, &rule.meta.file);
                }
                let emitted = helpers::drain_emitted();
                done.then(|| emitted.into_iter().map(|e| self.finding(&rule.meta, e)).collect())
            })
            .collect();
        if by_rule.iter().any(Option::is_none) {
            let engine = build_engine(&limits, self.optimize, &self.properties, false);
            let mut scope = Scope::new();
            for (name, value) in crate::compile::BATCH_INPUTS.iter().zip(inputs) {
                scope.push_constant_dynamic(*name, value);
            }
            let base = scope.len();
            for (rule, slot) in self.batch.iter().zip(&mut by_rule).filter(|(_, s)| s.is_none()) {
                helpers::drain_emitted();
                helpers::native::reset_charges();
                let outcome = engine.run_ast_with_scope(&mut scope, &rule.ast);
                let emitted = helpers::drain_emitted();
                scope.rewind(base);
                *slot = Some(match outcome {
                    Ok(()) => emitted.into_iter().map(|e| self.finding(&rule.meta, e)).collect(),
                    Err(e) => {
                        let f = classify(e, &limits);
                        vec![self.engine_finding(&rule.meta.id, f.code, &f.detail_zh, &f.detail, f.line, f.column)]
                    }
                });
            }
        }
        for f in by_rule.into_iter().flatten().flatten() {
            out.push(self.batch_finding(f, &known));
        }
        out
    }

    /// Splits a batch finding's path into the record and the path inside it.
    fn batch_finding(&self, f: Finding, known: &std::collections::BTreeSet<u64>) -> BatchFinding {
        let tokens = pointer::tokens(&f.path).unwrap_or_default();
        let (record, path) = match tokens.first().map(|t| t.parse::<u64>()) {
            None => (None, String::new()),
            Some(Ok(i)) if known.contains(&i) => (Some(i), f.path[1 + tokens[0].len()..].to_owned()),
            Some(_) => {
                let detail = format!("a batch finding's path must start with a record index, got {:?}", f.path);
                let e = self.engine_finding(&f.rule, "rule.runtime", "批量规则给出的路径不是记录序号", &detail, None, None);
                return BatchFinding::new(&self.manifest.id, None, String::new(), e);
            }
        };
        BatchFinding::new(&self.manifest.id, record, path, f)
    }
}
