//! Hostile rules: each fails as an `ENGINE` finding naming the rule, the
//! other rules still run, and nothing panics or hangs.

mod support;

use shenhe::{CompileOptions, RuleSet, Severity, Status};
use support::{tiny_pack, tiny_submission};

const GOOD: (&str, &str) = (
    "good.rhai",
    "//! id: T-GOOD\n//! severity: warning\nif submission.n > 0 { fail(\"/n\", #{ n: submission.n }); }\n",
);

fn engine_findings(rules: &[(&str, &str)]) -> shenhe::Report {
    let mut all = vec![GOOD];
    all.extend_from_slice(rules);
    let set = RuleSet::compile([tiny_pack(&all, "")]).unwrap();
    set.evaluate(&tiny_submission(3), None)
}

fn assert_limit(report: &shenhe::Report, rule: &str, code: &str) {
    let f = report
        .findings
        .iter()
        .find(|f| f.rule == "ENGINE")
        .unwrap_or_else(|| panic!("no ENGINE finding: {report:?}"));
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.params["rule"], rule, "{f:?}");
    assert_eq!(f.params["code"], code, "{f:?}");
    assert!(f.message.contains(rule) && f.message.ends_with("（ENGINE）"), "{}", f.message);
    // The well-behaved rule still ran.
    assert!(report.findings.iter().any(|f| f.rule == "T-GOOD" && f.path == "/n"), "{report:?}");
    assert_eq!(report.status, Status::Rejected);
}

#[test]
fn sandbox_infinite_loop_is_stopped_by_the_operation_limit() {
    let r = engine_findings(&[("spin.rhai", "//! id: T-SPIN\n//! severity: error\nlet i = 0; loop { i += 1; }\n")]);
    assert_limit(&r, "T-SPIN", "rule.limit");
}

#[test]
fn sandbox_unbounded_recursion_is_stopped_by_the_call_depth_limit() {
    let r = engine_findings(&[("deep.rhai", "//! id: T-DEEP\n//! severity: error\nfn down(n) { down(n + 1) }\ndown(0);\n")]);
    assert_limit(&r, "T-DEEP", "rule.limit");
    assert!(
        r.findings
            .iter()
            .any(|f| f.params.get("detail").is_some_and(|d| d.as_str().unwrap().contains("Stack overflow"))),
        "{r:?}"
    );
}

#[test]
fn sandbox_string_bomb_is_stopped_by_the_size_limit() {
    let r = engine_findings(&[("bomb.rhai", "//! id: T-BOMB\n//! severity: error\nlet s = \"审核\"; loop { s += s; }\n")]);
    assert_limit(&r, "T-BOMB", "rule.limit");
}

#[test]
fn sandbox_array_bomb_is_stopped_by_the_size_limit() {
    let r = engine_findings(&[("arr.rhai", "//! id: T-ARR\n//! severity: error\nlet a = [1]; loop { a += a; }\n")]);
    assert_limit(&r, "T-ARR", "rule.limit");
}

#[test]
fn sandbox_runtime_error_names_rule_and_position() {
    let r = engine_findings(&[("oops.rhai", "//! id: T-OOPS\n//! severity: error\nlet x = 1;\nlet y = x / 0;\n")]);
    assert_limit(&r, "T-OOPS", "rule.runtime");
    let f = r.findings.iter().find(|f| f.rule == "ENGINE").unwrap();
    assert_eq!(f.params["line"], 4);
}

#[test]
fn sandbox_submission_is_read_only() {
    let r = engine_findings(&[("write.rhai", "//! id: T-WRITE\n//! severity: error\nsubmission.n = 99;\n")]);
    assert_limit(&r, "T-WRITE", "rule.runtime");
    assert!(r.findings.iter().any(|f| f.rule == "T-GOOD" && f.params["n"] == 3));
}

