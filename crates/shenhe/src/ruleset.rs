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

    /// The label catalogue of a pack (empty for an unknown id).
    #[must_use]
    pub fn labels(&self, pack: &str) -> &crate::labels::Labels {
        static NONE: std::sync::OnceLock<crate::labels::Labels> = std::sync::OnceLock::new();
        self.pack(pack).map_or_else(|| NONE.get_or_init(Default::default), |p| &p.source.labels)
    }

    /// A rule's title: from `pack` when given, else from the first pack
    /// that names the rule (`X-01` has one meaning in every pack).
    #[must_use]
    pub fn rule_title(&self, pack: Option<&str>, rule: &str, english: bool) -> Option<&str> {
        pack.and_then(|id| self.labels(id).rule(rule, english))
            .or_else(|| self.packs.iter().find_map(|p| p.source.labels.rule(rule, english)))
    }

    /// A division code as people read it (`泉港区（350505）`), with the name
    /// from any pack's catalogue or the provinces the engine ships.
    #[must_use]
    pub fn division_text(&self, code: &str, english: bool) -> String {
        self.packs.iter().find(|p| p.source.labels.divisions.contains_key(code)).map_or_else(
            || crate::labels::Labels::default().division_text(code, english),
            |p| p.source.labels.division_text(code, english),
        )
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
