//! The compiled path: a script's AST, lowered once per pack into Rust
//! closures, for the subset of Rhai that rules use.
//!
//! The interpreter stays the reference. This path only has to be faster, and
//! it is built so that it cannot be different:
//! - it runs on the same values (`Dynamic`, the document's handles) and calls
//!   the same helpers (`helpers::native`) as the interpreter;
//! - a script, or a construct, outside the subset is not compiled, and runs
//!   in the interpreter;
//! - anything it is unsure of at run time (a type combination it does not
//!   know, an error, a limit) stops the run with [`Stop::Bail`], and the
//!   evaluator reruns that script in the interpreter, so a failing rule's
//!   `ENGINE` finding is exactly the interpreter's;
//! - its limits are tighter than the interpreter's: it counts at least four
//!   operations per node the interpreter counts one to three for, and bails
//!   at half the interpreter's data sizes, counted over everything the script
//!   builds. A compiled run that finishes is one the interpreter finishes too.
//!
//! Every fixture, the parity corpus and a generated corpus run through both
//! paths in the test suite (`tests/differential.rs`), and their reports must
//! be byte-identical.

use std::{cell::Cell, collections::HashMap};

use rhai::{AST, ASTFlags, Array, Dynamic, Expr, FLOAT, FnCallExpr, INT, ImmutableString, Map, Stmt, StmtBlock, Token};

use crate::{
    document::{self, DocArray, DocMap},
    helpers::native::{Counted, Native, Natives},
    pack::Limits,
};

/// Why a compiled run stopped early.
pub(crate) enum Stop {
    /// Hand the script to the interpreter.
    Bail,
    Break,
    Continue,
    Return(Dynamic),
}

type R = Result<Dynamic, Stop>;
#[cfg(not(target_arch = "wasm32"))]
type Code = Box<dyn Fn(&mut Run<'_>) -> R + Send + Sync>;
// The browser runs one thread, and Rhai is built without `sync` there.
#[cfg(target_arch = "wasm32")]
type Code = Box<dyn Fn(&mut Run<'_>) -> R>;

/// Operations counted per node (the interpreter counts one to three).
const OPS_PER_NODE: u64 = 4;

/// A compiled script: its main body and its functions.
pub(crate) struct Program {
    main: Code,
    slots: usize,
    fns: Vec<FnBody>,
}

struct FnBody {
    slots: usize,
    body: Code,
}

/// The state of one compiled run.
pub(crate) struct Run<'a> {
    /// The host's inputs, read in place: the first slots of the main body.
    inputs: &'a [Dynamic],
    /// How many of this frame's first slots are `inputs` (none in a function).
    n_in: usize,
    vars: Vec<Dynamic>,
    base: usize,
    ops: Cell<u64>,
    max_ops: u64,
    depth: usize,
    max_depth: usize,
    items: usize,
    max_items: usize,
    bytes: usize,
    max_bytes: usize,
    fns: &'a [FnBody],
}

impl Run<'_> {
    fn tick(&self) -> Result<(), Stop> {
        let n = self.ops.get() + OPS_PER_NODE;
        self.ops.set(n);
        if self.max_ops > 0 && n > self.max_ops { Err(Stop::Bail) } else { Ok(()) }
    }

    /// Counts what a script builds or keeps, against half the interpreter's limits.
    fn built(&mut self, v: &Dynamic) -> Result<(), Stop> {
        let (items, bytes) = document::data_size(v);
        self.items += items;
        self.bytes += bytes;
        if self.items > self.max_items || self.bytes > self.max_bytes {
            Err(Stop::Bail)
        } else {
            Ok(())
        }
    }

    /// Counts a value put into a container: itself, and what it holds.
    fn inserted(&mut self, v: &Dynamic) -> Result<(), Stop> {
        self.items += 1;
        self.built(v)
    }

    fn var(&self, slot: usize) -> &Dynamic {
        if slot < self.n_in { &self.inputs[slot] } else { &self.vars[self.base + slot] }
    }

    fn var_mut(&mut self, slot: usize) -> &mut Dynamic {
        // Inputs are constants: the compiler never assigns to them.
        debug_assert!(slot >= self.n_in, "an input is never assigned");
        &mut self.vars[self.base + slot]
    }
}

impl Program {
    /// Runs the script with `inputs` as its first variables (`submission`,
    /// `params`, `derived`). `Err(())` means: rerun it in the interpreter.
    pub(crate) fn run(&self, inputs: &[Dynamic], limits: &Limits) -> Result<Dynamic, ()> {
        // The inputs' slots stay unit: `Run::var` reads them from `inputs`.
        let mut vars = Vec::with_capacity(self.slots.max(inputs.len()) + 8);
        vars.resize(self.slots.max(inputs.len()), Dynamic::UNIT);
        let mut run = Run {
            inputs,
            n_in: inputs.len(),
            vars,
            base: 0,
            ops: Cell::new(0),
            max_ops: limits.max_operations,
            depth: 0,
            max_depth: limits.max_call_levels / 2,
            items: 0,
            max_items: limits.max_array_len.min(limits.max_map_len) / 2,
            bytes: 0,
            max_bytes: limits.max_string_len / 2,
            fns: &self.fns,
        };
        match (self.main)(&mut run) {
            Ok(v) | Err(Stop::Return(v)) => Ok(v),
            Err(_) => Err(()),
        }
    }
}

/// Why a script is not compiled (it runs in the interpreter).
#[derive(Debug)]
pub(crate) struct Unsupported(pub String);

type C<T> = Result<T, Unsupported>;

fn no<T>(what: impl Into<String>) -> C<T> {
    Err(Unsupported(what.into()))
}

/// Compile-time scope: names to slots.
struct Cx<'a> {
    /// Name, slot, and whether it is a constant (the host's inputs, `const`).
    names: Vec<(ImmutableString, usize, bool)>,
    next: usize,
    max: usize,
    fn_index: &'a HashMap<(String, usize), usize>,
    natives: &'static Natives,
    /// The script whose statements get coverage probes (`coverage::measure`).
    /// With the line offset of a function body parsed on its own.
    #[cfg(feature = "coverage")]
    cover: Option<(std::sync::Arc<crate::coverage::Script>, usize)>,
}

impl Cx<'_> {
    fn lookup(&self, name: &str) -> C<usize> {
        self.names
            .iter()
            .rev()
            .find(|(n, ..)| n.as_str() == name)
            .map(|(_, s, _)| *s)
            .map_or_else(|| no(format!("variable {name}")), Ok)
    }

    fn declare(&mut self, name: &ImmutableString, constant: bool) -> usize {
        let slot = self.next;
        self.next += 1;
        self.max = self.max.max(self.next);
        self.names.push((name.clone(), slot, constant));
        slot
    }

    /// A variable a script may change (not an input, not a `const`).
    fn lookup_mut(&self, name: &str) -> C<usize> {
        match self.names.iter().rev().find(|(n, ..)| n.as_str() == name) {
            Some((_, slot, false)) => Ok(*slot),
            Some(_) => no(format!("changing the constant {name}")),
            None => no(format!("variable {name}")),
        }
    }

    fn scoped<T>(&mut self, f: impl FnOnce(&mut Self) -> C<T>) -> C<T> {
        let (names, next) = (self.names.len(), self.next);
        let out = f(self);
        self.names.truncate(names);
        self.next = next;
        out
    }
}

