//! The structural layer: a pack's JSON Schema, one `SCHEMA` finding per violation.

use jsonschema::error::{TypeKind, ValidationErrorKind};
use serde_json::{Map, Value, json};

use crate::{
    Error,
    labels::Labels,
    report::{Finding, Severity},
};

/// Builds a validator. Formats (`date`, `date-time`) are asserted, not just
/// annotated. References resolve only inside the schema and `resources`
/// (`uri → schema`): never over the network or the file system, so a pack
/// compiles the same way natively and in wasm.
pub(crate) fn compile(pack: &str, schema: &Value, resources: &[(String, Value)]) -> Result<jsonschema::Validator, Error> {
    let bad = |message: String| Error::Schema {
        pack: pack.to_owned(),
        message,
    };
    let registry = if resources.is_empty() {
        None
    } else {
        let mut builder = jsonschema::Registry::new();
        for (uri, doc) in resources {
            builder = builder.add(uri, doc.clone()).map_err(|e| bad(e.to_string()))?;
        }
        Some(builder.prepare().map_err(|e| bad(e.to_string()))?)
    };
    let mut options = jsonschema::options().should_validate_formats(true).offline();
    if let Some(registry) = &registry {
        options = options.with_registry(registry);
    }
    options.build(schema).map_err(|e| bad(e.to_string()))
}

fn type_name_zh(t: &str) -> &'static str {
    match t {
        "integer" => "整数",
        "number" => "数字",
        "string" => "文本",
        "boolean" => "是/否",
        "array" => "列表",
        "object" => "对象",
        "null" => "空值",
        _ => "其他类型",
    }
}

fn type_name_en(t: &str) -> &'static str {
    match t {
        "integer" => "a whole number",
        "number" => "a number",
        "string" => "text",
        "boolean" => "yes or no",
        "array" => "a list",
        "object" => "a group of fields",
        "null" => "empty",
        _ => "another type",
    }
}

fn expected_types(kind: &TypeKind) -> Vec<String> {
    match kind {
        TypeKind::Single(t) => vec![t.to_string()],
        TypeKind::Multiple(set) => set.iter().map(|t| t.to_string()).collect(),
    }
}