#[test]
fn sandbox_limits_come_from_the_manifest_and_are_deterministic() {
    // 2,000 iterations pass with the default budget but not with 1,000 operations.
    let rule = ("count.rhai", "//! id: T-COUNT\n//! severity: error\nlet i = 0; while i < 2000 { i += 1; }\n");
    let roomy = RuleSet::compile([tiny_pack(&[rule], "")]).unwrap().evaluate(&tiny_submission(0), None);
    assert!(roomy.findings.iter().all(|f| f.rule != "ENGINE"), "{roomy:?}");
    let tight = RuleSet::compile([tiny_pack(&[rule], "[limits]\nmax_operations = 1000\n")]).unwrap();
    let a = tight.evaluate(&tiny_submission(0), None).to_json();
    let b = tight.evaluate(&tiny_submission(0), None).to_json();
    assert!(a.contains("rule.limit"), "{a}");
    assert_eq!(a, b);
}

#[test]
fn sandbox_forbidden_features_do_not_compile() {
    for (src, what) in [
        ("eval(\"1\");", "eval"),
        ("let x = 2.0 ** 0.5;", "float power"),
        ("let t = timestamp();", "clock"),
        ("import \"fs\" as fs;", "modules"),
        ("let y = undefined_variable + 1;", "strict variables"),
    ] {
        let rule = ("bad.rhai", format!("//! id: T-BAD\n//! severity: error\n{src}\n"));
        let pack = tiny_pack(&[(rule.0, rule.1.as_str())], "");
        let compiled = RuleSet::compile([pack]);
        match compiled {
            Err(shenhe::Error::RuleCompile { file, line, .. }) => {
                assert_eq!(file, "rules/bad.rhai", "{what}");
                assert_eq!(line, 3, "{what}");
            }
            Err(other) => panic!("{what}: unexpected error {other}"),
            Ok(set) => {
                // Some are runtime errors (unknown function): still an ENGINE finding, never a panic.
                let r = set.evaluate(&tiny_submission(0), None);
                assert!(r.findings.iter().any(|f| f.rule == "ENGINE" && f.params["rule"] == "T-BAD"), "{what}: {r:?}");
            }
        }
    }
}

/// The national medical team pack, read from `rules/`.
fn nt_pack() -> shenhe::PackSource {
    support::pack_source("national-medical-team-2024")
}

/// A batch record as derive.rhai's `_batch` map makes it (NT-15 groups by
/// `hospital_id` and `team_key`).
fn nt_record(i: u64, hospital: &str) -> serde_json::Value {
    serde_json::json!({
        "index": i, "status": "accepted", "hospital": hospital, "uscc": "", "stage": "plan", "year": 2024, "jurisdiction": "53",
        "hospital_id": hospital, "team_key": format!("2024|plan|{hospital}"),
    })
}

#[test]
fn sandbox_batch_limits_grow_with_the_batch() {
    let set = RuleSet::compile([nt_pack()]).unwrap();
    let pack = set.pack("national-medical-team-2024").unwrap();
    // 20,000 teams from distinct hospitals, and the last one repeated: far
    // past the per-submission operation and size limits, yet no ENGINE finding.
    let n = 20_000;
    let records = (0..n).map(|i| nt_record(i, &format!("医院{i}"))).chain([nt_record(n, "医院7")]);
    let found = pack.run_batch(records, None);
    assert!(found.iter().all(|f| f.rule != "ENGINE"), "{:?}", found.iter().find(|f| f.rule == "ENGINE"));
    let dup: Vec<_> = found.iter().filter(|f| f.severity == Severity::Error).collect();
    assert_eq!(dup.len(), 1);
    assert_eq!(dup[0].record, Some(n));
    assert_eq!(dup[0].params["first_record"], 8);
}