/// Where a function body starts and ends in its source: the text between
/// its braces, which is parsed again on its own, with the parameters in scope.
fn body_text(source: &str, start: rhai::Position, end: rhai::Position) -> Option<&str> {
    let offset = |p: rhai::Position| -> Option<usize> {
        let (line, col) = (p.line()?, p.position()?);
        let line_start = if line == 1 { 0 } else { source.match_indices('\n').nth(line - 2)?.0 + 1 };
        let (i, _) = source[line_start..].char_indices().nth(col - 1)?;
        Some(line_start + i)
    };
    let (a, b) = (offset(start)?, offset(end)?);
    (source.as_bytes().get(a) == Some(&b'{') && source.as_bytes().get(b) == Some(&b'}') && a < b).then(|| &source[a + 1..b])
}

/// The script functions of one source (`lib.rhai` or a script), each body
/// parsed once on its own: a pack parses its `lib.rhai` functions once and
/// every script's compiled form shares them.
#[derive(Default)]
/// Each: name, parameters, body, and the body's first line in the source
/// minus one (the body is parsed on its own, from its own line 1).
pub(crate) struct Functions(Vec<(ImmutableString, Vec<ImmutableString>, AST, usize)>, String);

/// Parses the functions `ast` defines out of its source `text` (the file `file`).
pub(crate) fn functions(engine: &rhai::Engine, ast: &AST, text: &str, file: &str) -> C<Functions> {
    let mut out = Vec::new();
    for f in ast.iter_fn_def() {
        if f.this_type.is_some() {
            return no("a method-style function");
        }
        let Some(body) = body_text(text, f.body.start_position(), f.body.end_position()) else {
            return no(format!("the body of {}", f.name));
        };
        let mut scope = rhai::Scope::new();
        for p in &f.params {
            scope.push_dynamic(p.as_str(), Dynamic::UNIT);
        }
        let body_ast = engine.compile_with_scope(&scope, body).map_err(|e| Unsupported(format!("{}: {e}", f.name)))?;
        if body_ast.iter_fn_def().next().is_some() {
            return no("a function inside a function");
        }
        let offset = f.body.start_position().line().unwrap_or(1) - 1;
        out.push((f.name.clone(), f.params.iter().cloned().collect(), body_ast, offset));
    }
    Ok(Functions(out, file.to_owned()))
}

/// Compiles a script: `lib` are the pack's `lib.rhai` functions, then the
/// script's own (`ast`, from `text`), whose statements are the main body; a
/// script's function overrides a library one, as Rhai merges them. `inputs`
/// are the names of the variables the host provides.
#[allow(clippy::too_many_arguments, reason = "the script, its library, its host and its limits")]
pub(crate) fn compile(
    engine: &rhai::Engine,
    inputs: &[&str],
    lib: &Functions,
    ast: &AST,
    text: &str,
    natives: &'static Natives,
    limits: &Limits,
    (pack, file): (&str, &str),
) -> C<Program> {
    let own = functions(engine, ast, text, file)?;
    // Per function: parameters, body, and (for coverage) its file and line offset.
    let mut defs: Vec<(&[ImmutableString], &AST, &str, usize)> = Vec::new();
    let mut fn_index = HashMap::new();
    let from_lib = lib.0.len();
    for (k, (name, params, body, offset)) in lib.0.iter().chain(&own.0).enumerate() {
        fn_index.insert((name.to_string(), params.len()), defs.len());
        defs.push((params, body, if k < from_lib { lib.1.as_str() } else { file }, *offset));
    }
    #[cfg(feature = "coverage")]
    let covered = |file: &str, offset: usize| crate::coverage::active().then(|| (std::sync::Arc::new((pack.to_owned(), file.to_owned())), offset));
    #[cfg(not(feature = "coverage"))]
    let _ = (pack, file);
    // A compile-time scope with `names` declared (constants for the host's inputs).
    let scope_of = |names: &[ImmutableString], constant: bool, _file: &str, _offset: usize| {
        let mut cx = Cx {
            names: Vec::new(),
            next: 0,
            max: 0,
            fn_index: &fn_index,
            natives,
            #[cfg(feature = "coverage")]
            cover: covered(_file, _offset),
        };
        for n in names {
            cx.declare(n, constant);
        }
        cx
    };
    let mut fns = Vec::with_capacity(defs.len());
    for (params, body, file, offset) in &defs {
        let mut cx = scope_of(params, false, file, *offset);
        // A function outside the subset gives up when called: the scripts that
        // never call it stay compiled, and those that do rerun in the interpreter.
        let code = block(&mut cx, body.statements()).unwrap_or_else(|_| Box::new(|_| Err(Stop::Bail)));
        fns.push(FnBody { slots: cx.max, body: code });
    }
    let input_names: Vec<ImmutableString> = inputs.iter().map(|n| (*n).into()).collect();
    let mut cx = scope_of(&input_names, true, file, 0);
    let main = block(&mut cx, ast.statements())?;
    let slots = cx.max.max(fns.iter().map(|f| f.slots).max().unwrap_or(0));
    // The interpreter's scope holds every live variable; stay well inside it.
    if (slots + inputs.len()) * 2 > limits.max_variables {
        return no("more variables than half the limit");
    }
    Ok(Program { main, slots: cx.max, fns })
}

fn block(cx: &mut Cx<'_>, stmts: &[Stmt]) -> C<Code> {
    cx.scoped(|cx| {
        let codes: Vec<Code> = stmts.iter().map(|s| stmt(cx, s)).collect::<C<_>>()?;
        Ok(Box::new(move |run: &mut Run<'_>| {
            let mut last = Dynamic::UNIT;
            for c in &codes {
                last = c(run)?;
            }
            Ok(last)
        }) as Code)
    })
}

fn stmt_block(cx: &mut Cx<'_>, b: &StmtBlock) -> C<Code> {
    block(cx, b.statements())
}

fn truthy(v: &Dynamic) -> Result<bool, Stop> {
    v.as_bool().map_err(|_| Stop::Bail)
}

fn stmt(cx: &mut Cx<'_>, s: &Stmt) -> C<Code> {
    let code = statement(cx, s)?;
    #[cfg(feature = "coverage")]
    if let (Some((script, offset)), Some(line)) = (&cx.cover, s.position().line()) {
        let probe = crate::coverage::probe(script, line + offset);
        return Ok(Box::new(move |run| {
            probe();
            code(run)
        }));
    }
    Ok(code)
}

