//! `shenhe test`: every pack's fixtures, plus a check that each rule has a
//! fixture where it fires and one where it does not.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
    process::ExitCode,
};

use anyhow::Result;
use shenhe::fixtures::{self, Case};

use crate::load;

#[allow(clippy::print_stdout, reason = "the test runner's output is its interface")]
pub fn run(rules_path: &Path, filter: Option<&str>) -> Result<ExitCode> {
    let (rules, packs) = load::load_rules(rules_path)?;
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut names = BTreeSet::new();
    for pack in &packs {
        let Some(dir) = &pack.dir else { continue };
        let id = &pack.source.manifest.id;
        let tests = dir.join("tests");
        let files = load::fixture_files(dir)?;
        let load_base = |name: &str| load::read_json(&tests.join(name));
        let mut fires: BTreeMap<String, usize> = BTreeMap::new();
        let mut quiet: BTreeMap<String, usize> = BTreeMap::new();
        println!("pack {id}");
        for file in files {
            let text = std::fs::read_to_string(&file)?;
            let cases: Vec<Case> = fixtures::parse_cases(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            for case in cases {
                if !names.insert(case.name.clone()) {
                    println!("  FAIL {}  (duplicate case name; names must be unique across packs)", case.name);
                    failed += 1;
                    continue;
                }
                if filter.is_some_and(|f| !case.name.contains(f)) {
                    continue;
                }
                let result = fixtures::run_case(&rules, &case, &load_base);
                if result.passed() {
                    passed += 1;
                    println!("  ok   {}", result.name);
                    for f in &case.expect.findings {
                        *fires.entry(f.rule.clone()).or_default() += 1;
                    }
                    for r in pack.source.rules.iter().filter_map(|s| shenhe::RuleMeta::parse(&s.file, &s.source).ok()) {
                        let listed = case.expect.findings.iter().any(|f| f.rule == r.id);
                        if case.expect.absent.contains(&r.id) || (case.expect.exact && !listed) {
                            *quiet.entry(r.id).or_default() += 1;
                        }
                    }
                } else {
                    failed += 1;
                    println!("  FAIL {}  ({})", result.name, file.file_name().unwrap_or_default().to_string_lossy());
                    for f in &result.failures {
                        println!("       {f}");
                    }
                }
            }
        }
        if filter.is_none() {
            for s in &pack.source.rules {
                let meta = shenhe::RuleMeta::parse(&s.file, &s.source)?;
                let (f, q) = (fires.get(&meta.id).copied().unwrap_or(0), quiet.get(&meta.id).copied().unwrap_or(0));
                if f == 0 || q == 0 {
                    failed += 1;
                    println!(
                        "  FAIL coverage {}: {f} passing case(s) where it fires, {q} where it must not (each needs ≥1)",
                        meta.id
                    );
                }
            }
        }
    }
    println!("\n{passed} passed, {failed} failed");
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
