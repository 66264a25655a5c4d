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
const MUTATIONS_PER_BASE: usize = 500;

pub fn run(rules: &Path, out: &Path, names_out: &Path) -> Result<ExitCode> {
    let packs = load::read_packs(rules)?;
    let mut subs = BufWriter::new(fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?);
    let mut names = BufWriter::new(fs::File::create(names_out).with_context(|| format!("cannot create {}", names_out.display()))?);
    let mut values = fixtures::broken_values();
    values.extend(fixtures::parity_values());
    let mut count = 0usize;
    for pack in &packs {
        let Some(dir) = &pack.dir else { continue };
        let id = &pack.source.manifest.id;
        let tests = dir.join("tests");
        for file in load::fixture_files(dir)? {
            let text = fs::read_to_string(&file)?;
            let cases = fixtures::parse_cases(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            for case in cases {
                let Ok(sub) = fixtures::build_submission(&case, &|n: &str| load::read_json(&tests.join(n))) else {
                    continue;
                };
                writeln!(subs, "{sub}")?;
                writeln!(names, "{id} fixture {}", case.name)?;
                count += 1;
            }
        }
        for base in load::base_files(dir) {
            let doc = load::read_json(&base).map_err(anyhow::Error::msg)?;
            let base_name = base.file_name().unwrap_or_default().to_string_lossy();
            // Every path of a small base; an even spread over a large one, so
            // each base gives at most MUTATIONS_PER_BASE submissions.
            let total = fixtures::all_paths(&doc).len() * (values.len() + 1);
            let stride = total.div_ceil(MUTATIONS_PER_BASE).max(1);
            for (path, what, sub) in fixtures::mutations(&doc, &values).step_by(stride) {
                writeln!(subs, "{sub}")?;
                writeln!(names, "{id} {base_name} {path} := {what}")?;
                count += 1;
            }
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