#[allow(clippy::too_many_lines, reason = "one arm per statement kind")]
fn statement(cx: &mut Cx<'_>, s: &Stmt) -> C<Code> {
    Ok(match s {
        Stmt::Noop(..) => Box::new(|_| Ok(Dynamic::UNIT)),
        Stmt::Expr(e) => expr(cx, e)?,
        Stmt::FnCall(f, ..) => call(cx, f)?,
        Stmt::Block(b) => stmt_block(cx, b)?,
        Stmt::Var(x, flags, ..) => {
            if flags.contains(ASTFlags::EXPORTED) {
                return no("export");
            }
            let value = expr(cx, &x.1)?;
            let slot = cx.declare(&x.0.name, flags.contains(ASTFlags::CONSTANT));
            Box::new(move |run| {
                run.tick()?;
                let v = value(run)?;
                *run.var_mut(slot) = v;
                Ok(Dynamic::UNIT)
            })
        }
        Stmt::If(x, ..) => {
            let cond = expr(cx, &x.expr)?;
            let then = stmt_block(cx, &x.body)?;
            let other = stmt_block(cx, &x.branch)?;
            Box::new(move |run| {
                run.tick()?;
                if truthy(&cond(run)?)? { then(run) } else { other(run) }
            })
        }
        Stmt::While(x, ..) => {
            let cond = if matches!(x.expr, Expr::Unit(..)) { None } else { Some(expr(cx, &x.expr)?) };
            let body = stmt_block(cx, &x.body)?;
            Box::new(move |run| {
                loop {
                    run.tick()?;
                    if let Some(c) = &cond
                        && !truthy(&c(run)?)?
                    {
                        break;
                    }
                    match body(run) {
                        Ok(_) | Err(Stop::Continue) => {}
                        Err(Stop::Break) => break,
                        Err(e) => return Err(e),
                    }
                }
                Ok(Dynamic::UNIT)
            })
        }
        Stmt::For(x, ..) => {
            let (var, counter, flow) = &**x;
            let range = range_of(cx, &flow.expr)?;
            let iterable = if range.is_none() { Some(expr(cx, &flow.expr)?) } else { None };
            cx.scoped(|cx| {
                let var_slot = cx.declare(&var.name, false);
                let counter_slot = counter.as_ref().map(|c| cx.declare(&c.name, false));
                let body = stmt_block(cx, &flow.body)?;
                Ok(Box::new(move |run: &mut Run<'_>| {
                    run.tick()?;
                    let items: Box<dyn Iterator<Item = Dynamic>> = if let Some((from, to, incl)) = &range {
                        let (a, b) = (from(run)?.as_int().map_err(|_| Stop::Bail)?, to(run)?.as_int().map_err(|_| Stop::Bail)?);
                        if *incl {
                            Box::new((a..=b).map(Dynamic::from_int))
                        } else {
                            Box::new((a..b).map(Dynamic::from_int))
                        }
                    } else {
                        let v = iterable.as_ref().expect("range or iterable")(run)?;
                        if v.is_array() {
                            Box::new(v.cast::<Array>().into_iter())
                        } else if let Some(a) = v.try_cast::<DocArray>() {
                            Box::new(a.into_iter())
                        } else {
                            return Err(Stop::Bail);
                        }
                    };
                    for (i, item) in items.enumerate() {
                        run.tick()?;
                        *run.var_mut(var_slot) = item;
                        if let Some(c) = counter_slot {
                            *run.var_mut(c) = Dynamic::from_int(INT::try_from(i).map_err(|_| Stop::Bail)?);
                        }
                        match body(run) {
                            Ok(_) | Err(Stop::Continue) => {}
                            Err(Stop::Break) => break,
                            Err(e) => return Err(e),
                        }
                    }
                    Ok(Dynamic::UNIT)
                }) as Code)
            })?
        }
        Stmt::BreakLoop(value, flags, ..) => {
            if value.is_some() {
                return no("break with a value");
            }
            if flags.contains(ASTFlags::BREAK) {
                Box::new(|run| {
                    run.tick()?;
                    Err(Stop::Break)
                })
            } else {
                Box::new(|run| {
                    run.tick()?;
                    Err(Stop::Continue)
                })
            }
        }
        Stmt::Return(value, flags, ..) => {
            if flags.contains(ASTFlags::BREAK) {
                // `throw`: an error, which the interpreter reports.
                return Ok(Box::new(|_| Err(Stop::Bail)));
            }
            let value = value.as_ref().map(|v| expr(cx, v)).transpose()?;
            Box::new(move |run| {
                run.tick()?;
                let v = match &value {
                    Some(v) => v(run)?,
                    None => Dynamic::UNIT,
                };
                Err(Stop::Return(v))
            })
        }
        Stmt::Assignment(x) => assignment(cx, &x.0, &x.1.lhs, &x.1.rhs)?,
        _ => return no("a statement outside the subset"),
    })
}

/// `for i in a..b` / `a..=b`: the bounds, compiled, without building a range value.
fn range_of(cx: &mut Cx<'_>, e: &Expr) -> C<Option<(Code, Code, bool)>> {
    if let Expr::FnCall(f, ..) = e {
        let incl = match f.op_token {
            Some(Token::ExclusiveRange) => false,
            Some(Token::InclusiveRange) => true,
            _ => return Ok(None),
        };
        if f.args.len() == 2 {
            return Ok(Some((expr(cx, &f.args[0])?, expr(cx, &f.args[1])?, incl)));
        }
    }
    if let Expr::DynamicConstant(v, ..) = e {
        let bounds = v
            .read_lock::<std::ops::Range<INT>>()
            .map(|r| (r.start, r.end, false))
            .or_else(|| v.read_lock::<std::ops::RangeInclusive<INT>>().map(|r| (*r.start(), *r.end(), true)));
        if let Some((a, b, incl)) = bounds {
            return Ok(Some((
                Box::new(move |_| Ok(Dynamic::from_int(a))),
                Box::new(move |_| Ok(Dynamic::from_int(b))),
                incl,
            )));
        }
    }
    Ok(None)
}

/// One step of a chain after its root.
enum Step {
    /// A property and its [`document::key_hash`].
    Prop(ImmutableString, u32),
    Index(Code),
    Method(ImmutableString, Vec<Code>, Target),
}

