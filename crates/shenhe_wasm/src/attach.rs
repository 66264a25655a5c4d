//! `attach(form, validator, options)`: binds an existing HTML form to a
//! validator, with no framework. The markup it reads is documented in
//! `www/README.md`:
//!
//! - a field's path is its `data-path` (absolute), or inside a repeat row its
//!   `data-field` / `name` (relative to the row), else its `name`;
//!   `data-type="number"` (or `type=number`) fields are normalised as A6 says;
//! - `[data-repeat="members"]` holds `[data-row]` elements; a
//!   `<template data-template="members">` is the new row; `[data-add="members"]`
//!   and `[data-remove]` buttons add and remove rows;
//! - messages go beside the field (or into `[data-messages-for="/path"]`), a
//!   summary goes into `[data-shenhe-summary]`, derived figures into
//!   `<output data-derived="name">`, and each warning gets an explanation box.
//!
//! Every rule decision comes from the core; this file only moves values
//! between the DOM and the validator.

use std::{
    cell::{Cell, RefCell},
    collections::{BTreeMap, HashMap},
    rc::Rc,
};

use js_sys::{Date, JSON, Reflect};
use serde_json::{Value, json};
use shenhe::{
    RuleSet,
    input::{normalize_number, set_path, to_pointer},
};
use wasm_bindgen::{JsCast, prelude::*};
use wasm_bindgen_futures::spawn_local;
use web_sys::{
    CustomEvent, CustomEventInit, Document, Element, Event, HtmlElement, HtmlFormElement, HtmlInputElement, HtmlSelectElement, HtmlTemplateElement,
    HtmlTextAreaElement, Request, RequestInit, Response, Window,
};

use crate::Validator;

const GENERATED: &str = "data-shenhe-generated";
const FIELDS: &str = "input, select, textarea";

struct Options {
    locale_en: bool,
    endpoint: Option<String>,
    /// The clerk's credential for `endpoint` (`Authorization: Bearer …`).
    token: Option<String>,
    debounce_ms: i32,
    require_explanations: bool,
    stamp_time: bool,
}

impl Options {
    fn read(options: &JsValue) -> Self {
        let get = |k: &str| Reflect::get(options, &JsValue::from_str(k)).ok().filter(|v| !v.is_undefined() && !v.is_null());
        Self {
            locale_en: get("locale").and_then(|v| v.as_string()).is_some_and(|l| l.starts_with("en")),
            endpoint: get("endpoint").and_then(|v| v.as_string()),
            token: get("token").and_then(|v| v.as_string()).filter(|t| !t.is_empty()),
            debounce_ms: get("debounceMs").and_then(|v| v.as_f64()).map_or(150, |v| v.clamp(0.0, 10_000.0) as i32),
            require_explanations: get("requireExplanations").and_then(|v| v.as_bool()).unwrap_or(true),
            stamp_time: get("stampTime").and_then(|v| v.as_bool()).unwrap_or(true),
        }
    }
}

