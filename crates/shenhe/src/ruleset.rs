//! Every pack the host loaded, and the choice of pack for each submission.
//!
//! The path a submission takes: `pack.rs` (the pack's files) → `compile.rs`
//! (engine, schema, ASTs) → `document.rs` (what the scripts read) →
//! `evaluate.rs` (schema, derive, rules) → `finding.rs` → `report.rs`.
//! Cross-record rules run over a whole batch in `batch_rules.rs`.

use serde_json::{Map, Value};

use crate::{
    Error,
    compile::{CompileOptions, CompiledPack},
    finding::pack_none,
    pack::PackSource,
    report::{Report, finish},
};

/// Every pack the host loaded; picks the pack for each submission.
#[derive(Default)]
pub struct RuleSet {
    packs: Vec<CompiledPack>,
}

impl RuleSet {
    /// Compiles packs into a rule set. Pack ids must be unique.
    pub fn compile(sources: impl IntoIterator<Item = PackSource>) -> Result<Self, Error> {
        Self::compile_with(sources, CompileOptions::default())
    }

    /// [`RuleSet::compile`] with explicit options.
    pub fn compile_with(sources: impl IntoIterator<Item = PackSource>, options: CompileOptions) -> Result<Self, Error> {
        let mut packs: Vec<CompiledPack> = Vec::new();
        for s in sources {
            if packs.iter().any(|p| p.manifest.id == s.manifest.id) {
                return Err(Error::DuplicatePack(s.manifest.id));
            }
            packs.push(CompiledPack::compile_with(s, options)?);
        }
        Ok(Self { packs })
    }

    /// The compiled packs, in load order.
    #[must_use]
    pub fn packs(&self) -> &[CompiledPack] {
        &self.packs
    }

    /// A pack by id.
    #[must_use]
    pub fn pack(&self, id: &str) -> Option<&CompiledPack> {
        self.packs.iter().find(|p| p.manifest.id == id)
    }

    /// Validates a submission with the pack its `form` and `policy` select,
    /// or with `forced` when given. No match gives a `PACK-NONE` report.
    #[must_use]
    pub fn evaluate(&self, submission: &Value, forced: Option<&str>) -> Report {
        self.evaluate_for_batch(submission, forced).0
    }

    /// [`RuleSet::evaluate`], and the batch record (see [`CompiledPack::evaluate_for_batch`]).
    #[must_use]
    pub fn evaluate_for_batch(&self, submission: &Value, forced: Option<&str>) -> (Report, Option<Value>) {
        let form = submission.get("form").and_then(Value::as_str);
        let policy = submission.get("policy").and_then(Value::as_object);
        let chosen = match forced {
            Some(id) => self.pack(id),
            None => self.packs.iter().find(|p| p.matches(form, policy)),
        };
        match chosen {
            Some(p) => p.evaluate_for_batch(submission),
            None => (finish(None, submission, vec![pack_none(form, policy, forced)], Map::new()), None),
        }
    }
}
