//! Compiling a pack: its rule headers, the schema validator, the sandboxed
//! engine and one AST per script. Done once per pack; evaluations share it.

use std::collections::BTreeMap;

use rhai::{AST, Dynamic, Engine, Scope};

use crate::compiled;
use crate::{
    Error, document,
    engine::build_engine,
    pack::{Manifest, PackSource, Script},
    report::{Message, Severity},
    schema,
};

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
/// A rule, compiled: its header, its AST (with the pack's `lib.rhai`) for
/// the interpreter, and its compiled form when it is inside the subset.
pub(crate) struct CompiledRule {
    pub meta: RuleMeta,
    pub ast: AST,
    pub fast: Fast,
}

/// A script's compiled form, or why it runs in the interpreter only.
pub(crate) type Fast = Result<compiled::Program, compiled::Unsupported>;

/// One pack, compiled: engine, schema validator, ASTs and messages.
pub struct CompiledPack {
    pub(crate) manifest: Manifest,
    pub(crate) optimize: bool,
    pub(crate) hash: String,
    pub(crate) engine: Engine,
    pub(crate) validator: jsonschema::Validator,
    /// `params.toml` as the rules read it: a read-only document.
    pub(crate) params: Dynamic,
    pub(crate) derive: Option<(AST, Fast)>,
    pub(crate) rules: Vec<CompiledRule>,
    pub(crate) batch: Vec<CompiledRule>,
    pub(crate) messages: BTreeMap<String, Message>,
    /// Every property name the pack's scripts read (getters on the document).
    pub(crate) properties: std::collections::BTreeSet<String>,
    pub(crate) source: PackSource,
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

/// What a rule sees (`derive.rhai` sees the first two).
pub(crate) const RULE_INPUTS: [&str; 3] = ["submission", "params", "derived"];

/// What a batch rule sees.
pub(crate) const BATCH_INPUTS: [&str; 3] = ["records", "params", "registry"];

/// Names a rule or `derive.rhai` sees.
fn compile_scope() -> Scope<'static> {
    declared(&RULE_INPUTS)
}

/// Names a batch rule sees.
fn batch_scope() -> Scope<'static> {
    declared(&BATCH_INPUTS)
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
    /// Run scripts inside the compiled subset as compiled closures
    /// (`compiled.rs`). On by default; the test suite turns it off to prove
    /// that the interpreter alone gives the same reports.
    pub compiled: bool,
}

impl Default for CompileOptions {
    fn default() -> Self {
        Self {
            optimize: true,
            compiled: true,
        }
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
        let scripts = || source.lib.iter().chain(&source.derive).chain(&source.rules).chain(&source.batch);
        let properties = document::property_names(scripts().map(|s| s.source.as_str()));
        let engine = build_engine(&m.limits, options.optimize, &properties, true);
        let validator = schema::compile(&m.id, &source.schema, &[])?;
        let params = document::from_json(&source.params);
        let lib = match &source.lib {
            // Only the functions are kept: lib.rhai is a library, not a rule.
            Some(s) => Some((
                compile_in(&engine, &compile_scope(), &m.id, &s.file, &s.source)?.clone_functions_only(),
                s.source.as_str(),
                s.file.as_str(),
            )),
            None => None,
        };
        let with_lib = |ast: &AST| match &lib {
            Some((l, _, _)) => l.merge(ast),
            None => ast.clone(),
        };
        // The compiled form of a script, from its own AST and lib.rhai's
        // functions (parsed once for the whole pack).
        let lib_fns = match &lib {
            Some((l, text, file)) => compiled::functions(&engine, l, text, file),
            None => Ok(compiled::Functions::default()),
        };
        let fast = |ast: &AST, text: &str, inputs: &[&str], file: &str| -> Fast {
            if !options.compiled {
                return Err(compiled::Unsupported("the compiled path is off".into()));
            }
            let lib = lib_fns.as_ref().map_err(|e| compiled::Unsupported(format!("lib.rhai: {}", e.0)))?;
            compiled::compile(&engine, inputs, lib, ast, text, &crate::helpers::NATIVES, &m.limits, (&m.id, file))
        };
        let derive = match &source.derive {
            Some(s) => {
                let ast = compile_in(&engine, &compile_scope(), &m.id, &s.file, &s.source)?;
                let f = fast(&ast, &s.source, &RULE_INPUTS[..2], &s.file);
                Some((with_lib(&ast), f))
            }
            None => None,
        };
        let mut seen = BTreeMap::new();
        let mut compile_rules = |scripts: &[Script], scope: &Scope<'_>, batch: bool| -> Result<Vec<CompiledRule>, Error> {
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
                let ast = compile_in(&engine, scope, &m.id, &s.file, &s.source)?;
                let inputs: &[&str] = if batch { &BATCH_INPUTS } else { &RULE_INPUTS };
                let f = fast(&ast, &s.source, inputs, &s.file);
                out.push(CompiledRule {
                    meta,
                    ast: with_lib(&ast),
                    fast: f,
                });
            }
            Ok(out)
        };
        let rules = compile_rules(&source.rules, &compile_scope(), false)?;
        let batch = compile_rules(&source.batch, &batch_scope(), true)?;
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
            properties,
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

    /// Which scripts run compiled, and why the others run in the interpreter:
    /// `(file, None)` for a compiled one, `(file, Some(reason))` otherwise.
    #[must_use]
    pub fn compiled_scripts(&self) -> Vec<(String, Option<String>)> {
        let derive = self
            .derive
            .iter()
            .map(|(_, f)| ("derive.rhai".to_owned(), f.as_ref().err().map(|e| e.0.clone())));
        derive
            .chain(self.rules.iter().map(|r| (r.meta.file.clone(), r.fast.as_ref().err().map(|e| e.0.clone()))))
            .collect()
    }

    /// The spreadsheet column mapping (`columns.toml`), if the pack has one.
    #[must_use]
    pub fn mapping(&self) -> Option<crate::sheet::Mapping> {
        self.source.columns.as_ref().and_then(|c| crate::sheet::Mapping::from_value(c).ok())
    }
}