type Listener = (&'static str, Closure<dyn FnMut(Event)>);

struct State {
    form: HtmlFormElement,
    document: Document,
    window: Window,
    rules: Rc<RuleSet>,
    options: Options,
    timer: Cell<Option<i32>>,
    last: RefCell<Option<Value>>,
    listeners: RefCell<Vec<Listener>>,
    debounced: RefCell<Option<Closure<dyn FnMut()>>>,
    next_id: Cell<u32>,
}

/// The handle `attach` returns.
#[wasm_bindgen]
pub struct Binding {
    state: Rc<State>,
}

#[wasm_bindgen]
impl Binding {
    /// Validates now and renders; returns the report object.
    pub fn validate(&self) -> Result<JsValue, JsValue> {
        let (_, report) = run(&self.state);
        JSON::parse(&report.to_string())
    }

    /// The submission the form currently holds, as the validator sees it.
    pub fn submission(&self) -> Result<JsValue, JsValue> {
        JSON::parse(&collect(&self.state).0.to_string())
    }

    /// The last report shown, or `null`.
    pub fn report(&self) -> Result<JsValue, JsValue> {
        self.state.last.borrow().as_ref().map_or(Ok(JsValue::NULL), |r| JSON::parse(&r.to_string()))
    }

    /// Removes the listeners. The messages stay until the page changes them.
    pub fn detach(&self) {
        for (kind, listener) in self.state.listeners.borrow_mut().drain(..) {
            let _ = self.state.form.remove_event_listener_with_callback(kind, listener.as_ref().unchecked_ref());
        }
        if let Some(t) = self.state.timer.take() {
            self.state.window.clear_timeout_with_handle(t);
        }
    }
}

/// Binds `form` to `validator`. Options: `locale` (`"zh-CN"` default, or
/// `"en"`), `endpoint` (URL the submission is posted to), `token` (the clerk's credential, sent as `Authorization: Bearer`), `debounceMs` (150),
/// `requireExplanations` (true: submit waits for an explanation of every
/// warning), `stampTime` (true: fill `submission.submitted_at` with the
/// browser's time for the preview; the server overwrites it, A4).
#[wasm_bindgen]
pub fn attach(form: HtmlFormElement, validator: &Validator, options: JsValue) -> Result<Binding, JsValue> {
    let window = web_sys::window().ok_or_else(|| JsValue::from_str("attach: no window"))?;
    let document = window.document().ok_or_else(|| JsValue::from_str("attach: no document"))?;
    let state = Rc::new(State {
        form,
        document,
        window,
        rules: validator.rules(),
        options: Options::read(&options),
        timer: Cell::new(None),
        last: RefCell::new(None),
        listeners: RefCell::new(Vec::new()),
        debounced: RefCell::new(None),
        next_id: Cell::new(0),
    });
    state.form.set_attribute("novalidate", "")?;
    let weak = Rc::downgrade(&state);
    *state.debounced.borrow_mut() = Some(Closure::new(move || {
        if let Some(s) = weak.upgrade() {
            s.timer.set(None);
            run(&s);
        }
    }));
    listen(&state, "input", |s, _| schedule(s))?;
    listen(&state, "change", |s, _| schedule(s))?;
    listen(&state, "click", on_click)?;
    listen(&state, "submit", on_submit)?;
    run(&state);
    Ok(Binding { state })
}

fn listen(state: &Rc<State>, kind: &'static str, f: fn(&Rc<State>, Event)) -> Result<(), JsValue> {
    let weak = Rc::downgrade(state);
    let closure = Closure::<dyn FnMut(Event)>::new(move |e: Event| {
        if let Some(s) = weak.upgrade() {
            f(&s, e);
        }
    });
    state.form.add_event_listener_with_callback(kind, closure.as_ref().unchecked_ref())?;
    state.listeners.borrow_mut().push((kind, closure));
    Ok(())
}

fn schedule(state: &Rc<State>) {
    if let Some(t) = state.timer.take() {
        state.window.clear_timeout_with_handle(t);
    }
    if let Some(cb) = state.debounced.borrow().as_ref() {
        let handle = state
            .window
            .set_timeout_with_callback_and_timeout_and_arguments_0(cb.as_ref().unchecked_ref(), state.options.debounce_ms);
        state.timer.set(handle.ok());
    }
}

// ---------------------------------------------------------------- DOM → JSON

fn elements(root: &Element, selector: &str) -> Vec<Element> {
    let Ok(list) = root.query_selector_all(selector) else { return Vec::new() };
    (0..list.length()).filter_map(|i| list.item(i)?.dyn_into::<Element>().ok()).collect()
}

/// `members/3` for a row: its repeat's path and its index among the rows.
fn row_path(row: &Element) -> Option<String> {
    let container = row.parent_element().filter(|c| c.has_attribute("data-repeat"))?;
    let index = elements(&container, ":scope > [data-row]").iter().position(|r| r == row)?;
    Some(format!("{}/{index}", repeat_path(&container)))
}

/// A repeat's path: its `data-repeat`, under its enclosing row if any.
fn repeat_path(container: &Element) -> String {
    let name = container.get_attribute("data-repeat").unwrap_or_default();
    let outer = container.parent_element().and_then(|p| p.closest("[data-row]").ok().flatten());
    match outer.and_then(|r| row_path(&r)) {
        Some(prefix) => format!("{prefix}/{name}"),
        None => name.trim_start_matches('/').to_owned(),
    }
}

fn field_path(el: &Element) -> Option<String> {
    if el.has_attribute("data-shenhe-ignore") || el.has_attribute("data-explain-rule") {
        return None;
    }
    if let Some(p) = el.get_attribute("data-path") {
        return Some(p.trim_start_matches('/').to_owned());
    }
    let rel = el.get_attribute("data-field").or_else(|| el.get_attribute("name")).filter(|n| !n.is_empty())?;
    match el.closest("[data-row]").ok().flatten() {
        Some(row) => Some(format!("{}/{rel}", row_path(&row)?)),
        None => Some(rel.trim_start_matches('/').to_owned()),
    }
}

/// The value of a text control, typed by `data-type` (`number`, `integer`,
/// `boolean`, `string`). `None` leaves the field out.
fn typed(el: &Element, text: &str) -> Option<Value> {
    let kind = el.get_attribute("data-type").unwrap_or_default();
    let is_number_input = el.dyn_ref::<HtmlInputElement>().is_some_and(|i| i.type_() == "number");
    match kind.as_str() {
        "number" | "integer" => normalize_number(text),
        "boolean" if text.trim().is_empty() => None,
        "boolean" => Some(shenhe::input::parse_bool(text).map_or_else(|| Value::String(text.trim().to_owned()), Value::Bool)),
        "null" if text.trim().is_empty() => Some(Value::Null),
        _ if is_number_input => normalize_number(text),
        _ if text.is_empty() => None,
        _ => Some(Value::String(text.to_owned())),
    }
}

/// Builds the submission from the form, and maps each path to its element.
fn collect(state: &State) -> (Value, HashMap<String, Element>) {
    let form: &Element = state.form.as_ref();
    let mut doc = json!({});
    let mut at: HashMap<String, Element> = HashMap::new();
    for container in elements(form, "[data-repeat]") {
        let path = repeat_path(&container);
        set_path(&mut doc, &path, json!([]));
        at.insert(to_pointer(&path), container.clone());
        for row in elements(&container, ":scope > [data-row]") {
            if let Some(p) = row_path(&row) {
                set_path(&mut doc, &p, json!({}));
                at.insert(to_pointer(&p), row);
            }
        }
    }
    for section in elements(form, "[data-section]") {
        if let Some(p) = section.get_attribute("data-section") {
            at.entry(to_pointer(&p)).or_insert(section);
        }
    }
    for el in elements(form, FIELDS) {
        let Some(path) = field_path(&el) else { continue };
        let pointer = to_pointer(&path);
        let value = if let Some(input) = el.dyn_ref::<HtmlInputElement>() {
            match input.type_().as_str() {
                "checkbox" if el.get_attribute("data-type").as_deref() == Some("set") => {
                    if doc.pointer(&pointer).is_none_or(|v| !v.is_array()) {
                        set_path(&mut doc, &path, json!([]));
                    }
                    if input.checked()
                        && let Some(Value::Array(items)) = doc.pointer_mut(&pointer)
                    {
                        items.push(Value::String(input.value()));
                    }
                    at.entry(pointer).or_insert(el);
                    continue;
                }
                "checkbox" => Some(Value::Bool(input.checked())),
                "radio" if !input.checked() => {
                    at.entry(pointer).or_insert(el);
                    continue;
                }
                "submit" | "button" | "reset" | "image" | "file" => continue,
                _ => typed(&el, &input.value()),
            }
        } else if let Some(select) = el.dyn_ref::<HtmlSelectElement>() {
            if select.multiple() {
                let options = select.selected_options();
                let values = (0..options.length())
                    .filter_map(|i| options.item(i)?.get_attribute("value"))
                    .map(Value::String)
                    .collect();
                Some(Value::Array(values))
            } else {
                typed(&el, &select.value())
            }
        } else if let Some(area) = el.dyn_ref::<HtmlTextAreaElement>() {
            typed(&el, &area.value())
        } else {
            None
        };
        if let Some(v) = value {
            set_path(&mut doc, &path, v);
        }
        at.entry(pointer).or_insert(el);
    }
    let explanations: Vec<Value> = elements(form, "textarea[data-explain-rule]")
        .iter()
        .filter_map(|t| {
            let text = t.dyn_ref::<HtmlTextAreaElement>()?.value();
            (!text.trim().is_empty()).then(|| {
                json!({
                    "rule": t.get_attribute("data-explain-rule").unwrap_or_default(),
                    "path": t.get_attribute("data-explain-path").unwrap_or_default(),
                    "text": text,
                })
            })
        })
        .collect();
    if !explanations.is_empty() {
        set_path(&mut doc, "explanations", Value::Array(explanations));
    }
    if state.options.stamp_time && doc.pointer("/submission/submitted_at").is_none() {
        let now: String = Date::new_0().to_iso_string().into();
        set_path(&mut doc, "submission/submitted_at", Value::String(now));
    }
    (doc, at)
}

// ---------------------------------------------------------------- report → DOM

/// Collects, validates and renders; returns the submission and its report.
fn run(state: &Rc<State>) -> (Value, Value) {
    let (doc, at) = collect(state);
    let report = serde_json::to_value(state.rules.evaluate(&doc, None)).unwrap_or(Value::Null);
    render(state, &report, &at);
    dispatch(state, "shenhe:report", &report);
    *state.last.borrow_mut() = Some(report.clone());
    (doc, report)
}

fn dispatch(state: &State, name: &str, detail: &Value) {
    let init = CustomEventInit::new();
    init.set_detail(&JSON::parse(&detail.to_string()).unwrap_or(JsValue::NULL));
    init.set_bubbles(true);
    if let Ok(event) = CustomEvent::new_with_event_init_dict(name, &init) {
        let _ = state.form.dispatch_event(&event);
    }
}

fn findings(report: &Value) -> &[Value] {
    report["findings"].as_array().map_or(&[], Vec::as_slice)
}

fn ensure_id(state: &State, el: &Element) -> String {
    if el.id().is_empty() {
        let n = state.next_id.get() + 1;
        state.next_id.set(n);
        el.set_id(&format!("shenhe-f{n}"));
    }
    el.id()
}

/// The element showing `pointer`: the field itself, else the nearest
/// ancestor path that has one (a row, a repeat, a `data-section`).
fn target<'a>(at: &'a HashMap<String, Element>, pointer: &str) -> Option<&'a Element> {
    let mut p = pointer;
    loop {
        if let Some(el) = at.get(p) {
            return Some(el);
        }
        p = &p[..p.rfind('/')?];
    }
}

