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

#[test]
fn differential_optimizer_on_and_off_give_identical_reports() {
    for id in PACKS {
        let on = RuleSet::compile_with([support::pack_source(id)], CompileOptions { optimize: true }).unwrap();
        let off = RuleSet::compile_with([support::pack_source(id)], CompileOptions { optimize: false }).unwrap();
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
