//! shenhe in the browser: a thin `wasm-bindgen` shell over the `shenhe` core.
//!
//! It holds no rule semantics. [`Validator`] compiles bundles and returns the
//! core's report (the same bytes as `shenhe check`); [`attach`] binds an
//! existing HTML form to a validator. See `www/README.md` for the markup.
#![forbid(unsafe_code)]

mod attach;

use std::rc::Rc;

use js_sys::{JSON, Object, Reflect};
use shenhe::{Error, PackSource, RuleSet};
use wasm_bindgen::prelude::*;

pub use attach::{Binding, attach};

/// A compiled set of rule packs.
#[wasm_bindgen]
pub struct Validator {
    rules: Rc<RuleSet>,
}

/// A JS `Error` carrying the core error's message and, for a script that
/// does not compile, `file`, `line` and `column` (the playground shows them).
fn js_error(e: &Error) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    let set = |k: &str, v: JsValue| {
        let _ = Reflect::set(&err, &JsValue::from_str(k), &v);
    };
    set("kind", JsValue::from_str(error_kind(e)));
    if let Error::RuleCompile {
        pack,
        file,
        line,
        column,
        message,
    } = e
    {
        set("pack", JsValue::from_str(pack));
        set("file", JsValue::from_str(file));
        set("line", JsValue::from_f64(*line as f64));
        set("column", JsValue::from_f64(*column as f64));
        set("detail", JsValue::from_str(message));
    }
    if let Error::Json { line, column, .. } = e {
        set("line", JsValue::from_f64(*line as f64));
        set("column", JsValue::from_f64(*column as f64));
    }
    err.into()
}

fn error_kind(e: &Error) -> &'static str {
    match e {
        Error::PackFile { .. } => "pack_file",
        Error::Schema { .. } => "schema",
        Error::RuleCompile { .. } => "rule_compile",
        Error::RuleHeader { .. } => "rule_header",
        Error::MissingMessage { .. } => "missing_message",
        Error::Bundle(_) => "bundle",
        Error::DuplicatePack(_) => "duplicate_pack",
        Error::Json { .. } => "json",
        _ => "other",
    }
}

#[wasm_bindgen]
impl Validator {
    /// Compiles one bundle (`shenhe bundle` output) or a JSON array of
    /// bundles. Each bundle's hash is checked; an edited bundle is refused.
    #[wasm_bindgen(js_name = fromBundle)]
    pub fn from_bundle(bundle_json: &str) -> Result<Validator, JsValue> {
        let sources = PackSource::bundles_from_json(bundle_json).map_err(|e| js_error(&e))?;
        Self::compile(sources)
    }

    /// Compiles one pack from its files, `{ "pack.toml": "…", "rules/x.rhai": "…" }`
    /// (the playground's editor). Compile errors carry `file`, `line`, `column`.
    /// Only in the playground's module (feature `authoring`).
    #[cfg(feature = "authoring")]
    #[wasm_bindgen(js_name = fromFiles)]
    pub fn from_files(files: JsValue) -> Result<Validator, JsValue> {
        let files: std::collections::BTreeMap<String, String> =
            serde_wasm_bindgen::from_value(files).map_err(|e| JsValue::from(js_sys::Error::new(&format!("files: {e}"))))?;
        // Every edition of the pack (editions/*.toml), or the pack itself.
        let sources = PackSource::editions_from_files(files.iter().map(|(p, t)| (p.as_str(), t.as_str()))).map_err(|e| js_error(&e))?;
        Self::compile(sources)
    }

    /// Runs the pack's fixtures against these rules (as edited): `tests` is
    /// `{ "nt01_team_size.json": "…", "base/summary.json": "…", "batch/….json": "…" }`,
    /// the pack's `tests/` directory. Returns `[{ file, name, failures }]`, one
    /// per case; a case passed when `failures` is empty. Only in the
    /// playground's module (feature `authoring`).
    #[cfg(feature = "authoring")]
    #[wasm_bindgen(js_name = runFixtures)]
    pub fn run_fixtures(&self, tests: JsValue) -> Result<JsValue, JsValue> {
        let tests: std::collections::BTreeMap<String, String> =
            serde_wasm_bindgen::from_value(tests).map_err(|e| JsValue::from(js_sys::Error::new(&format!("tests: {e}"))))?;
        let outcomes = shenhe::fixtures::run_tests(&self.rules, &tests);
        let text = serde_json::to_string(&outcomes).map_err(|e| JsValue::from(js_sys::Error::new(&e.to_string())))?;
        JSON::parse(&text)
    }

    fn compile(sources: Vec<PackSource>) -> Result<Validator, JsValue> {
        let rules = RuleSet::compile(sources).map_err(|e| js_error(&e))?;
        Ok(Validator { rules: Rc::new(rules) })
    }

    /// Validates a submission object and returns the report object: the
    /// native report's JSON, parsed. It goes through JSON text both ways, so
    /// it is exactly what the server says for `JSON.stringify(submission)`.
    pub fn validate(&self, submission: &JsValue) -> Result<JsValue, JsValue> {
        let text: String = JSON::stringify(submission)?.into();
        JSON::parse(&self.validate_json(&text, None)?)
    }

    /// Validates submission JSON text; returns the report JSON text, byte
    /// for byte what `shenhe check` prints. `pack` forces a pack by id.
    #[wasm_bindgen(js_name = validateJson)]
    pub fn validate_json(&self, submission_json: &str, pack: Option<String>) -> Result<String, JsValue> {
        shenhe::api::evaluate_json(&self.rules, submission_json, pack.as_deref()).map_err(|e| js_error(&e))
    }

    /// The packs: `[{ id, version, form, title, hash, rules: [ids], not_implemented: [{id, reason}] }]`.
    pub fn packs(&self) -> JsValue {
        let list: Vec<serde_json::Value> = self.rules.packs().iter().map(shenhe::api::pack_summary).collect();
        JSON::parse(&serde_json::Value::Array(list).to_string()).unwrap_or_else(|_| Object::new().into())
    }

    /// The hash of the first pack (the usual case: one bundle per form).
    #[wasm_bindgen(getter)]
    pub fn hash(&self) -> String {
        self.rules.packs().first().map(|p| p.hash().to_owned()).unwrap_or_default()
    }
}

impl Validator {
    pub(crate) fn rules(&self) -> Rc<RuleSet> {
        Rc::clone(&self.rules)
    }
}

/// Normalises a number as a person typed it (contract A6): `"１，２００"` → `1200`.
/// Returns the text unchanged when it is still not a number, `undefined` when blank.
#[wasm_bindgen(js_name = normalizeNumber)]
pub fn normalize_number(text: &str) -> JsValue {
    match shenhe::input::normalize_number(text) {
        Some(v) => JSON::parse(&v.to_string()).unwrap_or(JsValue::UNDEFINED),
        None => JsValue::UNDEFINED,
    }
}

/// The engine's version (the crate version).
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// The schema layer on its own over `{resources, cases: [{schema, data}]}` (conformance
/// suites); returns the JSON array of outcomes, as `shenhe schema-suite` does.
#[wasm_bindgen(js_name = schemaOutcomes)]
pub fn schema_outcomes(cases_json: &str) -> Result<String, JsValue> {
    shenhe::api::schema_outcomes(cases_json).map_err(|e| js_error(&e))
}
