//! The document the scripts read: the submission, `params` and `derived`.
//!
//! Each is built once (the submission once per evaluation, `params` once per
//! pack) into a read-only tree, and scripts read it through handles: a
//! [`DocMap`] or a [`DocArray`] is a reference count on a node of that tree,
//! so `submission.members`, `for m in rows`, `m.role`, `x["k"]`, `x[i]`,
//! `len`, `in` and `==` copy nothing. Strings are [`ImmutableString`]s built
//! once, so reading one is a reference count too.
//!
//! What a script sees is what it saw when the submission was plain Rhai data:
//! `type_of` says `"map"` and `"array"`, a missing key reads as `()`, an index
//! out of range fails as Rhai's arrays fail. What it cannot do any more is
//! change the document: handles have no setters, and `push` on one is a
//! runtime error. A script builds its own arrays and maps, which Rhai still
//! size-checks; a handle inside them counts as one item, since the document
//! itself was bounded when it was parsed.

use rhai::Identifier;
use rhai::{Array, Dynamic, Engine, EvalAltResult, FLOAT, INT, ImmutableString, Map, NativeCallContext, Position, Shared};
use serde_json::Value;

use crate::helpers::native::Budget;

/// The document's nodes, built in one pass into one arena: an object's or
/// an array's children are a contiguous run of nodes, and an object's keys
/// (sorted, as Rhai's maps keep them) sit beside its children. A handle is
/// the arena and a node index, so building a submission allocates one node
/// per value in two vectors, and dropping it is dropping those vectors.
struct Tree {
    nodes: Vec<Node>,
    /// The key of each node that is an object's child (empty otherwise).
    keys: Vec<Identifier>,
    /// [`key_hash`] of each key: a read compares these before any text.
    hashes: Vec<u32>,
}

/// Objects with more keys than this are searched by bisection, not scanned.
const SCAN_MAX: u32 = 32;

/// FNV-1a of a key. It only speeds up finding a key: it never reaches a
/// report, so it need not be stable across versions.
#[must_use]
pub(crate) fn key_hash(key: &str) -> u32 {
    key.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

enum Node {
    /// `()`, a bool, a number, a string, or (in frozen figures) any value.
    Value(Dynamic),
    Array {
        start: u32,
        len: u32,
    },
    Object {
        start: u32,
        len: u32,
    },
}

/// A read-only object of the document. `type_of` calls it `"map"`.
#[derive(Clone)]
pub struct DocMap {
    tree: Shared<Tree>,
    node: u32,
}

/// A read-only array of the document. `type_of` calls it `"array"`.
///
/// `records` marks the view that `records(x)` gives: an element that is not
/// an object reads as an empty object, so `row.field` is `()` rather than an
/// error, and indices stay those of the submission.
#[derive(Clone)]
pub struct DocArray {
    tree: Shared<Tree>,
    node: u32,
    records: bool,
}

thread_local! {
    // Per thread: on wasm32 Rhai is built without `sync`, so a handle is not `Sync`.
    static EMPTY_MAP: DocMap = DocMap {
        tree: Shared::new(Tree {
            nodes: vec![Node::Object { start: 1, len: 0 }],
            keys: vec![Identifier::new_const()],
            hashes: vec![0],
        }),
        node: 0,
    };
}

impl Tree {
    /// The value of node `i` as a script sees it.
    fn value(self: &Shared<Self>, i: u32) -> Dynamic {
        match &self.nodes[i as usize] {
            Node::Value(v) => v.clone(),
            Node::Array { .. } => Dynamic::from(DocArray {
                tree: self.clone(),
                node: i,
                records: false,
            }),
            Node::Object { .. } => Dynamic::from(DocMap { tree: self.clone(), node: i }),
        }
    }

    fn span(&self, i: u32) -> (u32, u32) {
        match self.nodes[i as usize] {
            Node::Array { start, len } | Node::Object { start, len } => (start, len),
            Node::Value(_) => (0, 0),
        }
    }

    fn is_object(&self, i: u32) -> bool {
        matches!(self.nodes[i as usize], Node::Object { .. })
    }
}

impl DocMap {
    /// The value at `key`, or `()`.
    pub fn get(&self, key: &str) -> Dynamic {
        self.get_hashed(key, key_hash(key))
    }

    /// [`DocMap::get`] with the key's [`key_hash`] computed beforehand (a
    /// compiled script computes the hash of each property name once).
    pub(crate) fn get_hashed(&self, key: &str, hash: u32) -> Dynamic {
        self.find(key, hash).map_or(Dynamic::UNIT, |i| self.tree.value(i))
    }

    #[allow(clippy::cast_possible_truncation, reason = "a document has far fewer than 2^32 nodes")]
    fn find(&self, key: &str, hash: u32) -> Option<u32> {
        let (start, len) = self.tree.span(self.node);
        let range = start as usize..(start + len) as usize;
        if len > SCAN_MAX {
            let keys = &self.tree.keys[range];
            return keys.binary_search_by(|k| k.as_str().cmp(key)).ok().map(|i| start + i as u32);
        }
        let hashes = &self.tree.hashes[range.clone()];
        let keys = &self.tree.keys[range];
        hashes
            .iter()
            .zip(keys)
            .position(|(h, k)| *h == hash && k.as_str() == key)
            .map(|i| start + i as u32)
    }

    /// Whether `key` is present.
    #[must_use]
    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key, key_hash(key)).is_some()
    }

    /// The entries, in key order (as Rhai's maps keep them).
    pub fn entries(&self) -> impl Iterator<Item = (&str, Dynamic)> {
        let (start, len) = self.tree.span(self.node);
        (start..start + len).map(move |i| (self.tree.keys[i as usize].as_str(), self.tree.value(i)))
    }

    fn len(&self) -> usize {
        self.tree.span(self.node).1 as usize
    }
}