/// Zh-CN and English text and the parameters for one violation of the field
/// at `path`, named by its label (`第2名医师的“门诊人次”应填写整数`).
fn describe(kind: &ValidationErrorKind, masked: String, path: &str, labels: &Labels) -> (String, String, Map<String, Value>) {
    let zh_field = labels.field(path, false);
    let en_field = labels.field(path, true);
    let codes = |v: &Value, english: bool| match v {
        Value::String(c) => labels.code(c, english).map_or_else(|| c.clone(), str::to_owned),
        other => other.to_string(),
    };
    let mut p = Map::new();
    let (zh, en) = match kind {
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default().to_owned();
            p.insert("keyword".into(), json!("required"));
            p.insert("field".into(), json!(name));
            (format!("缺少必填项：{zh_field}"), format!("{en_field} is required but missing"))
        }
        ValidationErrorKind::Type { kind } => {
            let types = expected_types(kind);
            let zh: Vec<&str> = types.iter().map(|t| type_name_zh(t)).collect();
            let en: Vec<&str> = types.iter().map(|t| type_name_en(t)).collect();
            p.insert("keyword".into(), json!("type"));
            p.insert("expected".into(), json!(types));
            (format!("{zh_field}应填写{}", zh.join("或")), format!("{en_field} must be {}", en.join(" or ")))
        }
        ValidationErrorKind::Enum { options } => {
            p.insert("keyword".into(), json!("enum"));
            p.insert("allowed".into(), (**options).clone());
            let list = |english: bool, sep: &str| {
                options
                    .as_array()
                    .map(|a| a.iter().map(|v| codes(v, english)).collect::<Vec<_>>().join(sep))
                    .unwrap_or_default()
            };
            (
                format!("{zh_field}取值不在允许范围内（可选：{}）", list(false, "、")),
                format!("{en_field} is not one of the allowed values ({})", list(true, ", ")),
            )
        }
        ValidationErrorKind::Constant { expected_value } => {
            p.insert("keyword".into(), json!("const"));
            p.insert("expected".into(), (**expected_value).clone());
            (
                format!("{zh_field}取值应为“{}”", codes(expected_value, false)),
                format!("{en_field} must be \"{}\"", codes(expected_value, true)),
            )
        }
        ValidationErrorKind::Minimum { limit } | ValidationErrorKind::ExclusiveMinimum { limit } => {
            p.insert("keyword".into(), json!("minimum"));
            p.insert("limit".into(), limit.clone());
            (format!("{zh_field}不能小于 {limit}"), format!("{en_field} must not be below {limit}"))
        }
        ValidationErrorKind::Maximum { limit } | ValidationErrorKind::ExclusiveMaximum { limit } => {
            p.insert("keyword".into(), json!("maximum"));
            p.insert("limit".into(), limit.clone());
            (format!("{zh_field}不能大于 {limit}"), format!("{en_field} must not be above {limit}"))
        }
        ValidationErrorKind::MinItems { limit } => {
            p.insert("keyword".into(), json!("minItems"));
            p.insert("limit".into(), json!(limit));
            (format!("{zh_field}至少应有 {limit} 项"), format!("{en_field} needs at least {limit} items"))
        }
        ValidationErrorKind::MaxItems { limit } => {
            p.insert("keyword".into(), json!("maxItems"));
            p.insert("limit".into(), json!(limit));
            (format!("{zh_field}最多 {limit} 项"), format!("{en_field} may have at most {limit} items"))
        }
        ValidationErrorKind::MinLength { limit } => {
            p.insert("keyword".into(), json!("minLength"));
            p.insert("limit".into(), json!(limit));
            (
                format!("{zh_field}长度至少 {limit} 个字符"),
                format!("{en_field} must be at least {limit} characters"),
            )
        }
        ValidationErrorKind::MaxLength { limit } => {
            p.insert("keyword".into(), json!("maxLength"));
            p.insert("limit".into(), json!(limit));
            (
                format!("{zh_field}长度不能超过 {limit} 个字符"),
                format!("{en_field} must be at most {limit} characters"),
            )
        }
        ValidationErrorKind::Pattern { pattern } => {
            p.insert("keyword".into(), json!("pattern"));
            p.insert("pattern".into(), json!(pattern));
            (
                format!("{zh_field}格式不正确"),
                format!("{en_field} does not match the expected pattern {pattern}"),
            )
        }
        ValidationErrorKind::Format { format } => {
            p.insert("keyword".into(), json!("format"));
            p.insert("format".into(), json!(format));
            let zh = match format.as_str() {
                "date" => format!("{zh_field}日期格式应为 YYYY-MM-DD，且为真实日期"),
                "date-time" => format!("{zh_field}时间格式应为 RFC 3339（如 2024-09-27T12:00:00+08:00）"),
                f => format!("{zh_field}格式应为 {f}"),
            };
            (zh, format!("{en_field} must be a valid {format}"))
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            p.insert("keyword".into(), json!("additionalProperties"));
            p.insert("unexpected".into(), json!(unexpected));
            (
                format!("{zh_field}中有表单未定义的字段：{}", unexpected.join("、")),
                format!("{en_field} has fields the form does not define: {}", unexpected.join(", ")),
            )
        }
        ValidationErrorKind::UniqueItems => {
            p.insert("keyword".into(), json!("uniqueItems"));
            (format!("{zh_field}中有重复项"), format!("{en_field} has duplicate items"))
        }
        _ => {
            p.insert("keyword".into(), json!("other"));
            (
                format!("{zh_field}的数据结构不符合表单要求"),
                format!("{en_field} does not fit the form: {masked}"),
            )
        }
    };
    p.insert("detail".into(), json!(masked));
    (zh, capitalised(en), p)
}

/// `"x" …` and `the form …` start a sentence.
fn capitalised(s: String) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_lowercase() => c.to_ascii_uppercase().to_string() + chars.as_str(),
        _ => s,
    }
}

/// All violations of `instance`, as `SCHEMA` error findings.
pub(crate) fn findings(validator: &jsonschema::Validator, instance: &Value, labels: &Labels) -> Vec<Finding> {
    // Most submissions are valid: the boolean check is much cheaper than collecting errors.
    if validator.is_valid(instance) {
        return Vec::new();
    }
    validator
        .iter_errors(instance)
        .map(|err| {
            let mut path = err.instance_path().as_str().to_owned();
            if let ValidationErrorKind::Required { property } = err.kind() {
                // Point at the missing member itself: `/plan/submitted_at`, not `/plan`.
                path.push('/');
                path.push_str(&property.as_str().unwrap_or_default().replace('~', "~0").replace('/', "~1"));
            }
            // `masked()` leaves the submitted value out: submissions carry personal data.
            let (zh, en, params) = describe(err.kind(), err.masked().to_string(), &path, labels);
            Finding {
                rule: "SCHEMA".into(),
                severity: Severity::Error,
                path,
                message: format!("{zh}（SCHEMA）"),
                message_en: format!("{en} (SCHEMA)"),
                params,
                explained: false,
                variant: None,
            }
        })
        .collect()
}
