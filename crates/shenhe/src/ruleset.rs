//! Compiled packs and the evaluation of a submission into a report.

use std::collections::BTreeMap;

use rhai::{AST, Dynamic, Engine, Scope};
use serde_json::{Map, Value, json};

use crate::{
    Error,
    engine::{build_engine, classify},
    helpers::{self, Emitted},
    pack::{Manifest, PackSource},
    pointer::{self, DocPosition},
    report::{Finding, Message, PackRef, Report, Severity, Status, dynamic_to_json},
    schema,
};

/// Converts a submission once per evaluation into script data (direct, without
/// serde's generic path). Rhai cannot hold shared values inside data it
/// size-checks, so this is a plain deep value; it is pushed as a constant.
fn to_script_value(v: &Value) -> Dynamic {
    match v {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => n
            .as_i64()
            .map_or_else(|| Dynamic::from_float(n.as_f64().unwrap_or(f64::NAN)), Dynamic::from_int),
        Value::String(s) => s.as_str().into(),
        Value::Array(a) => Dynamic::from_array(a.iter().map(to_script_value).collect()),
        Value::Object(m) => Dynamic::from_map(m.iter().map(|(k, v)| (k.as_str().into(), to_script_value(v))).collect()),
    }
}

/// What a rule file declares in its `//!` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleMeta {
    /// Catalogue id, e.g. `NT-01`.
    pub id: String,
    /// Severity of the default outcome.
    pub severity: Severity,
    /// The seed clause the rule comes from.
    pub seed: String,
    /// Named outcomes with their own severity and message (`WH-02.too_many`).
    pub variants: BTreeMap<String, Severity>,
    /// File the rule was read from.
    pub file: String,
}

impl RuleMeta {
    /// Parses the `//! key: value` lines at the top of a rule file.
    pub fn parse(file: &str, source: &str) -> Result<Self, Error> {
        let bad = |message: String| Error::RuleHeader {
            file: file.to_owned(),
            message,
        };
        let (mut id, mut severity, mut seed) = (None, None, String::new());
        let mut variants = BTreeMap::new();
        for line in source.lines().map(str::trim).filter_map(|l| l.strip_prefix("//!")) {
            let Some((key, value)) = line.split_once(':') else { continue };
            let (key, value) = (key.trim(), value.trim());
            match key.split_whitespace().collect::<Vec<_>>().as_slice() {
                ["id"] => id = Some(value.to_owned()),
                ["severity"] => severity = Some(Severity::parse(value).ok_or_else(|| bad(format!("unknown severity {value:?}")))?),
                ["seed"] => value.clone_into(&mut seed),
                ["variant", name] => {
                    let sev = Severity::parse(value).ok_or_else(|| bad(format!("unknown severity {value:?} for variant {name}")))?;
                    variants.insert((*name).to_owned(), sev);
                }
                _ => {}
            }
        }
        let id = id.ok_or_else(|| bad("the header has no `//! id: …` line".into()))?;
        let severity = severity.ok_or_else(|| bad("the header has no `//! severity: error|warning|info` line".into()))?;
        Ok(Self {
            id,
            severity,
            seed,
            variants,
            file: file.to_owned(),
        })
    }
}

struct CompiledRule {
    meta: RuleMeta,
    ast: AST,
}

/// One pack, compiled: engine, schema validator, ASTs and messages.
pub struct CompiledPack {
    manifest: Manifest,
    optimize: bool,
    hash: String,
    engine: Engine,
    validator: jsonschema::Validator,
    params: Dynamic,
    derive: Option<AST>,
    rules: Vec<CompiledRule>,
    batch: Vec<CompiledRule>,
    messages: BTreeMap<String, Message>,
    source: PackSource,
}