#[test]
fn sandbox_runaway_batch_rule_stops_at_the_same_point_every_time() {
    let mut src = nt_pack();
    src.batch.push(shenhe::pack::Script {
        file: "batch/spin.rhai".into(),
        source: "//! id: T-BSPIN\n//! severity: error\nlet i = 0; for r in records { loop { i += 1; } }\n".into(),
    });
    src.messages
        .insert("T-BSPIN".into(), serde_json::from_value(serde_json::json!({"zh": "x", "en": "x"})).unwrap());
    let set = RuleSet::compile([src.seal()]).unwrap();
    let pack = set.pack("national-medical-team-2024").unwrap();
    let run = || pack.run_batch((0..50).map(|i| nt_record(i, "医院")), None);
    let first = run();
    let spin = first.iter().find(|f| f.rule == "ENGINE").expect("an ENGINE finding");
    assert_eq!(spin.params["rule"], "T-BSPIN");
    assert_eq!(spin.params["code"], "rule.limit");
    assert_eq!(first, run(), "deterministic");
}

/// The report of the tiny pack with `rules`, after checking that the compiled
/// path and the interpreter alone give the same bytes.
fn on_both_paths(rules: &[(&str, &str)]) -> shenhe::Report {
    let on = RuleSet::compile([tiny_pack(rules, "")]).unwrap();
    let interpreter = CompileOptions {
        optimize: true,
        compiled: false,
    };
    let off = RuleSet::compile_with([tiny_pack(rules, "")], interpreter).unwrap();
    let (a, b) = (on.evaluate(&tiny_submission(3), None), off.evaluate(&tiny_submission(3), None));
    assert_eq!(a.to_json(), b.to_json());
    a
}

/// Hostile rules stop at the same point with and without the compiled path:
/// the compiled run gives up and the interpreter's finding is the report's.
#[test]
fn sandbox_hostile_rules_stop_identically_compiled_and_interpreted() {
    let hostile: &[(&str, &str)] = &[
        ("spin.rhai", "//! id: T-SPIN\n//! severity: error\nlet i = 0; loop { i += 1; }\n"),
        (
            "helpers.rhai",
            "//! id: T-HELP\n//! severity: error\nlet a = []; for i in 0..5000 { a.push(i); }\nlet n = 0; loop { n += count_where(a, \"x\", 1) + sum(a); }\n",
        ),
        ("alloc.rhai", "//! id: T-ALLOC\n//! severity: error\nlet s = \"审核\"; loop { s += s; }\n"),
        ("arrays.rhai", "//! id: T-ARR\n//! severity: error\nlet a = [1]; loop { a += a; }\n"),
        ("deep.rhai", "//! id: T-DEEP\n//! severity: error\nfn down(n) { down(n + 1) }\ndown(0);\n"),
        ("oob.rhai", "//! id: T-OOB\n//! severity: error\nlet a = [1, 2]; let x = a[5];\n"),
        ("div.rhai", "//! id: T-DIV\n//! severity: error\nlet x = 1 / (submission.n - 3);\n"),
        (
            "vars.rhai",
            "//! id: T-VARS\n//! severity: error\nlet a = []; a.pad(90000, 0); let b = a; let c = a; let d = a;\n",
        ),
        (
            "grow.rhai",
            "//! id: T-GROW\n//! severity: error\nlet a = []; let b = []; let c = [];\nloop { a.pad(a.len() + 1000, 0); b.pad(b.len() + 1000, 0); c.pad(c.len() + 1000, 0); }\n",
        ),
    ];
    let mut all = vec![GOOD];
    all.extend_from_slice(hostile);
    let a = on_both_paths(&all);
    let engine: Vec<_> = a
        .findings
        .iter()
        .filter(|f| f.rule == "ENGINE")
        .map(|f| f.params["rule"].as_str().unwrap().to_owned())
        .collect();
    for (_, src) in hostile {
        let id = src.split("id: ").nth(1).unwrap().split('\n').next().unwrap();
        assert!(engine.iter().any(|e| e == id), "{id} gave no ENGINE finding: {engine:?}");
    }
}