fn clear(state: &State) {
    let form: &Element = state.form.as_ref();
    for el in elements(form, &format!("[{GENERATED}]")) {
        el.remove();
    }
    for el in elements(form, ".shenhe-error, .shenhe-warning, .shenhe-info") {
        let _ = el.class_list().remove_3("shenhe-error", "shenhe-warning", "shenhe-info");
        let _ = el.remove_attribute("aria-invalid");
        match el.get_attribute("data-shenhe-describedby") {
            Some(orig) if !orig.is_empty() => {
                let _ = el.set_attribute("aria-describedby", &orig);
            }
            _ => {
                let _ = el.remove_attribute("aria-describedby");
            }
        }
    }
}

fn make(state: &State, tag: &str, class: &str, text: &str) -> Option<Element> {
    let el = state.document.create_element(tag).ok()?;
    el.set_class_name(class);
    el.set_text_content(Some(text));
    Some(el)
}

fn render(state: &State, report: &Value, at: &HashMap<String, Element>) {
    clear(state);
    let en = state.options.locale_en;
    let form: &Element = state.form.as_ref();
    let mut summary_items = Vec::new();
    for (n, f) in findings(report).iter().enumerate() {
        let severity = f["severity"].as_str().unwrap_or("error");
        let path = f["path"].as_str().unwrap_or("");
        let text = f[if en { "message_en" } else { "message" }].as_str().unwrap_or("");
        let id = format!("shenhe-msg-{n}");
        let anchor = target(at, path).cloned();
        if let (Some(el), Some(msg)) = (anchor.as_ref(), make(state, "div", &format!("shenhe-msg shenhe-msg-{severity}"), text)) {
            let _ = msg.set_attribute(GENERATED, "");
            let _ = msg.set_attribute("data-rule", f["rule"].as_str().unwrap_or(""));
            let _ = msg.set_attribute("data-for", path);
            msg.set_id(&id);
            let slot = form.query_selector(&format!("[data-messages-for=\"{}\"]", css_escape(path))).ok().flatten();
            match slot {
                Some(slot) => {
                    let _ = slot.append_child(&msg);
                }
                // Table parts cannot hold a message: it goes above the table.
                None if matches!(el.tag_name().as_str(), "TBODY" | "THEAD" | "TR") => {
                    if let Ok(Some(table)) = el.closest("table") {
                        let _ = table.before_with_node_1(&msg);
                    }
                }
                None if el.has_attribute("data-repeat") || el.has_attribute("data-row") || el.has_attribute("data-section") => {
                    let _ = el.prepend_with_node_1(&msg);
                }
                None => {
                    let _ = el.after_with_node_1(&msg);
                }
            }
            let classes = el.class_list();
            if !classes.contains("shenhe-error") && !classes.contains("shenhe-warning") && !classes.contains("shenhe-info") {
                let orig = el.get_attribute("aria-describedby").unwrap_or_default();
                let _ = el.set_attribute("data-shenhe-describedby", &orig);
            }
            let _ = classes.add_1(&format!("shenhe-{severity}"));
            if severity == "error" {
                let _ = el.set_attribute("aria-invalid", "true");
            }
            let described = el.get_attribute("aria-describedby").unwrap_or_default();
            let _ = el.set_attribute("aria-describedby", format!("{described} {id}").trim());
        }
        summary_items.push((severity, text.to_owned(), anchor.map(|el| ensure_id(state, &el))));
    }
    render_summary(state, report, &summary_items);
    render_explanations(state, report);
    render_derived(state, report);
}