/// What a call resolves to, decided when the script is compiled.
#[derive(Clone, Copy)]
enum Target {
    Builtin(Builtin),
    Native(&'static [Native]),
    /// `push`/`sort`, which change their receiver: compiled only on a variable.
    Changing,
}

/// Rhai's own functions that the compiled path implements itself.
#[derive(Clone, Copy)]
enum Builtin {
    TypeOf,
    Len,
    IsEmpty,
    Keys,
    Contains,
    StartsWith,
    EndsWith,
    SubString,
    Min,
    Max,
    Abs,
    ToString,
}

fn target(cx: &Cx<'_>, name: &str, arity: usize) -> C<Target> {
    let b = match (name, arity) {
        ("type_of", 1) => Some(Builtin::TypeOf),
        ("len", 1) => Some(Builtin::Len),
        ("is_empty", 1) => Some(Builtin::IsEmpty),
        ("keys", 1) => Some(Builtin::Keys),
        ("contains", 2) => Some(Builtin::Contains),
        ("starts_with", 2) => Some(Builtin::StartsWith),
        ("ends_with", 2) => Some(Builtin::EndsWith),
        ("sub_string", 3) => Some(Builtin::SubString),
        ("min", 2) => Some(Builtin::Min),
        ("max", 2) => Some(Builtin::Max),
        ("abs", 1) => Some(Builtin::Abs),
        ("to_string", 1) => Some(Builtin::ToString),
        _ => None,
    };
    if let Some(b) = b {
        return Ok(Target::Builtin(b));
    }
    cx.natives
        .get(name, arity)
        .map_or_else(|| no(format!("function {name}/{arity}")), |n| Ok(Target::Native(n)))
}

/// Flattens `a.b[i].c(x)` into the root and its steps. Rhai binds chains
/// to the right: `Dot(a, Index(b, Dot(i, c)))`; an `Index` node flagged
/// `BREAK` ends the chain, so its right side is a plain index expression.
fn flatten<'e>(cx: &mut Cx<'_>, e: &'e Expr) -> C<(&'e Expr, Vec<Step>)> {
    let mut steps = Vec::new();
    match e {
        Expr::Dot(x, flags, ..) => {
            plain(*flags)?;
            dot_rhs(cx, &x.rhs, &mut steps)?;
            Ok((&x.lhs, steps))
        }
        Expr::Index(x, flags, ..) => {
            plain(*flags)?;
            index_rhs(cx, &x.rhs, *flags, &mut steps)?;
            Ok((&x.lhs, steps))
        }
        other => Ok((other, steps)),
    }
}

/// `?.` and `?[` (flagged `NEGATED`) are left to the interpreter.
fn plain(flags: ASTFlags) -> C<()> {
    if flags.contains(ASTFlags::NEGATED) { no("?. or ?[") } else { Ok(()) }
}

fn one_dot(cx: &mut Cx<'_>, e: &Expr) -> C<Step> {
    match e {
        Expr::Property(p, ..) => Ok(Step::Prop(p.2.clone(), document::key_hash(&p.2))),
        Expr::MethodCall(f, ..) => {
            if f.capture_parent_scope {
                return no("a method call capturing scope");
            }
            let t = if matches!(f.name.as_str(), "push" | "sort") {
                Target::Changing
            } else {
                target(cx, &f.name, f.args.len() + 1)?
            };
            Ok(Step::Method(f.name.clone(), f.args.iter().map(|a| expr(cx, a)).collect::<C<_>>()?, t))
        }
        _ => no("a dot step outside the subset"),
    }
}

/// The right side of a `Dot`: a property or method, maybe followed by more.
fn dot_rhs(cx: &mut Cx<'_>, e: &Expr, out: &mut Vec<Step>) -> C<()> {
    match e {
        Expr::Dot(x, flags, ..) => {
            plain(*flags)?;
            out.push(one_dot(cx, &x.lhs)?);
            dot_rhs(cx, &x.rhs, out)
        }
        Expr::Index(x, flags, ..) => {
            plain(*flags)?;
            out.push(one_dot(cx, &x.lhs)?);
            index_rhs(cx, &x.rhs, *flags, out)
        }
        other => {
            out.push(one_dot(cx, other)?);
            Ok(())
        }
    }
}

/// The right side of an `Index` flagged `parent`: the index, maybe followed by more.
fn index_rhs(cx: &mut Cx<'_>, e: &Expr, parent: ASTFlags, out: &mut Vec<Step>) -> C<()> {
    if parent.contains(ASTFlags::BREAK) {
        out.push(Step::Index(expr(cx, e)?));
        return Ok(());
    }
    match e {
        Expr::Dot(x, flags, ..) => {
            plain(*flags)?;
            out.push(Step::Index(expr(cx, &x.lhs)?));
            dot_rhs(cx, &x.rhs, out)
        }
        Expr::Index(x, flags, ..) => {
            plain(*flags)?;
            out.push(Step::Index(expr(cx, &x.lhs)?));
            index_rhs(cx, &x.rhs, *flags, out)
        }
        other => {
            out.push(Step::Index(expr(cx, other)?));
            Ok(())
        }
    }
}

/// `x.name` of a value, as Rhai reads it.
fn prop(v: &Dynamic, name: &str, hash: u32) -> R {
    if let Some(m) = v.read_lock::<DocMap>() {
        return Ok(m.get_hashed(name, hash));
    }
    if let Some(m) = v.read_lock::<Map>() {
        return Ok(m.get(name).cloned().unwrap_or(Dynamic::UNIT));
    }
    Err(Stop::Bail)
}

/// Rhai's array index: negative counts from the end; out of range is an error.
fn array_index(len: usize, i: INT) -> Result<usize, Stop> {
    if i < 0 {
        len.checked_sub(usize::try_from(i.unsigned_abs()).map_err(|_| Stop::Bail)?).ok_or(Stop::Bail)
    } else {
        let i = usize::try_from(i).map_err(|_| Stop::Bail)?;
        if i < len { Ok(i) } else { Err(Stop::Bail) }
    }
}

/// `x[i]` of a value, as Rhai reads it.
fn index(v: &Dynamic, i: &Dynamic) -> R {
    if i.is_int()
        && let Ok(n) = i.as_int()
    {
        if let Some(a) = v.read_lock::<DocArray>() {
            let at = array_index(a.len(), n)?;
            return Ok(a.at(at));
        }
        if let Some(a) = v.read_lock::<Array>() {
            return Ok(a[array_index(a.len(), n)?].clone());
        }
        return Err(Stop::Bail);
    }
    if let Some(k) = i.read_lock::<ImmutableString>() {
        if let Some(m) = v.read_lock::<DocMap>() {
            return Ok(m.get(&k));
        }
        if let Some(m) = v.read_lock::<Map>() {
            return Ok(m.get(k.as_str()).cloned().unwrap_or(Dynamic::UNIT));
        }
    }
    Err(Stop::Bail)
}

fn chain(cx: &mut Cx<'_>, e: &Expr) -> C<Code> {
    let (root, steps) = flatten(cx, e)?;
    // A method that changes its receiver (`list.push(x)`) works on the variable itself.
    if let (Expr::Variable(v, ..), [Step::Method(name, _, Target::Changing)]) = (root, steps.as_slice()) {
        let slot = cx.lookup_mut(&v.1)?;
        return mutating_method(name.clone(), slot, steps);
    }
    if steps.iter().any(|s| matches!(s, Step::Method(_, _, Target::Changing))) {
        return no("a changing method deep in a chain");
    }
    let root_slot = match root {
        Expr::Variable(v, ..) => Some(cx.lookup(&v.1)?),
        _ => None,
    };
    let root_code = if root_slot.is_none() { Some(expr(cx, root)?) } else { None };
    Ok(Box::new(move |run| {
        run.tick()?;
        let mut steps_iter = steps.iter();
        // The first step reads the root by reference: no clone of a handle.
        let mut cur = match (root_slot, steps_iter.next()) {
            (Some(slot), Some(Step::Prop(name, hash))) => {
                let v = prop(run.var(slot), name, *hash)?;
                check_string(run, &v)?;
                v
            }
            (Some(slot), Some(Step::Index(i))) => {
                let i = i(run)?;
                let v = index(run.var(slot), &i)?;
                check_string(run, &v)?;
                v
            }
            (Some(slot), Some(Step::Method(_, args, t))) => {
                let recv = run.var(slot).clone();
                method(run, *t, recv, args)?
            }
            (Some(slot), None) => run.var(slot).clone(),
            (None, first) => {
                let r = root_code.as_ref().expect("root code")(run)?;
                match first {
                    None => r,
                    Some(s) => step(run, r, s)?,
                }
            }
        };
        for s in steps_iter {
            run.tick()?;
            cur = step(run, cur, s)?;
        }
        Ok(cur)
    }))
}

