//! `shenhe test`: every pack's fixtures, plus a check that each rule has a
//! fixture where it fires and one where it does not.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
    process::ExitCode,
};

use anyhow::Result;
use shenhe::fixtures::{self, Suite};

use crate::load;

/// Whether a case runs: names are unique across packs (a repeated name is
/// a failure), and `--filter` selects.
#[allow(clippy::print_stdout, reason = "the test runner's output is its interface")]
fn admit(names: &mut BTreeSet<String>, name: &str, filter: Option<&str>, failed: &mut usize) -> bool {
    if !names.insert(name.to_owned()) {
        println!("  FAIL {name}  (duplicate case name; names must be unique across packs)");
        *failed += 1;
        return false;
    }
    filter.is_none_or(|f| name.contains(f))
}

/// Prints a failed case and what went wrong.
#[allow(clippy::print_stdout, reason = "the test runner's output is its interface")]
fn print_failure(name: &str, file: &str, failures: &[String]) {
    println!("  FAIL {name}  ({file})");
    for f in failures {
        println!("       {f}");
    }
}

/// Runs the fixtures; with `coverage`, also prints which lines of each
/// script they ran.
pub fn run(rules_path: &Path, filter: Option<&str>, coverage: bool) -> Result<ExitCode> {
    if !coverage {
        return run_fixtures(rules_path, filter);
    }
    let (code, seen) = shenhe::coverage::measure(|| run_fixtures(rules_path, filter));
    print_coverage(&seen);
    code
}

/// The coverage summary: per pack, then per script, the lines not run.
#[allow(clippy::print_stdout, reason = "the test runner's output is its interface")]
fn print_coverage(c: &shenhe::coverage::Coverage) {
    #[allow(clippy::cast_precision_loss, reason = "line counts are small")]
    let pct = |ran: usize, all: usize| if all == 0 { 100.0 } else { ran as f64 * 100.0 / all as f64 };
    println!("\nLine coverage of the rule scripts by the fixtures (lines that hold a statement):");
    let packs: BTreeSet<&str> = c.lines.keys().map(|(p, _)| p.as_str()).collect();
    for pack in packs {
        let scripts: Vec<&shenhe::coverage::Script> = c.lines.keys().filter(|(p, _)| p == pack).collect();
        let (ran, all) = scripts.iter().map(|s| c.counts(s)).fold((0, 0), |(a, b), (x, y)| (a + x, b + y));
        println!("pack {pack}: {ran} of {all} lines ({:.1} %)", pct(ran, all));
        for s in scripts {
            let (r, a) = c.counts(s);
            let missed: Vec<String> = c.lines[s].iter().filter(|(_, run)| !**run).map(|(l, _)| l.to_string()).collect();
            let mut tail = if missed.is_empty() {
                String::new()
            } else {
                format!("  not run: {}", missed.join(", "))
            };
            if let Some(n) = c.fallbacks.get(s) {
                tail.push_str(&format!("  ({n} runs finished in the interpreter: lines after that point are not counted)"));
            }
            println!("  {:<48} {r:>3}/{a:<3} {:>5.1} %{tail}", s.1, pct(r, a));
        }
    }
}