/// Names a script sees; declared at compile time so `strict_variables` can
/// reject typos, but not as constants, so the optimiser cannot fold them.
fn declared(names: &[&'static str]) -> Scope<'static> {
    let mut scope = Scope::new();
    for name in names {
        scope.push_dynamic(*name, Dynamic::UNIT);
    }
    scope
}

/// Names a rule or `derive.rhai` sees.
fn compile_scope() -> Scope<'static> {
    declared(&["submission", "params", "derived"])
}

/// Operations a batch rule gets per record (and per registry entry), on top
/// of the pack's `max_operations`.
pub const BATCH_OPS_PER_RECORD: u64 = 2_000;

/// Items (counted as Rhai counts them, nested ones included) a batch rule's
/// arrays and maps may hold per record, when that is more than the pack's limits.
pub const BATCH_ITEMS_PER_RECORD: usize = 64;

/// Bytes of text a batch rule's collections may hold per record (and per
/// registry entry), when that is more than the pack's `max_string_len`.
pub const BATCH_TEXT_PER_RECORD: usize = 1_024;

/// Names a batch rule sees.
fn batch_scope() -> Scope<'static> {
    declared(&["records", "params", "registry"])
}

fn compile_script(engine: &Engine, pack: &str, file: &str, source: &str) -> Result<AST, Error> {
    compile_in(engine, &compile_scope(), pack, file, source)
}

fn compile_in(engine: &Engine, scope: &Scope<'_>, pack: &str, file: &str, source: &str) -> Result<AST, Error> {
    engine.compile_with_scope(scope, source).map_err(|e| {
        let pos = e.position();
        Error::RuleCompile {
            pack: pack.to_owned(),
            file: file.to_owned(),
            line: pos.line().unwrap_or(0),
            column: pos.position().unwrap_or(0),
            message: e.err_type().to_string(),
        }
    })
}

/// How packs are compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompileOptions {
    /// Run Rhai's AST optimiser (constant folding, dead-code removal). On by
    /// default; the test suite turns it off to prove it changes no report.
    pub optimize: bool,
}

impl Default for CompileOptions {
    fn default() -> Self {
        Self { optimize: true }
    }
}

impl CompiledPack {
    /// Compiles a pack: every script, the schema, and the message table.
    pub fn compile(source: PackSource) -> Result<Self, Error> {
        Self::compile_with(source, CompileOptions::default())
    }

