//! One definition per helper, two ways to call it: registered into Rhai for
//! the interpreter, and kept in a table ([`Natives`]) for the compiled path
//! (`compiled.rs`). Both call the same Rust closure with the same arguments,
//! so a helper cannot mean one thing in one path and another in the other.
//!
//! A helper's parameters are typed as Rhai dispatches them (`Dynamic` takes
//! anything; `ImmutableString`, `INT`, `FLOAT`, `Map` only that type). The
//! table keeps the types, and the compiled path refuses a call Rhai would not
//! dispatch, so the interpreter, rerun, gives Rhai's own error.

use std::{cell::Cell, collections::HashMap};

use rhai::{Array, Dynamic, EvalAltResult, FLOAT, INT, ImmutableString, Map, NativeCallContext, Position};

/// Operation budget of native work (see `rows.rs`): the interpreter's counts
/// Rhai's operations too; the compiled path's counts its own.
pub(crate) trait Budget {
    /// Charges `n` operations; fails as Rhai's operation limit does.
    fn charge(&self, n: usize) -> Result<(), Box<EvalAltResult>>;
}

thread_local! {
    // Operations charged by native helpers in the script running on this
    // thread (an evaluation is synchronous; reset before each script).
    static CHARGED: Cell<u64> = const { Cell::new(0) };
}

thread_local! {
    // Variable reads of the running script, for the total-size audit (engine.rs).
    static READS: Cell<u64> = const { Cell::new(0) };
}

/// Forgets the charges (and the read count) of the previous script.
pub(crate) fn reset_charges() {
    CHARGED.with(|c| c.set(0));
    READS.with(|c| c.set(0));
}

/// Whether this variable read is a 16th one since the script started.
pub(crate) fn every_16th_read() -> bool {
    READS.with(|c| {
        let n = c.get() + 1;
        c.set(n);
        n % 16 == 0
    })
}

fn add_charge(n: usize) -> u64 {
    CHARGED.with(|c| {
        let t = c.get().saturating_add(n as u64);
        c.set(t);
        t
    })
}

impl Budget for NativeCallContext<'_> {
    fn charge(&self, n: usize) -> Result<(), Box<EvalAltResult>> {
        let total = add_charge(n);
        let max = self.engine().max_operations();
        if max > 0 && self.global_runtime_state().num_operations.saturating_add(total) > max {
            return Err(EvalAltResult::ErrorTooManyOperations(Position::NONE).into());
        }
        Ok(())
    }
}

impl<T: Budget + ?Sized> Budget for &T {
    fn charge(&self, n: usize) -> Result<(), Box<EvalAltResult>> {
        (**self).charge(n)
    }
}

/// The compiled path's budget: its own operation count plus the charges.
pub(crate) struct Counted<'a> {
    pub ops: &'a Cell<u64>,
    pub max: u64,
}

impl Budget for Counted<'_> {
    fn charge(&self, n: usize) -> Result<(), Box<EvalAltResult>> {
        let total = add_charge(n);
        if self.max > 0 && self.ops.get().saturating_add(total) > self.max {
            return Err(EvalAltResult::ErrorTooManyOperations(Position::NONE).into());
        }
        Ok(())
    }
}

/// How Rhai dispatches a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    Any,
    Str,
    Int,
    Float,
    Map,
}

impl Ty {
    fn accepts(self, x: &Dynamic) -> bool {
        match self {
            Self::Any => true,
            Self::Str => x.is_string(),
            Self::Int => x.is_int(),
            Self::Float => x.is_float(),
            Self::Map => x.is_map(),
        }
    }
}

/// A parameter type of a helper.
pub(crate) trait Arg: Sized {
    const TY: Ty;
    fn take(x: &mut Dynamic) -> Self;
}

impl Arg for Dynamic {
    const TY: Ty = Ty::Any;
    fn take(x: &mut Dynamic) -> Self {
        std::mem::take(x)
    }
}

impl Arg for ImmutableString {
    const TY: Ty = Ty::Str;
    fn take(x: &mut Dynamic) -> Self {
        std::mem::take(x).into_immutable_string().unwrap_or_default()
    }
}

impl Arg for INT {
    const TY: Ty = Ty::Int;
    fn take(x: &mut Dynamic) -> Self {
        x.as_int().unwrap_or_default()
    }
}

impl Arg for FLOAT {
    const TY: Ty = Ty::Float;
    fn take(x: &mut Dynamic) -> Self {
        x.as_float().unwrap_or_default()
    }
}

impl Arg for Map {
    const TY: Ty = Ty::Map;
    fn take(x: &mut Dynamic) -> Self {
        std::mem::take(x).try_cast::<Map>().unwrap_or_default()
    }
}

/// A helper's result, as a script value.
pub(crate) trait IntoRet {
    fn ret(self) -> Result<Dynamic, Box<EvalAltResult>>;
}