impl DocArray {
    /// The number of elements.
    #[must_use]
    pub fn len(&self) -> usize {
        self.tree.span(self.node).1 as usize
    }

    /// Whether there are no elements.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element at `i` as a script sees it (see [`DocArray`] on `records`).
    pub(crate) fn at(&self, i: usize) -> Dynamic {
        let node = self.tree.span(self.node).0 + i as u32;
        if self.records && !self.tree.is_object(node) {
            if let Node::Value(v) = &self.tree.nodes[node as usize]
                && (v.is_map() || v.is::<DocMap>())
            {
                return v.clone();
            }
            Dynamic::from(EMPTY_MAP.with(DocMap::clone))
        } else {
            self.tree.value(node)
        }
    }

    /// The elements, as a script sees them.
    pub fn iter(&self) -> impl Iterator<Item = Dynamic> + '_ {
        (0..self.len()).map(|i| self.at(i))
    }

    fn as_records(&self) -> Self {
        Self {
            tree: self.tree.clone(),
            node: self.node,
            records: true,
        }
    }
}

/// Iterates a [`DocArray`] by value (what `for x in rows` uses).
pub struct DocIter {
    array: DocArray,
    next: usize,
}

impl Iterator for DocIter {
    type Item = Dynamic;

    fn next(&mut self) -> Option<Dynamic> {
        (self.next < self.array.len()).then(|| {
            self.next += 1;
            self.array.at(self.next - 1)
        })
    }
}

impl IntoIterator for DocArray {
    type Item = Dynamic;
    type IntoIter = DocIter;

    fn into_iter(self) -> DocIter {
        DocIter { array: self, next: 0 }
    }
}

/// Where the next `n` children of a node go: reserved, contiguous.
#[allow(clippy::cast_possible_truncation, reason = "a document has far fewer than 2^32 nodes")]
fn reserve<'k>(t: &mut Tree, keys: impl Iterator<Item = &'k str>) -> (usize, u32) {
    let start = t.nodes.len();
    for k in keys {
        t.nodes.push(Node::Value(Dynamic::UNIT));
        t.hashes.push(key_hash(k));
        t.keys.push(k.into());
    }
    (start, (t.nodes.len() - start) as u32)
}