fn css_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn summary_box(state: &State) -> Option<Element> {
    let form: &Element = state.form.as_ref();
    if let Ok(Some(el)) = form.query_selector("[data-shenhe-summary]") {
        return Some(el);
    }
    let el = make(state, "div", "shenhe-summary", "")?;
    let _ = el.set_attribute("data-shenhe-summary", "");
    let _ = el.set_attribute("role", "status");
    let _ = el.set_attribute("aria-live", "polite");
    let _ = form.prepend_with_node_1(&el);
    Some(el)
}

fn status_line(report: &Value, en: bool) -> String {
    let count = |sev: &str| findings(report).iter().filter(|f| f["severity"] == sev).count();
    let (e, w, i) = (count("error"), count("warning"), count("info"));
    let status = report["status"].as_str().unwrap_or("");
    match (status, en) {
        ("accepted", false) => format!("审核通过。提示 {i} 条。"),
        ("accepted", true) => format!("Accepted. {i} note(s)."),
        ("needs_explanation", false) => format!("有 {w} 条警告需要填写上报说明。"),
        ("needs_explanation", true) => format!("{w} warning(s) need an explanation."),
        (_, false) => format!("有 {e} 个错误须改正后才能上报；警告 {w} 条。"),
        (_, true) => format!("{e} error(s) must be fixed before submitting; {w} warning(s)."),
    }
}