    /// [`CompiledPack::compile`] with explicit options.
    pub fn compile_with(source: PackSource, options: CompileOptions) -> Result<Self, Error> {
        let m = &source.manifest;
        let engine = build_engine(&m.limits, options.optimize);
        let validator = schema::compile(&m.id, &source.schema, &[])?;
        let params = rhai::serde::to_dynamic(&source.params).map_err(|e| Error::PackFile {
            file: "params.toml".into(),
            message: e.to_string(),
        })?;
        let lib = match &source.lib {
            Some(s) => {
                // Only the functions are kept: lib.rhai is a library, not a rule.
                Some(compile_script(&engine, &m.id, &s.file, &s.source)?.clone_functions_only())
            }
            None => None,
        };
        let with_lib = |ast: AST| match &lib {
            Some(l) => l.merge(&ast),
            None => ast,
        };
        let derive = match &source.derive {
            Some(s) => Some(with_lib(compile_script(&engine, &m.id, &s.file, &s.source)?)),
            None => None,
        };
        let mut seen = BTreeMap::new();
        let mut compile_rules = |scripts: &[crate::pack::Script], scope: &Scope<'_>| -> Result<Vec<CompiledRule>, Error> {
            let mut out = Vec::with_capacity(scripts.len());
            for s in scripts {
                let meta = RuleMeta::parse(&s.file, &s.source)?;
                if let Some(other) = seen.insert(meta.id.clone(), s.file.clone()) {
                    return Err(Error::RuleHeader {
                        file: s.file.clone(),
                        message: format!("rule id {} is already declared by {other}", meta.id),
                    });
                }
                for key in std::iter::once(meta.id.clone()).chain(meta.variants.keys().map(|v| format!("{}.{v}", meta.id))) {
                    if !source.messages.contains_key(&key) {
                        return Err(Error::MissingMessage { pack: m.id.clone(), key });
                    }
                }
                let ast = with_lib(compile_in(&engine, scope, &m.id, &s.file, &s.source)?);
                out.push(CompiledRule { meta, ast });
            }
            Ok(out)
        };
        let rules = compile_rules(&source.rules, &compile_scope())?;
        let batch = compile_rules(&source.batch, &batch_scope())?;
        if let Some(columns) = &source.columns {
            crate::sheet::Mapping::from_value(columns).map_err(|e| Error::PackFile {
                file: "columns.toml".into(),
                message: e.to_string(),
            })?;
        }
        Ok(Self {
            optimize: options.optimize,
            manifest: source.manifest.clone(),
            hash: source.hash.clone(),
            engine,
            validator,
            params,
            derive,
            rules,
            batch,
            messages: source.messages.clone(),
            source,
        })
    }

    /// The manifest.
    #[must_use]
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The `sha256:` content hash.
    #[must_use]
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The source the pack was compiled from (to write it as a bundle).
    #[must_use]
    pub fn source(&self) -> &PackSource {
        &self.source
    }

    /// The rules this pack checks on each submission.
    pub fn rules(&self) -> impl Iterator<Item = &RuleMeta> {
        self.rules.iter().map(|r| &r.meta)
    }

    /// The cross-record rules this pack checks over a batch.
    pub fn batch_rules(&self) -> impl Iterator<Item = &RuleMeta> {
        self.batch.iter().map(|r| &r.meta)
    }

    /// The spreadsheet column mapping (`columns.toml`), if the pack has one.
    #[must_use]
    pub fn mapping(&self) -> Option<crate::sheet::Mapping> {
        self.source.columns.as_ref().and_then(|c| crate::sheet::Mapping::from_value(c).ok())
    }

    fn pack_ref(&self) -> PackRef {
        PackRef {
            id: self.manifest.id.clone(),
            version: self.manifest.version.clone(),
            hash: self.hash.clone(),
        }
    }

    /// Whether `policy` selects this pack.
    fn matches(&self, form: Option<&str>, policy: Option<&Map<String, Value>>) -> bool {
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
        let mut findings = schema::findings(&self.validator, submission);
        let mut derived_map = rhai::Map::new();
        // A non-object submission can only have SCHEMA findings; rules expect an object.
        if submission.is_object() {
            {
                let sub = to_script_value(submission);
                let mut scope = Scope::new();
                scope.push_constant_dynamic("submission", sub);
                scope.push_constant_dynamic("params", self.params.clone());
                if let Some(ast) = &self.derive {
                    match self.engine.eval_ast_with_scope::<Dynamic>(&mut scope, ast) {
                        Ok(d) => match d.try_cast::<rhai::Map>() {
                            Some(m) => derived_map = m,
                            None => findings.push(self.engine_finding(
                                "derive",
                                "rule.runtime",
                                "derive.rhai 的结果不是映射（map）",
                                "derive.rhai must evaluate to a map",
                                None,
                                None,
                            )),
                        },
                        Err(e) => {
                            let f = classify(e, &self.manifest.limits);
                            findings.push(self.engine_finding("derive", f.code, &f.detail_zh, &f.detail, f.line, f.column));
                        }
                    }
                    // A failed derive must not leak half-computed locals into the rules.
                    scope.rewind(2);
                }
                scope.push_constant_dynamic("derived", derived_map.clone().into());
                let base = scope.len();
                for rule in &self.rules {
                    helpers::drain_emitted();
                    let outcome = self.engine.run_ast_with_scope(&mut scope, &rule.ast);
                    let emitted = helpers::drain_emitted();
                    scope.rewind(base);
                    match outcome {
                        Ok(()) => findings.extend(emitted.into_iter().map(|e| self.finding(&rule.meta, e))),
                        Err(e) => {
                            let f = classify(e, &self.manifest.limits);
                            findings.push(self.engine_finding(&rule.meta.id, f.code, &f.detail_zh, &f.detail, f.line, f.column));
                        }
                    }
                }
            }
        }
        let derived = self.derived_json(&derived_map);
        let record = derived_map.get("_batch").map(dynamic_to_json);
        (finish(Some(self.pack_ref()), submission, findings, derived), record)
    }

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
    pub fn run_batch(&self, records: impl IntoIterator<Item = Value>, registry: Option<&Value>) -> Vec<crate::batch::BatchFinding> {
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
                to_script_value(&r)
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
        let engine = build_engine(&limits, self.optimize);
        let mut scope = Scope::new();
        scope.push_constant_dynamic("records", Dynamic::from_array(array));
        scope.push_constant_dynamic("params", self.params.clone());
        scope.push_constant_dynamic("registry", registry.map_or(Dynamic::UNIT, to_script_value));
        let base = scope.len();
        for rule in &self.batch {
            helpers::drain_emitted();
            let outcome = engine.run_ast_with_scope(&mut scope, &rule.ast);
            let emitted = helpers::drain_emitted();
            scope.rewind(base);
            let findings: Vec<Finding> = match outcome {
                Ok(()) => emitted.into_iter().map(|e| self.finding(&rule.meta, e)).collect(),
                Err(e) => {
                    let f = classify(e, &limits);
                    vec![self.engine_finding(&rule.meta.id, f.code, &f.detail_zh, &f.detail, f.line, f.column)]
                }
            };
            for f in findings {
                out.push(self.batch_finding(f, &known));
            }
        }
        out
    }

    /// Splits a batch finding's path into the record and the path inside it.
    fn batch_finding(&self, f: Finding, known: &std::collections::BTreeSet<u64>) -> crate::batch::BatchFinding {
        let tokens = pointer::tokens(&f.path).unwrap_or_default();
        let (record, path) = match tokens.first().map(|t| t.parse::<u64>()) {
            None => (None, String::new()),
            Some(Ok(i)) if known.contains(&i) => (Some(i), f.path[1 + tokens[0].len()..].to_owned()),
            Some(_) => {
                let detail = format!("a batch finding's path must start with a record index, got {:?}", f.path);
                let e = self.engine_finding(&f.rule, "rule.runtime", "批量规则给出的路径不是记录序号", &detail, None, None);
                return crate::batch::BatchFinding::new(&self.manifest.id, None, String::new(), e);
            }
        };
        crate::batch::BatchFinding::new(&self.manifest.id, record, path, f)
    }

    fn derived_json(&self, map: &rhai::Map) -> Map<String, Value> {
        let mut out = Map::new();
        for name in &self.manifest.derived {
            out.insert(name.clone(), map.get(name.as_str()).map_or(Value::Null, dynamic_to_json));
        }
        for (k, v) in map {
            // `_name` values are working values shared with the rules, not figures.
            if !k.starts_with('_') && !out.contains_key(k.as_str()) {
                out.insert(k.to_string(), dynamic_to_json(v));
            }
        }
        out
    }

    fn finding(&self, rule: &RuleMeta, e: Emitted) -> Finding {
        let params = match dynamic_to_json(&e.params.into()) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let (severity, key) = match &e.variant {
            None => (rule.severity, rule.id.clone()),
            Some(v) => match rule.variants.get(v) {
                Some(s) => (*s, format!("{}.{v}", rule.id)),
                None => {
                    let detail = format!("fail() names variant {v:?}, which the header of {} does not declare", rule.file);
                    return self.engine_finding(&rule.id, "rule.runtime", &format!("规则使用了未声明的结果类型 {v}"), &detail, None, None);
                }
            },
        };
        if pointer::tokens(&e.path).is_none() {
            let detail = format!("fail() was given {:?}, which is not a JSON Pointer", e.path);
            return self.engine_finding(&rule.id, "rule.runtime", "规则给出的路径不是 JSON Pointer", &detail, None, None);
        }
        let (message, message_en) = self.messages.get(&key).map_or_else(
            || (format!("未通过规则（{}）", rule.id), format!("Rule failed ({})", rule.id)),
            |m| m.render(&rule.id, &params),
        );
        Finding {
            rule: rule.id.clone(),
            severity,
            path: e.path,
            message,
            message_en,
            params,
            explained: false,
        }
    }

    fn engine_finding(&self, rule: &str, code: &str, zh: &str, en: &str, line: Option<usize>, column: Option<usize>) -> Finding {
        let mut params = Map::new();
        params.insert("rule".into(), json!(rule));
        params.insert("code".into(), json!(code));
        params.insert("detail".into(), json!(en));
        if let Some(l) = line {
            params.insert("line".into(), json!(l));
        }
        if let Some(c) = column {
            params.insert("column".into(), json!(c));
        }
        Finding {
            rule: "ENGINE".into(),
            severity: Severity::Error,
            path: String::new(),
            message: format!("规则 {rule} 无法完成审核：{zh}（ENGINE）"),
            message_en: format!("Rule {rule} could not be checked: {en} (ENGINE)"),
            params,
            explained: false,
        }
    }
}