fn check_string(run: &Run<'_>, v: &Dynamic) -> Result<(), Stop> {
    match v.read_lock::<ImmutableString>() {
        Some(s) if s.len() > run.max_bytes => Err(Stop::Bail),
        _ => Ok(()),
    }
}

fn step(run: &mut Run<'_>, cur: Dynamic, s: &Step) -> R {
    let v = match s {
        Step::Prop(name, hash) => prop(&cur, name, *hash)?,
        Step::Index(i) => {
            let i = i(run)?;
            index(&cur, &i)?
        }
        Step::Method(_, args, t) => return method(run, *t, cur, args),
    };
    check_string(run, &v)?;
    Ok(v)
}

fn method(run: &mut Run<'_>, t: Target, recv: Dynamic, args: &[Code]) -> R {
    let mut all = Args::new();
    all.push(recv);
    for a in args {
        all.push(a(run)?);
    }
    invoke(run, t, all)
}

/// Call arguments, inline up to three.
type Args = rhai::StaticVec<Dynamic>;

fn mutating_method(name: ImmutableString, slot: usize, steps: Vec<Step>) -> C<Code> {
    let Some(Step::Method(_, arg_codes, _)) = steps.into_iter().next() else {
        return no("a method");
    };
    Ok(Box::new(move |run| {
        run.tick()?;
        let mut vals = Vec::with_capacity(arg_codes.len());
        for a in &arg_codes {
            vals.push(a(run)?);
        }
        match (name.as_str(), vals.len()) {
            ("push", 1) => {
                let item = vals.pop().expect("one argument");
                run.inserted(&item)?;
                let target = run.var_mut(slot);
                let Some(mut a) = target.write_lock::<Array>() else { return Err(Stop::Bail) };
                a.push(item);
                Ok(Dynamic::UNIT)
            }
            ("sort", 0) => {
                let target = run.var_mut(slot);
                let Some(mut a) = target.write_lock::<Array>() else { return Err(Stop::Bail) };
                sort(&mut a)?;
                Ok(Dynamic::UNIT)
            }
            _ => Err(Stop::Bail),
        }
    }))
}

/// Rhai's `sort()` for arrays of only ints or only strings; anything else is
/// left to the interpreter.
fn sort(a: &mut Array) -> Result<(), Stop> {
    if a.iter().all(Dynamic::is_int) {
        a.sort_by_key(|x| x.as_int().unwrap_or_default());
        return Ok(());
    }
    if a.iter().all(Dynamic::is_string) {
        a.sort_by(|x, y| {
            let (x, y) = (x.read_lock::<ImmutableString>(), y.read_lock::<ImmutableString>());
            x.as_deref().map(ImmutableString::as_str).cmp(&y.as_deref().map(ImmutableString::as_str))
        });
        return Ok(());
    }
    Err(Stop::Bail)
}

fn assignment(cx: &mut Cx<'_>, op: &rhai::OpAssignment, lhs: &Expr, rhs: &Expr) -> C<Code> {
    let op_name: Option<&'static str> = op.get_op_assignment_info().map(|(.., op_syntax)| op_syntax);
    let value = expr(cx, rhs)?;
    let (root, steps) = flatten(cx, lhs)?;
    let Expr::Variable(v, ..) = root else {
        return no("assignment to something not a variable");
    };
    let slot = cx.lookup_mut(&v.1)?;
    if steps.iter().any(|s| matches!(s, Step::Method(..))) {
        return no("assignment through a method");
    }
    Ok(Box::new(move |run| {
        run.tick()?;
        let new = value(run)?;
        let mut keys = Vec::with_capacity(steps.len());
        for s in &steps {
            keys.push(match s {
                Step::Prop(p, _) => Dynamic::from(p.clone()),
                Step::Index(i) => i(run)?,
                Step::Method(..) => return Err(Stop::Bail),
            });
        }
        let new = match op_name {
            Some(o) => {
                let old = {
                    let mut cur = run.var(slot).clone();
                    for k in &keys {
                        cur = index(&cur, k)?;
                    }
                    cur
                };
                binary(run, o, &old, &new)?
            }
            None => new,
        };
        if !keys.is_empty() {
            run.inserted(&new)?;
        }
        let target = run.var_mut(slot);
        if keys.is_empty() {
            *target = new;
            return Ok(Dynamic::UNIT);
        }
        set_path(target, &keys, new)?;
        Ok(Dynamic::UNIT)
    }))
}

/// `x[k1][k2]… = v` on a script's own maps and arrays.
fn set_path(target: &mut Dynamic, keys: &[Dynamic], v: Dynamic) -> Result<(), Stop> {
    let (k, rest) = keys.split_first().ok_or(Stop::Bail)?;
    if let Some(mut m) = target.write_lock::<Map>() {
        let key = k.read_lock::<ImmutableString>().ok_or(Stop::Bail)?.as_str().into();
        if rest.is_empty() {
            m.insert(key, v);
            return Ok(());
        }
        let inner = m.get_mut(&key).ok_or(Stop::Bail)?;
        return set_path(inner, rest, v);
    }
    if let Some(mut a) = target.write_lock::<Array>() {
        let i = array_index(a.len(), k.as_int().map_err(|_| Stop::Bail)?)?;
        if rest.is_empty() {
            a[i] = v;
            return Ok(());
        }
        return set_path(&mut a[i], rest, v);
    }
    Err(Stop::Bail)
}

