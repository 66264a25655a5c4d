//! `shenhe corpus`: the parity corpus. Every fixture's submission, and every
//! base submission mutated at every path (removed, or replaced by wrong
//! types and by values that probe number formatting and text), as NDJSON.
//! The parity harness (tests/browser/parity.mjs) validates each line
//! natively, in wasm under Node and in Chromium, and compares the bytes.

use std::{
    fs,
    io::{BufWriter, Write},
    path::Path,
    process::ExitCode,
};

use anyhow::{Context, Result};
use shenhe::fixtures;

use crate::load;

/// Mutations kept per base submission (about 7 bases: ~3,500 in all).
pub const MUTATIONS_PER_BASE: usize = 500;

pub fn run(rules: &Path, out: &Path, names_out: &Path) -> Result<ExitCode> {
    let packs = load::read_packs(rules)?;
    let mut subs = BufWriter::new(fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?);
    let mut names = BufWriter::new(fs::File::create(names_out).with_context(|| format!("cannot create {}", names_out.display()))?);
    let mut values = fixtures::broken_values();
    values.extend(fixtures::parity_values());
    let mut count = 0usize;
    // Once per pack directory: a pack's editions share its fixtures.
    for (dir, editions) in load::by_dir(&packs) {
        let id = &editions[0].source.manifest.id;
        load::fixture_files(dir)?;
        let files = load::test_files(dir)?;
        let suite =
            fixtures::Suite::parse(files.iter().map(|(p, t)| (p.as_str(), t.as_str()))).map_err(|e| anyhow::anyhow!("{}: {e}", dir.join("tests").display()))?;
        for (name, sub) in suite.corpus(&values, MUTATIONS_PER_BASE) {
            writeln!(subs, "{sub}")?;
            writeln!(names, "{id} {name}")?;
            count += 1;
        }
    }
    subs.flush()?;
    names.flush()?;
    eprintln!("{count} submissions → {}", out.display());
    Ok(ExitCode::SUCCESS)
}

/// `shenhe schema-suite`: the schema layer on its own over `{schema, data}`
/// cases (the JSON-Schema-Test-Suite, via tests/browser/parity.mjs).
pub fn schema_suite(cases: &Path) -> Result<ExitCode> {
    let text = fs::read_to_string(cases).with_context(|| format!("cannot read {}", cases.display()))?;
    println!("{}", shenhe::api::schema_outcomes(&text)?);
    Ok(ExitCode::SUCCESS)
}