#[allow(clippy::cast_possible_truncation, reason = "a document has far fewer than 2^32 nodes")]
fn fill_json(t: &mut Tree, at: usize, v: &Value) {
    match v {
        Value::Array(items) => {
            let (start, len) = reserve(t, items.iter().map(|_| ""));
            t.nodes[at] = Node::Array { start: start as u32, len };
            for (i, x) in items.iter().enumerate() {
                fill_json(t, start + i, x);
            }
        }
        Value::Object(m) => {
            let mut entries: Vec<(&str, &Value)> = m.iter().map(|(k, x)| (k.as_str(), x)).collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            let (start, len) = reserve(t, entries.iter().map(|(k, _)| *k));
            t.nodes[at] = Node::Object { start: start as u32, len };
            for (i, (_, x)) in entries.into_iter().enumerate() {
                fill_json(t, start + i, x);
            }
        }
        scalar => t.nodes[at] = Node::Value(build(scalar, false)),
    }
}

#[allow(clippy::cast_possible_truncation, reason = "a document has far fewer than 2^32 nodes")]
fn fill_owned(t: &mut Tree, at: usize, v: Dynamic) {
    if v.is_map() {
        // Rhai's maps are already in key order.
        let m = v.cast::<Map>();
        let (start, len) = reserve(t, m.keys().map(|k| k.as_str()));
        t.nodes[at] = Node::Object { start: start as u32, len };
        for (i, x) in m.into_values().enumerate() {
            fill_owned(t, start + i, x);
        }
    } else if v.is_array() {
        let a = v.cast::<Array>();
        let (start, len) = reserve(t, a.iter().map(|_| ""));
        t.nodes[at] = Node::Array { start: start as u32, len };
        for (i, x) in a.into_iter().enumerate() {
            fill_owned(t, start + i, x);
        }
    } else {
        t.nodes[at] = Node::Value(v);
    }
}

fn new_tree() -> Tree {
    Tree {
        nodes: vec![Node::Value(Dynamic::UNIT)],
        keys: vec![Identifier::new_const()],
        hashes: vec![0],
    }
}

/// Builds the document from JSON: objects become [`DocMap`]s, arrays
/// [`DocArray`]s, numbers ints where they are whole JSON integers.
pub fn from_json(v: &Value) -> Dynamic {
    let mut t = new_tree();
    fill_json(&mut t, 0, v);
    Shared::new(t).value(0)
}

/// The same conversion into plain Rhai data (what batch rules get: they may
/// sort and group their records as they like).
pub fn plain_from_json(v: &Value) -> Dynamic {
    build(v, true)
}

fn build(v: &Value, deep: bool) -> Dynamic {
    match v {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => n
            .as_i64()
            .map_or_else(|| Dynamic::from_float(n.as_f64().unwrap_or(FLOAT::NAN)), Dynamic::from_int),
        Value::String(s) => s.as_str().into(),
        Value::Array(a) if deep => Dynamic::from_array(a.iter().map(|x| build(x, true)).collect()),
        Value::Object(m) if deep => Dynamic::from_map(m.iter().map(|(k, x)| (k.as_str().into(), build(x, true))).collect()),
        // Only scalars reach here when building a tree.
        Value::Array(_) | Value::Object(_) => Dynamic::UNIT,
    }
}

/// Freezes what a script built (the map `derive.rhai` returns) into a
/// document, so the rules read it without copies.
pub fn freeze(v: Dynamic) -> Dynamic {
    if !(v.is_map() || v.is_array()) {
        return v;
    }
    let mut t = new_tree();
    fill_owned(&mut t, 0, v);
    Shared::new(t).value(0)
}

/// An object, plain or in the document.
#[must_use]
pub fn is_map(x: &Dynamic) -> bool {
    x.is_map() || x.is::<DocMap>()
}

/// An array, plain or in the document.
#[must_use]
pub fn is_array(x: &Dynamic) -> bool {
    x.is_array() || x.is::<DocArray>()
}