#[allow(clippy::print_stdout, reason = "the test runner's output is its interface")]
fn run_fixtures(rules_path: &Path, filter: Option<&str>) -> Result<ExitCode> {
    let (rules, packs) = load::load_rules(rules_path)?;
    if packs.iter().all(|p| p.dir.is_none()) {
        println!(
            "{} is a bundle: bundles carry no fixtures (tests/), so there is nothing to run. Run shenhe test on the pack's directory.",
            rules_path.display()
        );
        return Ok(ExitCode::from(2));
    }
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut names = BTreeSet::new();
    // A pack's editions share its scripts and its tests/: the fixtures run
    // once per directory, and each case's policy picks its edition.
    for (dir, editions) in load::by_dir(&packs) {
        let ids: Vec<&str> = editions.iter().map(|p| p.source.manifest.id.as_str()).collect();
        let id = ids[0];
        // A pack needs its tests/ (fixture_files says so when it is missing).
        load::fixture_files(dir)?;
        let files = load::test_files(dir)?;
        let suite = Suite::parse(files.iter().map(|(p, t)| (p.as_str(), t.as_str()))).map_err(|e| anyhow::anyhow!("{}: {e}", dir.join("tests").display()))?;
        let load_base = |name: &str| suite.base(name);
        let mut fires: BTreeMap<String, usize> = BTreeMap::new();
        let mut quiet: BTreeMap<String, usize> = BTreeMap::new();
        // (rule, variant) of every declared outcome a passing case shows firing.
        let mut outcomes: BTreeSet<(String, String)> = BTreeSet::new();
        // The rule headers, parsed once when the pack was compiled.
        let Some(compiled) = rules.pack(id) else { continue };
        match editions.as_slice() {
            [_] => println!("pack {id}"),
            all => {
                let names: Vec<&str> = all.iter().filter_map(|p| p.source.edition.as_deref()).collect();
                println!("pack {} (editions {})", ids.join(", "), names.join(", "));
            }
        }
        for edition in ids.iter().filter_map(|id| rules.pack(id)) {
            // Every field, code, figure and rule a clerk may read about has a label.
            for problem in edition.label_problems() {
                failed += 1;
                println!("  FAIL labels: {problem}");
            }
            if filter.is_none() {
                failed += audit_messages(&rules, edition, &suite);
            }
        }
        for (file, case) in &suite.cases {
            if !admit(&mut names, &case.name, filter, &mut failed) {
                continue;
            }
            let result = fixtures::run_case(&rules, case, &load_base);
            if result.passed() {
                passed += 1;
                println!("  ok   {}", result.name);
                for f in &case.expect.findings {
                    *fires.entry(f.rule.clone()).or_default() += 1;
                    if let Some(v) = &f.variant {
                        outcomes.insert((f.rule.clone(), v.clone()));
                    }
                }
                for r in compiled.rules() {
                    let listed = case.expect.findings.iter().any(|f| f.rule == r.id);
                    if case.expect.absent.contains(&r.id) || (case.expect.exact && !listed) {
                        *quiet.entry(r.id.clone()).or_default() += 1;
                    }
                }
            } else {
                failed += 1;
                print_failure(&result.name, file, &result.failures);
            }
        }
        // Cross-record rules: tests/batch/*.json.
        for (file, case) in &suite.batch {
            if !admit(&mut names, &case.name, filter, &mut failed) {
                continue;
            }
            let (failures, found) = fixtures::run_batch_case(&rules, case, &load_base);
            if failures.is_empty() {
                passed += 1;
                println!("  ok   {}", case.name);
                for f in &found {
                    if let Some(v) = &f.variant {
                        outcomes.insert((f.rule.clone(), v.clone()));
                    }
                }
                for meta in compiled.batch_rules() {
                    if found.iter().any(|f| f.rule == meta.id) {
                        *fires.entry(meta.id.clone()).or_default() += 1;
                    } else if case.expect.exact {
                        *quiet.entry(meta.id.clone()).or_default() += 1;
                    }
                }
            } else {
                failed += 1;
                print_failure(&case.name, file, &failures);
            }
        }
        if filter.is_none() {
            let batch_ids: BTreeSet<&str> = compiled.batch_rules().map(|m| m.id.as_str()).collect();
            for meta in compiled.rules().chain(compiled.batch_rules()) {
                let (f, q) = (fires.get(&meta.id).copied().unwrap_or(0), quiet.get(&meta.id).copied().unwrap_or(0));
                // A batch rule that only ever reports a figure (WH-09's coverage,
                // always an info) has no case where it stays quiet.
                let always_reports = batch_ids.contains(meta.id.as_str())
                    && meta.severity == shenhe::Severity::Info
                    && meta.variants.values().all(|v| *v == shenhe::Severity::Info);
                if f == 0 || (q == 0 && !always_reports) {
                    failed += 1;
                    println!(
                        "  FAIL coverage {}: {f} passing case(s) where it fires, {q} where it must not (each needs ≥1)",
                        meta.id
                    );
                }
                for v in meta.variants.keys() {
                    if !outcomes.contains(&(meta.id.clone(), v.clone())) {
                        failed += 1;
                        println!(
                            "  FAIL coverage {} variant {v}: no passing case expects it to fire (give \"variant\": \"{v}\")",
                            meta.id
                        );
                    }
                }
            }
        }
    }
    println!("\n{passed} passed, {failed} failed");
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Over the pack's parity corpus (its fixtures and every base mutated at
/// every path) and its batch fixtures, no message shows a field name, a
/// code or `true`/`false` (issue 15). Prints each rule and word once, with an example; returns the
/// number of failures.
#[allow(clippy::print_stdout, reason = "the test runner's output is its interface")]
fn audit_messages(rules: &shenhe::RuleSet, pack: &shenhe::CompiledPack, suite: &Suite) -> usize {
    let audit = pack.message_audit();
    let mut values = fixtures::broken_values();
    values.extend(fixtures::parity_values());
    let corpus = suite.corpus(&values, crate::corpus::MUTATIONS_PER_BASE);
    let mut seen: BTreeMap<(String, String), (usize, String)> = BTreeMap::new();
    let mut findings = 0usize;
    for (_, sub) in &corpus {
        let report = rules.evaluate(sub, Some(&pack.manifest().id));
        for f in &report.findings {
            findings += 1;
            for word in audit.raw_words(f) {
                let e = seen.entry((f.rule.clone(), word.clone())).or_insert_with(|| {
                    let m = if word.starts_with("en") { &f.message_en } else { &f.message };
                    (0, format!("{} at {}", m, f.path))
                });
                e.0 += 1;
            }
        }
    }
    // The cross-record rules' messages, over the batch fixtures.
    let load = |n: &str| suite.base(n);
    for (_, case) in &suite.batch {
        for f in fixtures::run_batch_case(rules, case, &load).1 {
            findings += 1;
            for word in audit.raw_words_in(&f.rule, &f.message, &f.message_en, &f.params) {
                let e = seen.entry((f.rule.clone(), word.clone())).or_insert_with(|| {
                    let m = if word.starts_with("en") { &f.message_en } else { &f.message };
                    (0, format!("{m} at record {:?}", f.record))
                });
                e.0 += 1;
            }
        }
    }
    for ((rule, word), (n, example)) in &seen {
        println!("  FAIL message {rule} shows the raw {word} ({n}×), e.g. {example}");
    }
    if seen.is_empty() {
        println!(
            "  ok   messages: {findings} findings over {} corpus submissions name fields and codes by their labels",
            corpus.len()
        );
    }
    seen.len()
}