#[allow(clippy::too_many_lines, reason = "one arm per expression kind")]
fn expr(cx: &mut Cx<'_>, e: &Expr) -> C<Code> {
    Ok(match e {
        Expr::DynamicConstant(v, ..) => {
            let v = (**v).clone();
            if !(v.is_int() || v.is_float() || v.is_bool() || v.is_string() || v.is_unit() || v.is_char()) {
                // Constant arrays and maps are built fresh each time, as Rhai does, and sized.
                let v2 = v.clone();
                return Ok(Box::new(move |run| {
                    run.tick()?;
                    run.built(&v2)?;
                    Ok(v2.clone())
                }));
            }
            Box::new(move |_| Ok(v.clone()))
        }
        Expr::BoolConstant(b, ..) => {
            let b = *b;
            Box::new(move |_| Ok(Dynamic::from_bool(b)))
        }
        Expr::IntegerConstant(i, ..) => {
            let i = *i;
            Box::new(move |_| Ok(Dynamic::from_int(i)))
        }
        Expr::FloatConstant(f, ..) => {
            let f: FLOAT = **f;
            Box::new(move |_| Ok(Dynamic::from_float(f)))
        }
        Expr::CharConstant(c, ..) => {
            let c = *c;
            Box::new(move |_| Ok(Dynamic::from(c)))
        }
        Expr::StringConstant(s, ..) => {
            let s = s.clone();
            Box::new(move |_| Ok(Dynamic::from(s.clone())))
        }
        Expr::Unit(..) => Box::new(|_| Ok(Dynamic::UNIT)),
        Expr::Variable(v, ..) => {
            let slot = cx.lookup(&v.1)?;
            Box::new(move |run| Ok(run.var(slot).clone()))
        }
        Expr::Array(items, ..) => {
            let codes: Vec<Code> = items.iter().map(|x| expr(cx, x)).collect::<C<_>>()?;
            Box::new(move |run| {
                run.tick()?;
                let mut out = Array::with_capacity(codes.len());
                for c in &codes {
                    out.push(c(run)?);
                }
                let v = Dynamic::from_array(out);
                run.built(&v)?;
                Ok(v)
            })
        }
        Expr::Map(x, ..) => {
            let (entries, template) = &**x;
            let template = template.clone();
            let codes: Vec<(ImmutableString, Code)> = entries.iter().map(|(k, v)| Ok((k.name.clone(), expr(cx, v)?))).collect::<C<_>>()?;
            Box::new(move |run| {
                run.tick()?;
                let mut m = template.clone();
                for (k, c) in &codes {
                    let v = c(run)?;
                    m.insert(k.as_str().into(), v);
                }
                let v = Dynamic::from_map(m);
                run.built(&v)?;
                Ok(v)
            })
        }
        Expr::InterpolatedString(parts, ..) => {
            let codes: Vec<Code> = parts.iter().map(|x| expr(cx, x)).collect::<C<_>>()?;
            Box::new(move |run| {
                run.tick()?;
                let mut out = String::new();
                for c in &codes {
                    let v = c(run)?;
                    // What Rhai's `to_string` writes for a string, `()` and an int;
                    // any other value is left to the interpreter.
                    if let Some(s) = v.read_lock::<ImmutableString>() {
                        out.push_str(&s);
                    } else if v.is_int() {
                        out.push_str(&v.as_int().map_err(|_| Stop::Bail)?.to_string());
                    } else if !v.is_unit() {
                        return Err(Stop::Bail);
                    }
                    if out.len() > run.max_bytes {
                        return Err(Stop::Bail);
                    }
                }
                Ok(Dynamic::from(ImmutableString::from(out)))
            })
        }
        Expr::Dot(..) | Expr::Index(..) => chain(cx, e)?,
        Expr::FnCall(f, ..) => call(cx, f)?,
        Expr::Stmt(b) => stmt_block(cx, b)?,
        Expr::And(xs, ..) | Expr::Or(xs, ..) => {
            let and = matches!(e, Expr::And(..));
            let codes: Vec<Code> = xs.iter().map(|x| expr(cx, x)).collect::<C<_>>()?;
            Box::new(move |run| {
                run.tick()?;
                for c in &codes {
                    let b = truthy(&c(run)?)?;
                    if b != and {
                        return Ok(Dynamic::from_bool(b));
                    }
                }
                Ok(Dynamic::from_bool(and))
            })
        }
        Expr::Coalesce(xs, ..) => {
            let codes: Vec<Code> = xs.iter().map(|x| expr(cx, x)).collect::<C<_>>()?;
            Box::new(move |run| {
                run.tick()?;
                let mut last = Dynamic::UNIT;
                for c in &codes {
                    last = c(run)?;
                    if !last.is_unit() {
                        break;
                    }
                }
                Ok(last)
            })
        }
        _ => return no("an expression outside the subset"),
    })
}

fn call(cx: &mut Cx<'_>, f: &FnCallExpr) -> C<Code> {
    if f.capture_parent_scope {
        return no("a call capturing scope");
    }
    let args: Vec<Code> = f.args.iter().map(|a| expr(cx, a)).collect::<C<_>>()?;
    let name = f.name.clone();
    // Script functions first, as Rhai resolves them.
    if let Some(&k) = cx.fn_index.get(&(name.to_string(), args.len())) {
        return Ok(Box::new(move |run| {
            run.tick()?;
            let mut vals = Args::new();
            for a in &args {
                vals.push(a(run)?);
            }
            call_script(run, k, vals)
        }));
    }
    if is_operator(&name) {
        return operator(name, args);
    }
    if f.op_token.is_some() && name.as_str() != "contains" {
        return no(format!("operator {name}"));
    }
    let t = target(cx, &name, args.len())?;
    Ok(Box::new(move |run| {
        run.tick()?;
        let mut vals = Args::new();
        for a in &args {
            vals.push(a(run)?);
        }
        invoke(run, t, vals)
    }))
}

fn call_script(run: &mut Run<'_>, k: usize, args: Args) -> R {
    if run.depth >= run.max_depth {
        return Err(Stop::Bail);
    }
    let fns = run.fns;
    let f = &fns[k];
    let (saved, saved_in) = (run.base, run.n_in);
    let base = run.vars.len();
    run.vars.extend(args);
    run.vars.resize(base + f.slots.max(run.vars.len() - base), Dynamic::UNIT);
    run.base = base;
    run.n_in = 0;
    run.depth += 1;
    let out = (f.body)(run);
    run.depth -= 1;
    run.base = saved;
    run.n_in = saved_in;
    run.vars.truncate(base);
    match out {
        Ok(v) | Err(Stop::Return(v)) => Ok(v),
        Err(Stop::Break | Stop::Continue | Stop::Bail) => Err(Stop::Bail),
    }
}

fn is_operator(name: &str) -> bool {
    matches!(name, "+" | "-" | "*" | "/" | "%" | "==" | "!=" | "<" | "<=" | ">" | ">=" | "!")
}

fn operator(name: ImmutableString, args: Vec<Code>) -> C<Code> {
    match (name.as_str(), args.len()) {
        ("!", 1) => {
            let a = args.into_iter().next().expect("one");
            Ok(Box::new(move |run| {
                run.tick()?;
                Ok(Dynamic::from_bool(!truthy(&a(run)?)?))
            }))
        }
        ("-", 1) => {
            let a = args.into_iter().next().expect("one");
            Ok(Box::new(move |run| {
                run.tick()?;
                let v = a(run)?;
                if let Ok(i) = v.as_int() {
                    return i.checked_neg().map(Dynamic::from_int).ok_or(Stop::Bail);
                }
                v.as_float().map(|f| Dynamic::from_float(-f)).map_err(|_| Stop::Bail)
            }))
        }
        (op, 2) if is_operator(op) => {
            let mut it = args.into_iter();
            let (a, b) = (it.next().expect("two"), it.next().expect("two"));
            let op: &'static str = match op {
                "+" => "+",
                "-" => "-",
                "*" => "*",
                "/" => "/",
                "%" => "%",
                "==" => "==",
                "!=" => "!=",
                "<" => "<",
                "<=" => "<=",
                ">" => ">",
                _ => ">=",
            };
            Ok(Box::new(move |run| {
                run.tick()?;
                let x = a(run)?;
                let y = b(run)?;
                binary(run, op, &x, &y)
            }))
        }
        _ => no(format!("operator {name}")),
    }
}