/// `x[name]` of an object, plain or in the document; `()` otherwise.
pub fn field(x: &Dynamic, name: &str) -> Dynamic {
    if let Some(m) = x.read_lock::<DocMap>() {
        return m.get(name);
    }
    x.read_lock::<Map>().and_then(|m| m.get(name).cloned()).unwrap_or(Dynamic::UNIT)
}

/// The elements of an array, plain or in the document (none otherwise).
/// A plain array passed by value is taken, not copied.
#[must_use]
pub fn rows(x: Dynamic) -> Rows {
    if x.is_array() {
        return Rows::Plain(x.cast::<Array>().into_iter());
    }
    match x.try_cast::<DocArray>() {
        Some(a) => Rows::Doc(a.into_iter()),
        None => Rows::Plain(Array::new().into_iter()),
    }
}

/// What [`rows`] iterates.
pub enum Rows {
    /// A script's own array.
    Plain(std::vec::IntoIter<Dynamic>),
    /// An array of the document.
    Doc(DocIter),
}

impl Iterator for Rows {
    type Item = Dynamic;

    fn next(&mut self) -> Option<Dynamic> {
        match self {
            Self::Plain(i) => i.next(),
            Self::Doc(i) => i.next(),
        }
    }
}

/// The `records(x)` view: same length and indices, non-objects as `#{}`.
pub fn records(x: Dynamic) -> Dynamic {
    if let Some(a) = x.read_lock::<DocArray>() {
        return Dynamic::from(a.as_records());
    }
    if x.is_array() {
        return x
            .cast::<Array>()
            .into_iter()
            .map(|r| if is_map(&r) { r } else { Map::new().into() })
            .collect::<Array>()
            .into();
    }
    Dynamic::from_array(Array::new())
}

/// Rhai's float comparison (`unchecked` off): relative to the larger magnitude.
pub(crate) fn float_cmp(op: &str, x: FLOAT, y: FLOAT) -> bool {
    let max = if x * y == 0.0 { 1.0 } else { x.abs().max(y.abs()) };
    if max == 0.0 {
        return matches!(op, "==" | ">=" | "<=");
    }
    match op {
        "==" => (x - y).abs() / max <= FLOAT::EPSILON,
        "!=" => (x - y).abs() / max > FLOAT::EPSILON,
        ">" => (x - y) / max > FLOAT::EPSILON,
        ">=" => (x - y) / max > -FLOAT::EPSILON,
        "<" => (y - x) / max > FLOAT::EPSILON,
        _ => (y - x) / max > -FLOAT::EPSILON,
    }
}

/// Rhai's `==` on two values, extended to the document's handles: numbers
/// compare across int and float (as Rhai's float `==` does), other types
/// only with their own kind.
#[must_use]
pub fn equal(a: &Dynamic, b: &Dynamic) -> bool {
    if a.is_int() && b.is_int() {
        return a.as_int().ok() == b.as_int().ok();
    }
    #[allow(clippy::cast_precision_loss, reason = "Rhai compares int and float the same way")]
    let num = |d: &Dynamic| d.as_float().ok().or_else(|| d.as_int().ok().map(|i| i as FLOAT));
    if (a.is_float() || a.is_int()) && (b.is_float() || b.is_int()) {
        // As Rhai compares floats: relative to the larger magnitude.
        return match (num(a), num(b)) {
            (Some(x), Some(y)) => float_cmp("==", x, y),
            _ => false,
        };
    }
    if a.is_unit() || b.is_unit() {
        return a.is_unit() && b.is_unit();
    }
    if let (Ok(x), Ok(y)) = (a.as_bool(), b.as_bool()) {
        return x == y;
    }
    if a.is_string() || b.is_string() {
        return match (a.read_lock::<ImmutableString>(), b.read_lock::<ImmutableString>()) {
            (Some(x), Some(y)) => *x == *y,
            _ => false,
        };
    }
    if is_array(a) && is_array(b) {
        let (x, y): (Vec<Dynamic>, Vec<Dynamic>) = (rows(a.clone()).collect(), rows(b.clone()).collect());
        return x.len() == y.len() && x.iter().zip(&y).all(|(p, q)| equal(p, q));
    }
    if is_map(a) && is_map(b) {
        let (x, y) = (entries(a), entries(b));
        return x.len() == y.len() && x.iter().zip(&y).all(|((ka, va), (kb, vb))| ka == kb && equal(va, vb));
    }
    false
}

