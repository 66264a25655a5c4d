//! Evaluating one submission with its pack: the schema, then `derive.rhai`,
//! then every rule, each with its own operation budget, over the read-only
//! document (see `document.rs`). Findings become the report (`report.rs`).

use rhai::{Dynamic, Scope};
use serde_json::{Map, Value};

use crate::{
    compile::CompiledPack,
    document,
    engine::classify,
    helpers,
    report::{self, PackRef, Report, dynamic_to_json},
    schema,
};

impl CompiledPack {
    pub(crate) fn pack_ref(&self) -> PackRef {
        PackRef {
            id: self.manifest.id.clone(),
            version: self.manifest.version.clone(),
            hash: self.hash.clone(),
            edition: self.source.edition.clone(),
        }
    }

    /// Whether `policy` selects this pack.
    pub(crate) fn matches(&self, form: Option<&str>, policy: Option<&Map<String, Value>>) -> bool {
        let Some(policy) = policy else { return false };
        if let Some(pack) = policy.get("pack").and_then(Value::as_str) {
            return pack == self.manifest.id;
        }
        let p = &self.manifest.policy;
        let year_ok = match policy.get("year") {
            Some(Value::Number(n)) => n.as_i64() == Some(p.year),
            Some(Value::String(s)) => s.trim().parse::<i64>().ok() == Some(p.year),
            _ => false,
        };
        form == Some(self.manifest.form.as_str())
            && policy.get("program").and_then(Value::as_str) == Some(p.program.as_str())
            && year_ok
            && policy.get("region").and_then(Value::as_str) == Some(p.region.as_str())
    }

    /// Validates one submission. Never panics and never fails: every problem
    /// is a finding.
    #[must_use]
    pub fn evaluate(&self, submission: &Value) -> Report {
        self.evaluate_for_batch(submission).0
    }

    /// [`CompiledPack::evaluate`], and the submission's batch record: the
    /// `_batch` map derive.rhai computes (what the cross-record rules read).
    #[must_use]
    pub fn evaluate_for_batch(&self, submission: &Value) -> (Report, Option<Value>) {
        let mut findings = schema::findings(&self.validator, submission, &self.source.labels);
        let mut derived_map = rhai::Map::new();
        let mut derived_doc = Dynamic::UNIT;
        // A non-object submission can only have SCHEMA findings; rules expect an object.
        if submission.is_object() {
            // What the scripts read, in place: `derived` is filled in after derive.rhai.
            let mut inputs = [document::from_json(submission), self.params.clone(), Dynamic::UNIT];
            let limits = &self.manifest.limits;
            if let Some((ast, fast)) = &self.derive {
                helpers::drain_emitted();
                helpers::native::reset_charges();
                // The compiled form first; the interpreter decides anything it left.
                let compiled = fast
                    .as_ref()
                    .ok()
                    .and_then(|p| p.run(&inputs[..2], limits).ok())
                    .and_then(|d| d.try_cast::<rhai::Map>());
                match compiled {
                    Some(m) => derived_map = m,
                    None => {
                        helpers::native::reset_charges();
                        #[cfg(feature = "coverage")]
                        crate::coverage::fell_back(&self.manifest.id, "derive.rhai");
                        match self.interpret_derive(ast, &inputs[0]) {
                            Ok(m) => derived_map = m,
                            Err(f) => findings.push(*f),
                        }
                    }
                }
                // fail() reports a rule's finding; derive.rhai has no rule to report it for.
                if !helpers::drain_emitted().is_empty() {
                    findings.push(self.engine_finding(
                        "derive",
                        "rule.runtime",
                        "derive.rhai 调用了 fail()，但 fail() 只能在规则脚本（rules/*.rhai）中使用",
                        "derive.rhai called fail(), which only rule scripts (rules/*.rhai) may call",
                        None,
                        None,
                    ));
                }
            }
            // The rules read the figures as a document too: built once, never copied.
            derived_doc = document::freeze(std::mem::take(&mut derived_map).into());
            inputs[2] = derived_doc.clone();
            let mut scope: Option<Scope<'_>> = None;
            for rule in &self.rules {
                helpers::drain_emitted();
                helpers::native::reset_charges();
                if let Ok(p) = &rule.fast {
                    if p.run(&inputs, limits).is_ok() {
                        findings.extend(helpers::drain_emitted().into_iter().map(|e| self.finding(&rule.meta, e)));
                        continue;
                    }
                    // Rerun in the interpreter: what the compiled run emitted is dropped.
                    helpers::drain_emitted();
                    helpers::native::reset_charges();
                    #[cfg(feature = "coverage")]
                    crate::coverage::fell_back(&self.manifest.id, &rule.meta.file);
                }
                let scope = scope.get_or_insert_with(|| {
                    let mut s = Scope::new();
                    s.push_constant_dynamic("submission", inputs[0].clone());
                    s.push_constant_dynamic("params", inputs[1].clone());
                    s.push_constant_dynamic("derived", inputs[2].clone());
                    s
                });
                let outcome = self.engine.run_ast_with_scope(scope, &rule.ast);
                let emitted = helpers::drain_emitted();
                scope.rewind(3);
                match outcome {
                    Ok(()) => findings.extend(emitted.into_iter().map(|e| self.finding(&rule.meta, e))),
                    Err(e) => {
                        let f = classify(e, limits);
                        findings.push(self.engine_finding(&rule.meta.id, f.code, &f.detail_zh, &f.detail, f.line, f.column));
                    }
                }
            }
        }
        if derived_doc.is_unit() {
            // No script ran: every declared figure is null.
            derived_doc = document::freeze(rhai::Map::new().into());
        }
        let figures = derived_doc.read_lock::<document::DocMap>();
        let derived = figures.as_deref().map_or_else(Map::new, |d| self.derived_json(d));
        let record = figures
            .as_deref()
            .filter(|d| d.contains_key("_batch"))
            .map(|d| dynamic_to_json(&d.get("_batch")));
        (report::finish(Some(self.pack_ref()), submission, findings, derived), record)
    }

    /// `derive.rhai` in the interpreter: the map it returns, or its ENGINE finding.
    fn interpret_derive(&self, ast: &rhai::AST, sub: &Dynamic) -> Result<rhai::Map, Box<crate::Finding>> {
        let mut scope = Scope::new();
        scope.push_constant_dynamic("submission", sub.clone());
        scope.push_constant_dynamic("params", self.params.clone());
        match self.engine.eval_ast_with_scope::<Dynamic>(&mut scope, ast) {
            Ok(d) => d.try_cast::<rhai::Map>().ok_or_else(|| {
                Box::new(self.engine_finding(
                    "derive",
                    "rule.runtime",
                    "derive.rhai 的结果不是映射（map）",
                    "derive.rhai must evaluate to a map",
                    None,
                    None,
                ))
            }),
            Err(e) => {
                let f = classify(e, &self.manifest.limits);
                Err(Box::new(self.engine_finding("derive", f.code, &f.detail_zh, &f.detail, f.line, f.column)))
            }
        }
    }

    /// The derived figures of the report: the manifest's order first, then
    /// the rest; `_name` values are working values shared with the rules.
    fn derived_json(&self, figures: &document::DocMap) -> Map<String, Value> {
        let mut out = Map::new();
        for name in &self.manifest.derived {
            out.insert(name.clone(), dynamic_to_json(&figures.get(name)));
        }
        for (k, v) in figures.entries() {
            if !k.starts_with('_') && !out.contains_key(k) {
                out.insert(k.to_owned(), dynamic_to_json(&v));
            }
        }
        out
    }
}