fn render_summary(state: &State, report: &Value, items: &[(&str, String, Option<String>)]) {
    let Some(summary) = summary_box(state) else { return };
    let en = state.options.locale_en;
    let status = report["status"].as_str().unwrap_or("");
    for el in elements(&summary, ":scope > [data-shenhe-summary-part]") {
        el.remove();
    }
    let _ = summary.set_attribute("data-status", status);
    let Some(head) = make(state, "p", "shenhe-status", &status_line(report, en)) else {
        return;
    };
    let _ = head.set_attribute("data-shenhe-summary-part", "");
    let _ = summary.prepend_with_node_1(&head);
    let Some(list) = make(state, "ul", "shenhe-list", "") else { return };
    let _ = list.set_attribute("data-shenhe-summary-part", "");
    for (severity, text, id) in items {
        let Some(li) = make(state, "li", &format!("shenhe-item shenhe-item-{severity}"), "") else {
            continue;
        };
        let link = match id {
            Some(id) => make(state, "a", "", text).inspect(|a| {
                let _ = a.set_attribute("href", &format!("#{id}"));
            }),
            None => make(state, "span", "", text),
        };
        if let Some(link) = link {
            let _ = li.append_child(&link);
        }
        let _ = list.append_child(&li);
    }
    let _ = head.after_with_node_1(&list);
}

