//! Differential tests over every fixture of every pack: the report must not
//! depend on the optimiser, on how the pack was loaded, or on repetition.

mod support;

use shenhe::{CompileOptions, PackSource, RuleSet};

const PACKS: &[&str] = &[
    "national-medical-team-2024",
    "yizhen-week-2022-national",
    "counterpart-support-2022-quanzhou-quangang",
    "village-patrol-2019-weihai-huancui",
];

/// Every pack, the large Shanxi one included.
const ALL_PACKS: &[&str] = &[
    "national-medical-team-2024",
    "yizhen-week-2022-national",
    "counterpart-support-2022-quanzhou-quangang",
    "village-patrol-2019-weihai-huancui",
    "yizhen-week-2013-shanxi",
];

fn interpreter_only(id: &str) -> RuleSet {
    RuleSet::compile_with(
        [support::pack_source(id)],
        CompileOptions {
            optimize: true,
            compiled: false,
        },
    )
    .unwrap()
}

#[test]
fn differential_compiled_and_interpreted_give_identical_reports() {
    for id in ALL_PACKS {
        let compiled = support::rule_set(id);
        let interpreted = interpreter_only(id);
        // The compiled path must really be in use, or this test proves nothing.
        let scripts = compiled.pack(id).unwrap().compiled_scripts();
        let n = scripts.iter().filter(|(_, why)| why.is_none()).count();
        assert!(n * 10 >= scripts.len() * 9, "{id}: only {n} of {} scripts compiled: {scripts:?}", scripts.len());
        for (case, doc) in support::fixture_cases(id) {
            let forced = case.pack.as_deref();
            assert_eq!(
                compiled.evaluate(&doc, forced).to_json(),
                interpreted.evaluate(&doc, forced).to_json(),
                "{id}: {}",
                case.name
            );
        }
    }
}

#[test]
fn differential_compiled_and_interpreted_agree_on_a_generated_corpus() {
    let id = "national-medical-team-2024";
    let (compiled, interpreted) = (support::rule_set(id), interpreter_only(id));
    for (i, doc) in support::nt_corpus(300).iter().enumerate() {
        assert_eq!(
            compiled.evaluate(doc, None).to_json(),
            interpreted.evaluate(doc, None).to_json(),
            "submission {i}"
        );
    }
    // Every NT script is inside the compiled subset.
    let left: Vec<_> = compiled
        .pack(id)
        .unwrap()
        .compiled_scripts()
        .into_iter()
        .filter(|(_, why)| why.is_some())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn differential_optimizer_on_and_off_give_identical_reports() {
    for id in PACKS {
        let with = |optimize| {
            RuleSet::compile_with(
                [support::pack_source(id)],
                CompileOptions {
                    optimize,
                    ..CompileOptions::default()
                },
            )
            .unwrap()
        };
        let (on, off) = (with(true), with(false));
        let cases = support::fixture_cases(id);
        assert!(cases.len() > 40, "{id}: {} cases", cases.len());
        for (case, doc) in &cases {
            let forced = case.pack.as_deref();
            assert_eq!(on.evaluate(doc, forced).to_json(), off.evaluate(doc, forced).to_json(), "{}", case.name);
        }
    }
}

#[test]
fn differential_bundle_and_directory_give_identical_reports() {
    for id in PACKS {
        let dir = support::pack_source(id);
        let bundle = PackSource::from_bundle_json(&dir.to_bundle_json()).unwrap();
        let (a, b) = (RuleSet::compile([dir]).unwrap(), RuleSet::compile([bundle]).unwrap());
        for (case, doc) in support::fixture_cases(id) {
            let forced = case.pack.as_deref();
            let first = a.evaluate(&doc, forced).to_json();
            assert_eq!(first, b.evaluate(&doc, forced).to_json(), "{}", case.name);
            assert_eq!(first, a.evaluate(&doc, forced).to_json(), "{}: not repeatable", case.name);
        }
    }
}

#[test]
fn differential_every_fixture_passes_through_the_library() {
    for id in PACKS {
        let set = support::rule_set(id);
        for (case, doc) in support::fixture_cases(id) {
            let report = set.evaluate(&doc, case.pack.as_deref());
            let failures = shenhe::fixtures::check(&report, &case.expect);
            assert!(failures.is_empty(), "{}: {failures:?}", case.name);
        }
    }
}

#[test]
fn differential_batch_rules_compiled_and_interpreted_agree() {
    let mut cases = 0;
    for id in ALL_PACKS {
        let (compiled, interpreted) = (support::rule_set(id), interpreter_only(id));
        let (batch, load) = support::batch_cases(id);
        for case in batch {
            let (fast_failures, fast) = shenhe::fixtures::run_batch_case(&compiled, &case, &load);
            let (_, slow) = shenhe::fixtures::run_batch_case(&interpreted, &case, &load);
            assert!(fast_failures.is_empty(), "{id}: {}: {fast_failures:?}", case.name);
            let json = |f: &[shenhe::batch::BatchFinding]| serde_json::to_string(f).unwrap();
            assert_eq!(json(&fast), json(&slow), "{id}: {}", case.name);
            cases += 1;
        }
    }
    assert!(cases >= 3, "the batch fixtures were not found ({cases} cases)");
}

#[test]
fn differential_run_tests_runs_every_case_as_the_cli_does() {
    // What the playground calls (fixtures::run_tests over a pack's tests/ files).
    for id in ALL_PACKS {
        let rules = support::rule_set(id);
        let tests = support::test_files(id);
        let outcomes = shenhe::fixtures::run_tests(&rules, &tests);
        let cases = support::fixture_cases(id).len() + support::batch_cases(id).0.len();
        assert_eq!(outcomes.len(), cases, "{id}: every case once");
        let failed: Vec<_> = outcomes.iter().filter(|o| !o.failures.is_empty()).collect();
        assert!(failed.is_empty(), "{id}: {failed:?}");
    }
    // An edited threshold fails the cases that pin it, and only through them.
    let mut source = support::pack_source("national-medical-team-2024");
    source.params["min_team_size"] = serde_json::json!(6);
    let rules = RuleSet::compile([source.seal()]).unwrap();
    let outcomes = shenhe::fixtures::run_tests(&rules, &support::test_files("national-medical-team-2024"));
    let failed: Vec<&str> = outcomes.iter().filter(|o| !o.failures.is_empty()).map(|o| o.name.as_str()).collect();
    assert!(failed.iter().any(|n| n.starts_with("nt01/")), "{failed:?}");
}