/// Marks explained warnings, sorts, and computes the status.
fn finish(pack: Option<PackRef>, submission: &Value, mut findings: Vec<Finding>, derived: Map<String, Value>) -> Report {
    let explanations: Vec<(&str, Option<&str>)> = submission
        .get("explanations")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter(|e| e.get("text").and_then(Value::as_str).is_some_and(|t| !t.trim().is_empty()))
                .filter_map(|e| Some((e.get("rule")?.as_str()?, e.get("path").and_then(Value::as_str))))
                .collect()
        })
        .unwrap_or_default();
    for f in &mut findings {
        f.explained = f.severity == Severity::Warning && explanations.iter().any(|(rule, path)| *rule == f.rule && path.is_none_or(|p| p == f.path));
    }
    let mut keyed: Vec<(DocPosition, Finding)> = findings.into_iter().map(|f| (DocPosition::of(submission, &f.path), f)).collect();
    keyed.sort_by(|(pa, a), (pb, b)| {
        pa.cmp(pb)
            .then_with(|| a.rule.cmp(&b.rule))
            .then_with(|| a.severity.cmp(&b.severity))
            .then_with(|| a.message.cmp(&b.message))
            .then_with(|| Value::Object(a.params.clone()).to_string().cmp(&Value::Object(b.params.clone()).to_string()))
    });
    let findings: Vec<Finding> = keyed.into_iter().map(|(_, f)| f).collect();
    let form = submission.get("form").and_then(Value::as_str).map(str::to_owned);
    Report {
        form,
        pack,
        status: Status::of(&findings),
        findings,
        derived,
    }
}

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