/// One explanation box per warning, keyed by rule and path. Boxes that still
/// apply are left in place, so typing in one never loses focus.
fn render_explanations(state: &State, report: &Value) {
    let Some(summary) = summary_box(state) else { return };
    let en = state.options.locale_en;
    let host = match summary.query_selector("[data-shenhe-explanations]").ok().flatten() {
        Some(h) => h,
        None => {
            let Some(h) = make(state, "div", "shenhe-explanations", "") else { return };
            let _ = h.set_attribute("data-shenhe-explanations", "");
            let _ = summary.append_child(&h);
            h
        }
    };
    let warnings: BTreeMap<String, &Value> = findings(report)
        .iter()
        .filter(|f| f["severity"] == "warning")
        .map(|f| (format!("{}|{}", f["rule"].as_str().unwrap_or(""), f["path"].as_str().unwrap_or("")), f))
        .collect();
    let mut present = HashMap::new();
    for item in elements(&host, ":scope > [data-key]") {
        let key = item.get_attribute("data-key").unwrap_or_default();
        match warnings.get(&key) {
            Some(f) => {
                let explained = f["explained"].as_bool().unwrap_or(false);
                let _ = item.class_list().toggle_with_force("shenhe-explained", explained);
                present.insert(key, item);
            }
            // A box the clerk typed into stays (hidden) in case the warning comes back.
            None if item
                .query_selector("textarea")
                .ok()
                .flatten()
                .and_then(|t| t.dyn_into::<HtmlTextAreaElement>().ok())
                .is_some_and(|t| !t.value().trim().is_empty()) =>
            {
                let _ = item.set_attribute("hidden", "");
                present.insert(key, item);
            }
            None => item.remove(),
        }
    }
    for (key, f) in &warnings {
        if let Some(item) = present.get(key) {
            let _ = item.remove_attribute("hidden");
            continue;
        }
        let (rule, path) = (f["rule"].as_str().unwrap_or(""), f["path"].as_str().unwrap_or(""));
        let text = f[if en { "message_en" } else { "message" }].as_str().unwrap_or("");
        let Some(item) = make(state, "label", "shenhe-explain", "") else { continue };
        let _ = item.set_attribute("data-key", key);
        if let Some(caption) = make(
            state,
            "span",
            "shenhe-explain-caption",
            &format!("{}{text}", if en { "Explanation for: " } else { "上报说明：" }),
        ) {
            let _ = item.append_child(&caption);
        }
        if let Some(area) = make(state, "textarea", "shenhe-explain-text", "") {
            let _ = area.set_attribute("data-explain-rule", rule);
            let _ = area.set_attribute("data-explain-path", path);
            let _ = area.set_attribute("rows", "2");
            let _ = item.append_child(&area);
        }
        let _ = host.append_child(&item);
    }
}

/// A derived value as a clerk reads it: text without quotes, objects as `k: v`.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".to_owned(),
        Value::Object(m) => m.iter().map(|(k, v)| format!("{k}: {}", plain(v))).collect::<Vec<_>>().join("，"),
        Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join("、"),
        other => other.to_string(),
    }
}

fn render_derived(state: &State, report: &Value) {
    let form: &Element = state.form.as_ref();
    for out in elements(form, "output[data-derived]") {
        let key = out.get_attribute("data-derived").unwrap_or_default();
        let text = match report["derived"].get(&key) {
            None | Some(Value::Null) => "—".to_owned(),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Object(m)) => m.iter().map(|(k, v)| format!("{k}: {}", plain(v))).collect::<Vec<_>>().join("，"),
            Some(Value::Array(items)) => items.iter().map(plain).collect::<Vec<_>>().join("；"),
            Some(v) => v.to_string(),
        };
        out.set_text_content(Some(&text));
    }
}

// ---------------------------------------------------------------- events

fn on_click(state: &Rc<State>, event: Event) {
    let Some(el) = event.target().and_then(|t| t.dyn_into::<Element>().ok()) else {
        return;
    };
    if let Ok(Some(button)) = el.closest("[data-add]") {
        event.prevent_default();
        let name = button.get_attribute("data-add").unwrap_or_default();
        add_row(&button, &name);
        run(state);
    } else if let Ok(Some(button)) = el.closest("[data-remove]") {
        event.prevent_default();
        if let Ok(Some(row)) = button.closest("[data-row]") {
            row.remove();
            run(state);
        }
    }
}

/// Adds a row to the `data-repeat="name"` nearest the clicked button (so a
/// nested repeat gets the row in its own parent), from the nearest template.
fn add_row(button: &Element, name: &str) {
    let repeat = format!("[data-repeat=\"{}\"]", css_escape(name));
    let template_sel = format!("template[data-template=\"{}\"]", css_escape(name));
    let mut scope = button.parent_element();
    let (container, template) = loop {
        let Some(s) = scope else { return };
        if let Ok(Some(c)) = s.query_selector(&repeat) {
            let t = s
                .query_selector(&template_sel)
                .ok()
                .flatten()
                .or_else(|| s.owner_document()?.query_selector(&template_sel).ok().flatten());
            break (c, t.and_then(|t| t.dyn_into::<HtmlTemplateElement>().ok()));
        }
        scope = s.parent_element();
    };
    let Some(template) = template else { return };
    let Ok(fragment) = template.content().clone_node_with_deep(true) else {
        return;
    };
    let first = fragment.dyn_ref::<web_sys::DocumentFragment>().and_then(|f| f.first_element_child());
    let _ = container.append_child(&fragment);
    if let Some(row) = first {
        if !row.has_attribute("data-row") {
            let _ = row.set_attribute("data-row", "");
        }
        if let Ok(Some(field)) = row.query_selector(FIELDS)
            && let Some(h) = field.dyn_ref::<HtmlElement>()
        {
            let _ = h.focus();
        }
    }
}

