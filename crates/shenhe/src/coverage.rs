//! Line coverage of rule scripts, for `shenhe test --coverage`: which lines
//! of each script the fixtures ran.
//!
//! Only with the `coverage` feature (the CLI has it; the browser modules do
//! not). Inside [`measure`], packs compile with every statement of the
//! compiled path wrapped in a probe that notes its line when it runs;
//! outside it, and in builds without the feature, nothing is wrapped, so
//! evaluation pays nothing for it.
//!
//! A script run that gives up on the compiled path is rerun by the
//! interpreter, which has no probes: the lines it runs after that point are
//! not noted. [`Coverage::fallbacks`] counts such runs per script, so a summary can say so.

use std::{cell::RefCell, collections::BTreeMap, sync::Arc};

/// A script of a pack: (pack id, file).
pub type Script = (String, String);

/// What a [`measure`] run saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Per script: the lines that hold a statement, and whether each ran.
    pub lines: BTreeMap<Script, BTreeMap<usize, bool>>,
    /// Per script: runs that fell back to the interpreter part-way (the
    /// lines they ran after that are not noted).
    pub fallbacks: BTreeMap<Script, usize>,
}

impl Coverage {
    /// (lines run, lines with a statement) of one script.
    #[must_use]
    pub fn counts(&self, script: &Script) -> (usize, usize) {
        self.lines.get(script).map_or((0, 0), |l| (l.values().filter(|r| **r).count(), l.len()))
    }
}

thread_local! {
    static RECORDER: RefCell<Option<Coverage>> = const { RefCell::new(None) };
}

/// Runs `f` (compiling packs and evaluating submissions) with coverage probes,
/// and returns what they noted. Packs compiled outside `f` have no probes.
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, Coverage) {
    RECORDER.with(|r| *r.borrow_mut() = Some(Coverage::default()));
    let out = f();
    let seen = RECORDER.with(|r| r.borrow_mut().take()).unwrap_or_default();
    (out, seen)
}

/// Whether packs compiled now get probes.
pub(crate) fn active() -> bool {
    RECORDER.with(|r| r.borrow().is_some())
}

/// A statement at `line` of `script` exists; returns the probe to call when it runs.
pub(crate) fn probe(script: &Arc<Script>, line: usize) -> impl Fn() + Send + Sync + use<> {
    RECORDER.with(|r| {
        if let Some(c) = r.borrow_mut().as_mut() {
            c.lines.entry((**script).clone()).or_default().entry(line).or_insert(false);
        }
    });
    let script = Arc::clone(script);
    move || {
        RECORDER.with(|r| {
            if let Some(c) = r.borrow_mut().as_mut()
                && let Some(ran) = c.lines.get_mut(&*script).and_then(|l| l.get_mut(&line))
            {
                *ran = true;
            }
        });
    }
}

/// A compiled run of `file` gave up and the interpreter reran it.
pub(crate) fn fell_back(pack: &str, file: &str) {
    RECORDER.with(|r| {
        if let Some(c) = r.borrow_mut().as_mut() {
            *c.fallbacks.entry((pack.to_owned(), file.to_owned())).or_default() += 1;
        }
    });
}