/// Many variables of large values: each is within Rhai's per-value limit, their
/// sum is not, and that is a limit too.
#[test]
fn sandbox_total_size_of_variables_is_bounded() {
    for (file, src) in [
        (
            "vars.rhai",
            "//! id: T-VARS\n//! severity: error\nlet a = []; a.pad(90000, 0); let b = a; let c = a; let d = a;\n",
        ),
        (
            "grow.rhai",
            "//! id: T-GROW\n//! severity: error\nlet a = []; let b = []; let c = [];\nloop { a.pad(a.len() + 1000, 0); b.pad(b.len() + 1000, 0); c.pad(c.len() + 1000, 0); }\n",
        ),
    ] {
        let r = engine_findings(&[(file, src)]);
        let id = src.split("id: ").nth(1).unwrap().split('\n').next().unwrap();
        assert_limit(&r, id, "rule.limit");
        let f = r.findings.iter().find(|f| f.rule == "ENGINE").unwrap();
        assert!(f.params["detail"].as_str().unwrap().contains("Total size"), "{f:?}");
    }
}

/// Operators on mixed types give Rhai's answers on the compiled path too
/// (`"a" == 'a'` is true in Rhai; `() < 1` is false; an int and a float compare).
#[test]
fn sandbox_mixed_type_operators_agree_compiled_and_interpreted() {
    let src = "//! id: T-MIX\n//! severity: warning\nlet out = [\"a\" == 'a', \"ab\" != 'a', () < 1, 1 == 1.0, 0.1 + 0.2 == 0.3, \"x\" + 1, () + \"y\", 7 / 2, -7 % 3, \"b\" > \"a\"];\nfail(\"/n\", #{ n: out });\n";
    let all = [GOOD, ("mix.rhai", src)];
    let a = on_both_paths(&all);
    let f = a.findings.iter().find(|f| f.rule == "T-MIX").expect("T-MIX fired");
    assert_eq!(
        f.params["n"],
        serde_json::json!([true, true, false, true, true, "x1", "y", 3, -1, true]),
        "{f:?}"
    );
}

#[test]
fn sandbox_fail_in_derive_is_an_engine_finding_naming_the_file() {
    let mut pack = tiny_pack(&[GOOD], "");
    pack.derive = Some(shenhe::pack::Script {
        file: "derive.rhai".into(),
        source: "fail(\"/n\");\n#{ doubled: submission.n * 2 }\n".into(),
    });
    let pack = pack.seal();
    let interpreter = CompileOptions {
        optimize: true,
        compiled: false,
    };
    let reports: Vec<String> = [CompileOptions::default(), interpreter]
        .into_iter()
        .map(|options| {
            let report = RuleSet::compile_with([pack.clone()], options).unwrap().evaluate(&tiny_submission(3), None);
            let f = report
                .findings
                .iter()
                .find(|f| f.rule == "ENGINE")
                .unwrap_or_else(|| panic!("no ENGINE finding: {report:?}"));
            assert_eq!(f.params["rule"], "derive");
            assert!(f.message_en.contains("derive.rhai") && f.message_en.contains("fail()"), "{}", f.message_en);
            assert!(f.message.contains("derive.rhai"), "{}", f.message);
            assert_eq!(report.derived["doubled"], 6, "the figures are still derived");
            assert!(report.findings.iter().any(|f| f.rule == "T-GOOD"), "the rules still run");
            report.to_json()
        })
        .collect();
    assert_eq!(reports[0], reports[1], "the same on the compiled path and in the interpreter");
}

#[test]
fn fixtures_absent_fails_when_the_rule_crashed() {
    let crash = ("crash.rhai", "//! id: T-CRASH\n//! severity: error\nlet x = submission.n / 0;\n");
    let report = engine_findings(&[crash]);
    let expect: shenhe::fixtures::Expect = serde_json::from_value(serde_json::json!({ "absent": ["T-CRASH"] })).unwrap();
    let failures = shenhe::fixtures::check(&report, &expect);
    assert!(failures.iter().any(|f| f.contains("T-CRASH could not run")), "{failures:?}");
    let quiet: shenhe::fixtures::Expect = serde_json::from_value(serde_json::json!({ "absent": ["T-OTHER"] })).unwrap();
    assert!(shenhe::fixtures::check(&report, &quiet).is_empty(), "another rule's crash is not this rule's");
}