fn is_cmp(op: &str) -> bool {
    matches!(op, "==" | "!=" | "<" | "<=" | ">" | ">=")
}

/// Rhai's built-in binary operators on the values rules use; anything else bails.
#[allow(clippy::cast_precision_loss, reason = "Rhai mixes int and float the same way")]
fn binary(run: &mut Run<'_>, op: &str, x: &Dynamic, y: &Dynamic) -> R {
    // Rhai compares a char with a string by their first characters, and has
    // more such pairs; chars are left to the interpreter.
    if x.is_char() || y.is_char() {
        return Err(Stop::Bail);
    }
    // `is_*` before `as_*`: a failing `as_int` formats a type name.
    if x.is_int()
        && y.is_int()
        && let (Ok(a), Ok(b)) = (x.as_int(), y.as_int())
    {
        let v = match op {
            "+" => a.checked_add(b).map(Dynamic::from_int),
            "-" => a.checked_sub(b).map(Dynamic::from_int),
            "*" => a.checked_mul(b).map(Dynamic::from_int),
            "/" => a.checked_div(b).map(Dynamic::from_int),
            "%" => a.checked_rem(b).map(Dynamic::from_int),
            "==" => Some(Dynamic::from_bool(a == b)),
            "!=" => Some(Dynamic::from_bool(a != b)),
            "<" => Some(Dynamic::from_bool(a < b)),
            "<=" => Some(Dynamic::from_bool(a <= b)),
            ">" => Some(Dynamic::from_bool(a > b)),
            _ => Some(Dynamic::from_bool(a >= b)),
        };
        return v.ok_or(Stop::Bail);
    }
    let num = |d: &Dynamic| {
        if d.is_float() {
            d.as_float().ok()
        } else if d.is_int() {
            d.as_int().ok().map(|i| i as FLOAT)
        } else {
            None
        }
    };
    if let (Some(a), Some(b)) = (num(x), num(y)) {
        return Ok(match op {
            "+" => Dynamic::from_float(a + b),
            "-" => Dynamic::from_float(a - b),
            "*" => Dynamic::from_float(a * b),
            "/" => Dynamic::from_float(a / b),
            "%" => Dynamic::from_float(a % b),
            cmp => Dynamic::from_bool(document::float_cmp(cmp, a, b)),
        });
    }
    if let (Some(a), Some(b)) = (x.read_lock::<ImmutableString>(), y.read_lock::<ImmutableString>()) {
        let (a, b) = (a.as_str(), b.as_str());
        return Ok(match op {
            "+" => {
                let s: ImmutableString = format!("{a}{b}").into();
                if s.len() > run.max_bytes {
                    return Err(Stop::Bail);
                }
                Dynamic::from(s)
            }
            "==" => Dynamic::from_bool(a == b),
            "!=" => Dynamic::from_bool(a != b),
            "<" => Dynamic::from_bool(a < b),
            "<=" => Dynamic::from_bool(a <= b),
            ">" => Dynamic::from_bool(a > b),
            ">=" => Dynamic::from_bool(a >= b),
            _ => return Err(Stop::Bail),
        });
    }
    if op == "+" {
        // A string and an int or `()`: what `add_append`/`add_prepend` make.
        let text = |d: &Dynamic| -> Option<String> {
            if d.is_unit() {
                Some(String::new())
            } else {
                d.as_int().ok().map(|i| i.to_string())
            }
        };
        let s = if let Some(a) = x.read_lock::<ImmutableString>() {
            text(y).map(|t| format!("{}{t}", a.as_str()))
        } else if let Some(b) = y.read_lock::<ImmutableString>() {
            text(x).map(|t| format!("{t}{}", b.as_str()))
        } else {
            None
        };
        let s = s.ok_or(Stop::Bail)?;
        if s.len() > run.max_bytes {
            return Err(Stop::Bail);
        }
        return Ok(Dynamic::from(ImmutableString::from(s)));
    }
    if is_cmp(op) {
        if x.is_unit() && y.is_unit() {
            return Ok(Dynamic::from_bool(matches!(op, "==")));
        }
        if x.is_bool()
            && y.is_bool()
            && let (Ok(a), Ok(b)) = (x.as_bool(), y.as_bool())
        {
            return Ok(Dynamic::from_bool(match op {
                "==" => a == b,
                "!=" => a != b,
                "<" => !a & b,
                "<=" => a <= b,
                ">" => a & !b,
                _ => a >= b,
            }));
        }
        let kinds_differ = x.type_id() != y.type_id();
        let numeric = |d: &Dynamic| d.is_int() || d.is_float();
        if kinds_differ && !(numeric(x) && numeric(y)) {
            // Rhai's default for values of different types.
            let either_handle = |d: &Dynamic| d.is::<DocMap>() || d.is::<DocArray>();
            let mixed_collections = (document::is_map(x) && document::is_map(y)) || (document::is_array(x) && document::is_array(y));
            if !(mixed_collections && (either_handle(x) || either_handle(y))) {
                return Ok(Dynamic::from_bool(op == "!="));
            }
        }
        if matches!(op, "==" | "!=") && (document::is_map(x) || document::is_array(x)) && (document::is_map(y) || document::is_array(y)) {
            let handles = x.is::<DocMap>() || x.is::<DocArray>() || y.is::<DocMap>() || y.is::<DocArray>();
            if handles {
                let eq = document::equal(x, y);
                return Ok(Dynamic::from_bool(if op == "==" { eq } else { !eq }));
            }
        }
    }
    Err(Stop::Bail)
}