fn on_submit(state: &Rc<State>, event: Event) {
    event.prevent_default();
    if let Some(t) = state.timer.take() {
        state.window.clear_timeout_with_handle(t);
    }
    let (submission, report) = run(state);
    let has = |sev: &str| findings(&report).iter().any(|f| f["severity"] == sev);
    let unexplained = findings(&report).iter().any(|f| f["severity"] == "warning" && f["explained"] == false);
    if has("error") || (state.options.require_explanations && unexplained) {
        dispatch(state, "shenhe:blocked", &report);
        let form: &Element = state.form.as_ref();
        let focus = if has("error") {
            form.query_selector("[aria-invalid=true]").ok().flatten()
        } else {
            elements(form, "textarea[data-explain-rule]")
                .into_iter()
                .find(|t| t.dyn_ref::<HtmlTextAreaElement>().is_some_and(|a| a.value().trim().is_empty()))
        };
        if let Some(h) = focus.and_then(|f| f.dyn_into::<HtmlElement>().ok()) {
            let _ = h.focus();
        }
        return;
    }
    let body = json!({ "bundle_hash": report["pack"]["hash"], "submission": submission });
    let Some(endpoint) = state.options.endpoint.clone() else {
        dispatch(state, "shenhe:submit", &body);
        return;
    };
    let state = Rc::clone(state);
    spawn_local(async move {
        let result = post(&state.window, &endpoint, state.options.token.as_deref(), &body.to_string()).await;
        let detail = match result {
            Ok(response) => json!({ "ok": true, "response": response, "client_report": report }),
            Err(message) => json!({ "ok": false, "error": message, "client_report": report }),
        };
        show_result(&state, &detail);
        dispatch(&state, "shenhe:submitted", &detail);
    });
}

async fn post(window: &Window, url: &str, token: Option<&str>, body: &str) -> Result<Value, String> {
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(body));
    let request = Request::new_with_str_and_init(url, &init).map_err(|e| format!("{e:?}"))?;
    request.headers().set("content-type", "application/json").map_err(|e| format!("{e:?}"))?;
    if let Some(token) = token {
        request
            .headers()
            .set("authorization", &format!("Bearer {token}"))
            .map_err(|e| format!("{e:?}"))?;
    }
    let response: Response = wasm_bindgen_futures::JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(|e| format!("network error: {e:?}"))?
        .dyn_into()
        .map_err(|_| "not a Response".to_owned())?;
    let text = wasm_bindgen_futures::JsFuture::from(response.text().map_err(|e| format!("{e:?}"))?)
        .await
        .map_err(|e| format!("{e:?}"))?
        .as_string()
        .unwrap_or_default();
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if response.ok() {
        Ok(value)
    } else {
        Err(format!("HTTP {}: {value}", response.status()))
    }
}

fn show_result(state: &State, detail: &Value) {
    let form: &Element = state.form.as_ref();
    let Some(host) = form.query_selector("[data-shenhe-result]").ok().flatten() else {
        return;
    };
    let en = state.options.locale_en;
    let text = if detail["ok"] == true {
        let r = &detail["response"];
        let id = r["id"].as_str().map_or_else(|| r["id"].to_string(), str::to_owned);
        let status = r["report"]["status"].as_str().unwrap_or("");
        if en {
            format!("Submitted: id {id}, status {status}.")
        } else {
            format!("已上报：编号 {id}，审核状态 {status}。")
        }
    } else {
        let err = detail["error"].as_str().unwrap_or("");
        if en {
            format!("Not submitted: {err}")
        } else {
            format!("上报失败：{err}")
        }
    };
    host.set_text_content(Some(&text));
    let _ = host.set_attribute("data-ok", if detail["ok"] == true { "true" } else { "false" });
}