fn entries(x: &Dynamic) -> Vec<(String, Dynamic)> {
    if let Some(m) = x.read_lock::<DocMap>() {
        return m.entries().map(|(k, v)| (k.to_owned(), v)).collect();
    }
    x.read_lock::<Map>()
        .map(|m| m.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
        .unwrap_or_default()
}

/// The value as plain Rhai data (what `to_string` and JSON show).
pub fn thaw(x: &Dynamic) -> Dynamic {
    if let Some(m) = x.read_lock::<DocMap>() {
        return Dynamic::from_map(m.entries().map(|(k, v)| (k.into(), thaw(&v))).collect());
    }
    if let Some(a) = x.read_lock::<DocArray>() {
        return Dynamic::from_array(a.iter().map(|v| thaw(&v)).collect());
    }
    if let Some(a) = x.read_lock::<Array>() {
        return Dynamic::from_array(a.iter().map(thaw).collect());
    }
    if let Some(m) = x.read_lock::<Map>() {
        return Dynamic::from_map(m.iter().map(|(k, v)| (k.clone(), thaw(v))).collect());
    }
    x.clone()
}

/// Items (array elements and map entries, nested ones included) and string
/// bytes inside a value, as Rhai's size limits count them. The document's
/// handles count nothing: the document was bounded when it was parsed.
pub(crate) fn data_size(v: &Dynamic) -> (usize, usize) {
    let add = |(i, b): (usize, usize), x: &Dynamic| {
        let (xi, xb) = data_size(x);
        (i + xi, b + xb)
    };
    // The tag checks first: most values are scalars, and `read_lock` is dearer.
    if v.is_array()
        && let Some(a) = v.read_lock::<Array>()
    {
        return a.iter().fold((a.len(), 0), add);
    }
    if v.is_map()
        && let Some(m) = v.read_lock::<Map>()
    {
        return m.values().fold((m.len(), 0), add);
    }
    if v.is_string()
        && let Some(s) = v.read_lock::<ImmutableString>()
    {
        return (0, s.len());
    }
    (0, 0)
}

/// Rhai's array index rule: negative counts from the end; out of range fails.
fn index(len: usize, i: INT) -> Result<usize, Box<EvalAltResult>> {
    let out = || Box::new(EvalAltResult::ErrorArrayBounds(len, i, Position::NONE));
    if i < 0 {
        let back = usize::try_from(i.unsigned_abs()).map_err(|_| out())?;
        len.checked_sub(back).ok_or_else(out)
    } else {
        let i = usize::try_from(i).map_err(|_| out())?;
        if i < len { Ok(i) } else { Err(out()) }
    }
}

/// Every property name a script reads with `.name` (not followed by `(`).
/// Each gets a getter on [`DocMap`]: without one, Rhai formats an error
/// before falling back to the indexer, on every read.
#[must_use]
pub fn property_names<'a>(sources: impl IntoIterator<Item = &'a str>) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for src in sources {
        let bytes = src.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'.' && bytes.get(i + 1).is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_') {
                let start = i + 1;
                let mut end = start;
                while bytes.get(end).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_') {
                    end += 1;
                }
                let mut after = end;
                while bytes.get(after).is_some_and(u8::is_ascii_whitespace) {
                    after += 1;
                }
                if bytes.get(after) != Some(&b'(') {
                    out.insert(src[start..end].to_owned());
                }
                i = end;
            } else {
                i += 1;
            }
        }
    }
    out
}