fn pack_none(form: Option<&str>, policy: Option<&Map<String, Value>>, forced: Option<&str>) -> Finding {
    let get = |k: &str| policy.and_then(|p| p.get(k)).cloned().unwrap_or(Value::Null);
    let mut params = Map::new();
    params.insert("form".into(), form.map_or(Value::Null, |f| json!(f)));
    params.insert("program".into(), get("program"));
    params.insert("year".into(), get("year"));
    params.insert("region".into(), get("region"));
    params.insert("pack".into(), forced.map_or_else(|| get("pack"), |f| json!(f)));
    let show = |v: &Value| match v {
        Value::Null => "—".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let (f, pr, y, r, pk) = (
        show(&params["form"]),
        show(&params["program"]),
        show(&params["year"]),
        show(&params["region"]),
        show(&params["pack"]),
    );
    Finding {
        rule: "PACK-NONE".into(),
        severity: Severity::Error,
        path: if policy.is_some() { "/policy".into() } else { String::new() },
        message: format!("没有适用的规则包：表单 {f}，项目 {pr}，年度 {y}，地区 {r}，指定规则包 {pk}（PACK-NONE）"),
        message_en: format!("No rule pack matches: form {f}, program {pr}, year {y}, region {r}, pack {pk} (PACK-NONE)"),
        params,
        explained: false,
    }
}
