//! What a script emitted with `fail(…)`, or how it failed, as a finding:
//! severity from the rule's header, messages from `messages.toml`.

use serde_json::{Map, Value, json};

use crate::{
    compile::{CompiledPack, RuleMeta},
    helpers::Emitted,
    pointer,
    report::{Finding, Severity, dynamic_to_json},
};

impl CompiledPack {
    pub(crate) fn finding(&self, rule: &RuleMeta, e: Emitted) -> Finding {
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
            variant: e.variant,
        }
    }

    pub(crate) fn engine_finding(&self, rule: &str, code: &str, zh: &str, en: &str, line: Option<usize>, column: Option<usize>) -> Finding {
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
            variant: None,
        }
    }
}
/// The finding when no pack matches the submission's form and policy.
pub(crate) fn pack_none(form: Option<&str>, policy: Option<&Map<String, Value>>, forced: Option<&str>) -> Finding {
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
        variant: None,
    }
}