macro_rules! into_ret {
    ($($t:ty),*) => {$(
        impl IntoRet for $t {
            fn ret(self) -> Result<Dynamic, Box<EvalAltResult>> {
                Ok(Dynamic::from(self))
            }
        }
    )*};
}
into_ret!(bool, INT, FLOAT, ImmutableString, String, &'static str, Array, Map, ());

impl IntoRet for Dynamic {
    fn ret(self) -> Result<Dynamic, Box<EvalAltResult>> {
        Ok(self)
    }
}

impl<T: IntoRet> IntoRet for Result<T, Box<EvalAltResult>> {
    fn ret(self) -> Result<Dynamic, Box<EvalAltResult>> {
        self.and_then(IntoRet::ret)
    }
}

/// A helper as the compiled path calls it.
pub(crate) type NativeFn = Box<dyn Fn(&dyn Budget, &mut [Dynamic]) -> Result<Dynamic, Box<EvalAltResult>> + Send + Sync>;

/// One overload of a helper.
pub(crate) struct Native {
    tys: Vec<Ty>,
    call: NativeFn,
}

impl Native {
    /// Whether Rhai would dispatch a call with these arguments to this overload.
    pub(crate) fn accepts(&self, args: &[Dynamic]) -> bool {
        self.tys.len() == args.len() && self.tys.iter().zip(args).all(|(t, a)| t.accepts(a))
    }

    /// Calls it (the arguments are taken).
    pub(crate) fn call(&self, budget: &dyn Budget, args: &mut [Dynamic]) -> Result<Dynamic, Box<EvalAltResult>> {
        (self.call)(budget, args)
    }
}

/// Every helper the compiled path may call, by name and arity.
#[derive(Default)]
pub(crate) struct Natives {
    by_name: HashMap<(String, usize), Vec<Native>>,
}

impl Natives {
    pub(crate) fn add(&mut self, name: &'static str, tys: &[Ty], call: NativeFn) {
        self.by_name
            .entry((name.to_owned(), tys.len()))
            .or_default()
            .push(Native { tys: tys.to_vec(), call });
    }

    /// The overloads of `name` with `arity` parameters.
    pub(crate) fn get(&self, name: &str, arity: usize) -> Option<&[Native]> {
        self.by_name.get(&(name.to_owned(), arity)).map(Vec::as_slice)
    }
}

/// Defines a helper: registers it into the engine and adds it to the table.
macro_rules! def {
    ($e:ident, $t:ident, $name:literal, |$($a:ident : $ty:ty),*| -> $ret:ty $body:block $(,)?) => {
        $crate::helpers::native::def!(@ $e, $t, $name, ($($a: $ty),*), |$($a: $ty),*| -> $ret { $body })
    };
    ($e:ident, $t:ident, $name:literal, |$($a:ident : $ty:ty),*| $body:expr $(,)?) => {
        $crate::helpers::native::def!(@ $e, $t, $name, ($($a: $ty),*), |$($a: $ty),*| $body)
    };
    (@ $e:ident, $t:ident, $name:literal, ($($a:ident : $ty:ty),*), $f:expr) => {{
        let f = $f;
        $e.register_fn($name, f);
        $t.add(
            $name,
            &[$(<$ty as $crate::helpers::native::Arg>::TY),*],
            Box::new(move |_: &dyn $crate::helpers::native::Budget, args: &mut [rhai::Dynamic]| {
                #[allow(unused_mut, unused_variables)]
                let mut it = args.iter_mut();
                $(let $a = <$ty as $crate::helpers::native::Arg>::take(it.next().expect("the table checked the arity"));)*
                $crate::helpers::native::IntoRet::ret(f($($a),*))
            }),
        );
    }};
}

/// [`def!`] for a helper whose work is charged: its body gets `$b: &dyn Budget`.
macro_rules! def_b {
    ($e:ident, $t:ident, $name:literal, |$b:ident, $($a:ident : $ty:ty),*| -> $ret:ty $body:block $(,)?) => {{
        let f = |$b: &dyn $crate::helpers::native::Budget, $($a: $ty),*| -> $ret { $body };
        $e.register_fn($name, move |ctx: rhai::NativeCallContext, $($a: $ty),*| f(&ctx, $($a),*));
        $t.add(
            $name,
            &[$(<$ty as $crate::helpers::native::Arg>::TY),*],
            Box::new(move |budget: &dyn $crate::helpers::native::Budget, args: &mut [rhai::Dynamic]| {
                let mut it = args.iter_mut();
                $(let $a = <$ty as $crate::helpers::native::Arg>::take(it.next().expect("the table checked the arity"));)*
                $crate::helpers::native::IntoRet::ret(f(budget, $($a),*))
            }),
        );
    }};
}

pub(crate) use {def, def_b};
