//! The facade every host calls: the CLI, the server and the wasm module.

use serde_json::Value;

use crate::{Error, Report, RuleSet};

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