/// Registers the handle types: their names, getters for `names`, indexers,
/// iteration, `len`, `is_empty`, `keys`, `values`, `in`, `==`, `!=`, `to_string`.
pub(crate) fn register(e: &mut Engine, names: &std::collections::BTreeSet<String>) {
    e.register_type_with_name::<DocMap>("map");
    e.register_type_with_name::<DocArray>("array");
    e.register_iterator::<DocArray>();
    for name in names {
        let key: ImmutableString = name.as_str().into();
        e.register_get(name, move |m: &mut DocMap| m.get(&key));
    }
    e.register_indexer_get(|m: &mut DocMap, k: ImmutableString| m.get(&k));
    e.register_indexer_get(|a: &mut DocArray, i: INT| -> Result<Dynamic, Box<EvalAltResult>> { Ok(a.at(index(a.len(), i)?)) });
    #[allow(clippy::cast_possible_wrap, reason = "lengths are bounded by the input size")]
    {
        e.register_fn("len", |a: DocArray| a.len() as INT);
        e.register_fn("len", |m: DocMap| m.len() as INT);
    }
    e.register_fn("is_empty", |a: DocArray| a.is_empty());
    e.register_fn("is_empty", |m: DocMap| m.len() == 0);
    // Native work over many items is charged to the rule's operation budget.
    type R<T> = Result<T, Box<EvalAltResult>>;
    e.register_fn("keys", |ctx: NativeCallContext, m: DocMap| -> R<Array> {
        ctx.charge(m.len())?;
        Ok(m.entries().map(|(k, _)| Dynamic::from(ImmutableString::from(k))).collect())
    });
    e.register_fn("values", |ctx: NativeCallContext, m: DocMap| -> R<Array> {
        ctx.charge(m.len())?;
        Ok(m.entries().map(|(_, v)| v).collect())
    });
    e.register_fn("contains", |ctx: NativeCallContext, a: DocArray, x: Dynamic| -> R<bool> {
        ctx.charge(a.len())?;
        Ok(a.iter().any(|y| equal(&y, &x)))
    });
    e.register_fn("contains", |m: DocMap, k: ImmutableString| m.contains_key(k.as_str()));
    e.register_fn("to_array", |ctx: NativeCallContext, a: DocArray| -> R<Array> {
        ctx.charge(a.len())?;
        Ok(a.iter().collect())
    });
    macro_rules! eq {
        ($a:ty, $b:ty) => {
            e.register_fn("==", |a: $a, b: $b| equal(&Dynamic::from(a), &Dynamic::from(b)));
            e.register_fn("!=", |a: $a, b: $b| !equal(&Dynamic::from(a), &Dynamic::from(b)));
        };
    }
    eq!(DocMap, DocMap);
    eq!(DocMap, Map);
    eq!(Map, DocMap);
    eq!(DocArray, DocArray);
    eq!(DocArray, Array);
    eq!(Array, DocArray);
    e.register_fn("to_string", |m: DocMap| thaw(&Dynamic::from(m)).to_string());
    e.register_fn("to_string", |a: DocArray| thaw(&Dynamic::from(a)).to_string());
    e.register_fn("to_debug", |m: DocMap| format!("{:?}", thaw(&Dynamic::from(m))));
    e.register_fn("to_debug", |a: DocArray| format!("{:?}", thaw(&Dynamic::from(a))));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_property_names_skip_method_calls() {
        let names = property_names(["let n = submission.members.len(); m.role == x.title_code; a . b"]);
        assert_eq!(names.into_iter().collect::<Vec<_>>(), ["members", "role", "title_code"]);
    }

    #[test]
    fn document_index_follows_rhai() {
        assert_eq!(index(3, 0).unwrap(), 0);
        assert_eq!(index(3, -1).unwrap(), 2);
        assert!(index(3, 3).is_err());
        assert!(index(3, -4).is_err());
    }

    #[test]
    fn document_equality_matches_rhai_on_scalars() {
        let (one, one_f, s) = (Dynamic::from_int(1), Dynamic::from_float(1.0), Dynamic::from("1"));
        assert!(equal(&one, &one_f));
        assert!(!equal(&one, &s));
        assert!(equal(&Dynamic::UNIT, &Dynamic::UNIT));
        let doc = from_json(&serde_json::json!({"a": [1, "x"], "b": null}));
        let plain = thaw(&doc);
        assert!(equal(&doc, &plain));
        assert!(!equal(&doc, &from_json(&serde_json::json!({"a": [1, "y"], "b": null}))));
    }
}
