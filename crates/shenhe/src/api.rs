//! The facade every host calls: the CLI, the server and the wasm module.

use serde_json::Value;

use crate::{CompiledPack, Error, Report, RuleSet};

/// Parses submission text, naming where it came from in any error.
pub fn parse_submission(source_name: &str, text: &str) -> Result<Value, Error> {
    serde_json::from_str(text).map_err(|e| Error::json(source_name, &e))
}

/// Typed entry point: a submission in, a report out.
#[must_use]
pub fn evaluate(rules: &RuleSet, submission: &Value, forced_pack: Option<&str>) -> Report {
    rules.evaluate(submission, forced_pack)
}

/// Wire entry point: submission JSON text in, report JSON text out. The
/// bytes are the same on every host and target.
pub fn evaluate_json(rules: &RuleSet, submission_json: &str, forced_pack: Option<&str>) -> Result<String, Error> {
    let submission = parse_submission("submission", submission_json)?;
    Ok(evaluate(rules, &submission, forced_pack).to_json())
}

/// The division code a submission belongs to: the text (or the digits of
/// a number) at its pack's `jurisdiction` pointer. `None` when it matched no
/// pack, the pack names no jurisdiction, or the value is missing.
#[must_use]
pub fn division_of(rules: &RuleSet, report: &Report, submission: &Value) -> Option<String> {
    let pack = rules.pack(&report.pack.as_ref()?.id)?;
    match submission.pointer(pack.manifest().jurisdiction.as_deref()?)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// What a host lists about a compiled pack (`GET /api/packs`, the wasm
/// `packs()`): id, version, form, title, policy, window, hash, rules and the
/// rules it does not implement.
#[must_use]
pub fn pack_summary(pack: &CompiledPack) -> Value {
    let m = pack.manifest();
    let rules: Vec<Value> = pack
        .rules()
        .map(|r| {
            serde_json::json!({
                "id": r.id,
                "severity": r.severity.as_str(),
                "variants": r.variants.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect::<serde_json::Map<_, _>>(),
                "file": r.file,
            })
        })
        .collect();
    serde_json::json!({
        "id": m.id,
        "version": m.version,
        "form": m.form,
        "title": m.title,
        "policy": m.policy,
        "effective": m.effective,
        "hash": pack.hash(),
        "derived": m.derived,
        "rules": rules,
        "not_implemented": m.not_implemented,
    })
}

/// The JSON-Schema layer on its own, for conformance suites. `suite_json` is
/// `{ "resources": { uri: schema, … }, "cases": [{ "schema": …, "data": … }] }`
/// (`resources` are what remote `$ref`s resolve to; nothing is fetched). The
/// answer is a JSON array with `"valid"`, `"invalid"` or `"error: …"` (the
/// schema does not compile) per case. Packs compile their schemas with the
/// same options.
pub fn schema_outcomes(suite_json: &str) -> Result<String, Error> {
    let suite: Value = serde_json::from_str(suite_json).map_err(|e| Error::json("suite", &e))?;
    let resources: Vec<(String, Value)> = suite["resources"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let outcomes: Vec<Value> = suite["cases"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .map(|c| match crate::schema::compile("suite", &c["schema"], &resources) {
            Ok(v) if v.is_valid(&c["data"]) => Value::from("valid"),
            Ok(_) => Value::from("invalid"),
            Err(e) => Value::from(format!("error: {e}")),
        })
        .collect();
    Ok(Value::Array(outcomes).to_string())
}