#[allow(clippy::cast_possible_wrap, reason = "lengths are bounded by the sandbox")]
fn invoke(run: &mut Run<'_>, t: Target, mut args: Args) -> R {
    let b = match t {
        Target::Builtin(b) => b,
        Target::Native(overloads) => return call_native(run, overloads, &mut args),
        Target::Changing => return Err(Stop::Bail),
    };
    match (b, args.as_slice()) {
        (Builtin::TypeOf, [x]) => return Ok(Dynamic::from(ImmutableString::from(type_name(x)?))),
        (Builtin::Len, [x]) => {
            if let Some(s) = x.read_lock::<ImmutableString>() {
                return Ok(Dynamic::from_int(s.chars().count() as INT));
            }
            if let Some(a) = x.read_lock::<Array>() {
                return Ok(Dynamic::from_int(a.len() as INT));
            }
            if let Some(a) = x.read_lock::<DocArray>() {
                return Ok(Dynamic::from_int(a.len() as INT));
            }
            if let Some(m) = x.read_lock::<Map>() {
                return Ok(Dynamic::from_int(m.len() as INT));
            }
            if let Some(m) = x.read_lock::<DocMap>() {
                return Ok(Dynamic::from_int(m.entries().count() as INT));
            }
            Err(Stop::Bail)
        }
        (Builtin::IsEmpty, [x]) => {
            if let Some(a) = x.read_lock::<Array>() {
                return Ok(Dynamic::from_bool(a.is_empty()));
            }
            if let Some(a) = x.read_lock::<DocArray>() {
                return Ok(Dynamic::from_bool(a.is_empty()));
            }
            Err(Stop::Bail)
        }
        (Builtin::Keys, [x]) => {
            let keys: Array = if let Some(m) = x.read_lock::<Map>() {
                m.keys().map(|k| Dynamic::from(ImmutableString::from(k.as_str()))).collect()
            } else if let Some(m) = x.read_lock::<DocMap>() {
                m.entries().map(|(k, _)| Dynamic::from(ImmutableString::from(k))).collect()
            } else {
                return Err(Stop::Bail);
            };
            let v = Dynamic::from_array(keys);
            run.built(&v)?;
            Ok(v)
        }
        (Builtin::Contains, [container, x]) => contains(run, container, x),
        (Builtin::StartsWith | Builtin::EndsWith, [s, p]) => {
            let (Some(s), Some(p)) = (s.read_lock::<ImmutableString>(), p.read_lock::<ImmutableString>()) else {
                return Err(Stop::Bail);
            };
            let yes = if matches!(b, Builtin::StartsWith) {
                s.starts_with(p.as_str())
            } else {
                s.ends_with(p.as_str())
            };
            Ok(Dynamic::from_bool(yes))
        }
        (Builtin::SubString, [s, start, len]) => {
            let (Some(s), Ok(start), Ok(len)) = (s.read_lock::<ImmutableString>(), start.as_int(), len.as_int()) else {
                return Err(Stop::Bail);
            };
            Ok(Dynamic::from(ImmutableString::from(sub_string(&s, start, len))))
        }
        (Builtin::Min | Builtin::Max, [x, y]) => {
            if let (Ok(x), Ok(y)) = (x.as_int(), y.as_int()) {
                return Ok(Dynamic::from_int(if matches!(b, Builtin::Min) { x.min(y) } else { x.max(y) }));
            }
            Err(Stop::Bail)
        }
        (Builtin::ToString, [x]) => {
            // Ints, bools and strings print the same everywhere; the rest is the interpreter's.
            let text: ImmutableString = if let Ok(i) = x.as_int() {
                i.to_string().into()
            } else if let Ok(b) = x.as_bool() {
                b.to_string().into()
            } else if let Some(s) = x.read_lock::<ImmutableString>() {
                s.clone()
            } else {
                return Err(Stop::Bail);
            };
            Ok(Dynamic::from(text))
        }
        (Builtin::Abs, [a]) => a.as_int().ok().and_then(INT::checked_abs).map(Dynamic::from_int).ok_or(Stop::Bail),
        _ => Err(Stop::Bail),
    }
}

fn call_native(run: &mut Run<'_>, overloads: &[Native], args: &mut [Dynamic]) -> R {
    let native = overloads.iter().find(|n| n.accepts(args)).ok_or(Stop::Bail)?;
    let out = {
        let budget = Counted {
            ops: &run.ops,
            max: run.max_ops,
        };
        native.call(&budget, args).map_err(|_| Stop::Bail)?
    };
    run.tick()?;
    // Rhai checks the size of what a function returns.
    let (items, bytes) = document::data_size(&out);
    if items > run.max_items || bytes > run.max_bytes {
        return Err(Stop::Bail);
    }
    Ok(out)
}

/// `x in container`, as Rhai's `contains` overloads answer it.
fn contains(run: &Run<'_>, container: &Dynamic, x: &Dynamic) -> R {
    if let Some(s) = container.read_lock::<ImmutableString>() {
        if let Some(p) = x.read_lock::<ImmutableString>() {
            return Ok(Dynamic::from_bool(s.contains(p.as_str())));
        }
        return Err(Stop::Bail);
    }
    if let Some(a) = container.read_lock::<DocArray>() {
        run.tick()?;
        return Ok(Dynamic::from_bool(a.iter().any(|y| document::equal(&y, x))));
    }
    if let Some(a) = container.read_lock::<Array>() {
        let mut found = false;
        for y in a.iter() {
            run.tick()?;
            if same_kind(y, x) && document::equal(y, x) {
                found = true;
                break;
            }
            if !same_kind(y, x) && y.type_id() == x.type_id() {
                return Err(Stop::Bail);
            }
        }
        return Ok(Dynamic::from_bool(found));
    }
    let key = x.read_lock::<ImmutableString>().ok_or(Stop::Bail)?;
    if let Some(m) = container.read_lock::<Map>() {
        return Ok(Dynamic::from_bool(m.contains_key(key.as_str())));
    }
    if let Some(m) = container.read_lock::<DocMap>() {
        return Ok(Dynamic::from_bool(m.contains_key(key.as_str())));
    }
    Err(Stop::Bail)
}

/// Values whose `==` the compiled path knows (scalars of the same kind,
/// numbers across int and float, or two collections).
fn same_kind(a: &Dynamic, b: &Dynamic) -> bool {
    let scalar = |d: &Dynamic| d.is_int() || d.is_float() || d.is_string() || d.is_bool() || d.is_unit();
    if scalar(a) && scalar(b) {
        return true;
    }
    (document::is_map(a) || document::is_array(a)) && (document::is_map(b) || document::is_array(b))
}

fn type_name(x: &Dynamic) -> Result<&'static str, Stop> {
    Ok(if x.is_unit() {
        "()"
    } else if x.is_bool() {
        "bool"
    } else if x.is_int() {
        "i64"
    } else if x.is_float() {
        "f64"
    } else if x.is_string() {
        "string"
    } else if x.is_char() {
        "char"
    } else if x.is_array() || x.is::<DocArray>() {
        "array"
    } else if x.is_map() || x.is::<DocMap>() {
        "map"
    } else {
        return Err(Stop::Bail);
    })
}

/// Rhai's `sub_string(s, start, len)`, by characters.
fn sub_string(s: &str, start: INT, len: INT) -> String {
    let count = s.chars().count();
    if s.is_empty() || len <= 0 {
        return String::new();
    }
    let offset = if start < 0 {
        let back = usize::try_from(start.unsigned_abs()).unwrap_or(usize::MAX);
        count.saturating_sub(back)
    } else {
        let start = usize::try_from(start).unwrap_or(usize::MAX);
        if start >= count {
            return String::new();
        }
        start
    };
    let len = usize::try_from(len).unwrap_or(usize::MAX).min(count - offset);
    s.chars().skip(offset).take(len).collect()
}
