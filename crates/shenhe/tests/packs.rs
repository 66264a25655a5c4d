//! The real packs through the public API: bundles, pack selection, ordering,
//! and robustness against broken submissions.

mod support;

use serde_json::{Value, json};
use shenhe::{PackSource, RuleSet, Status};
use support::{base, pack_source, rule_set};

const NT: &str = "national-medical-team-2024";

#[test]
fn packs_bundle_and_directory_have_the_same_hash() {
    let dir = pack_source(NT);
    assert!(dir.hash.starts_with("sha256:") && dir.hash.len() == 71, "{}", dir.hash);
    let bundle_text = dir.to_bundle_json();
    let from_bundle = PackSource::from_bundle_json(&bundle_text).unwrap();
    assert_eq!(from_bundle.hash, dir.hash);
    let set = RuleSet::compile([from_bundle]).unwrap();
    let report = set.evaluate(&base(NT, "summary.json"), None);
    assert_eq!(report.pack.unwrap().hash, dir.hash);
}

#[test]
fn packs_edited_bundle_is_refused() {
    let text = pack_source(NT).to_bundle_json().replace("\"min_team_size\": 5", "\"min_team_size\": 4");
    let err = PackSource::from_bundle_json(&text).unwrap_err();
    assert!(err.to_string().contains("edited or damaged"), "{err}");
}

#[test]
fn packs_no_match_gives_pack_none() {
    let set = rule_set(NT);
    let mut sub = base(NT, "summary.json");
    sub["policy"]["year"] = json!(2023);
    let r = set.evaluate(&sub, None);
    assert_eq!(r.status, Status::Rejected);
    assert_eq!(r.pack, None);
    assert_eq!(r.findings.len(), 1);
    assert_eq!(r.findings[0].rule, "PACK-NONE");
    assert_eq!(r.findings[0].path, "/policy");
    assert_eq!(r.findings[0].params["year"], 2023);
    // A string year matches like a number; a forced pack skips matching.
    sub["policy"]["year"] = json!("2024");
    assert!(set.evaluate(&sub, None).pack.is_some());
    sub["policy"] = json!({});
    assert!(set.evaluate(&sub, Some(NT)).pack.is_some());
    assert_eq!(set.evaluate(&json!([1, 2]), None).findings[0].rule, "PACK-NONE");
}

#[test]
fn packs_findings_follow_document_order_then_rule() {
    let set = rule_set(NT);
    let mut sub = base(NT, "summary.json");
    // Twelve sites so that index 10 exists: "/sites/10" must sort after "/sites/2".
    let site = sub["sites"][1].clone();
    let sites: Vec<Value> = (0..12)
        .map(|i| {
            let mut s = site.clone();
            s["level"] = json!(if i == 2 || i == 10 { "province" } else { "county" });
            s
        })
        .collect();
    sub["sites"] = Value::Array(sites);
    sub["members"].as_array_mut().unwrap().truncate(3);
    let r = set.evaluate(&sub, None);
    let paths: Vec<&str> = r.findings.iter().map(|f| f.path.as_str()).collect();
    let pos = |p: &str| paths.iter().position(|x| *x == p).unwrap_or_else(|| panic!("{p} not in {paths:?}"));
    assert!(pos("/members") < pos("/sites/2/level"));
    assert!(pos("/sites/2/level") < pos("/sites/10/level"), "{paths:?}");
    let mut sorted = r.clone();
    sorted
        .findings
        .sort_by(|a, b| shenhe::pointer::compare(&sub, &a.path, &b.path).then(a.rule.cmp(&b.rule)));
    assert_eq!(sorted.findings, r.findings);
    // The same input gives the same bytes.
    assert_eq!(set.evaluate(&sub, None).to_json(), r.to_json());
}

#[test]
fn packs_broken_submissions_give_findings_never_engine_errors() {
    for (pack, name) in [
        (NT, "summary.json"),
        (NT, "plan.json"),
        ("yizhen-week-2022-national", "report.json"),
        ("counterpart-support-2022-quanzhou-quangang", "monthly.json"),
        ("village-patrol-2019-weihai-huancui", "patrol.json"),
    ] {
        let set = rule_set(pack);
        let doc = base(pack, name);
        let values = shenhe::fixtures::broken_values();
        let mut checked = 0;
        for (p, what, d) in shenhe::fixtures::mutations(&doc, &values) {
            let report = set.evaluate(&d, Some(pack));
            let engine: Vec<_> = report.findings.iter().filter(|f| f.rule == "ENGINE").collect();
            assert!(engine.is_empty(), "{name} {p} -> {what}: {engine:?}");
            checked += 1;
        }
        assert!(checked > 300, "{checked}");
    }
}

#[test]
fn packs_broken_shanxi_report_gives_findings_never_engine_errors() {
    // The Shanxi base has ~650 paths; every 7th mutation keeps debug test time in check.
    let pack = "yizhen-week-2013-shanxi";
    let (set, doc) = (rule_set(pack), base(pack, "report.json"));
    let values = shenhe::fixtures::broken_values();
    let mut checked = 0;
    for (p, what, d) in shenhe::fixtures::mutations(&doc, &values).step_by(7) {
        let report = set.evaluate(&d, Some(pack));
        assert!(report.findings.iter().all(|f| f.rule != "ENGINE"), "{p} -> {what}: {:?}", report.findings);
        checked += 1;
    }
    assert!(checked > 500, "{checked}");
}

#[test]
fn packs_new_year_is_a_parameter_change_only() {
    // A 2025 edition: one new file of numbers beside editions/2024.toml;
    // scripts, messages, labels and the schema untouched.
    let mut files = support::pack_files(NT);
    files.push((
        "editions/2025.toml".into(),
        "[pack]\nid = \"national-medical-team-2025\"\nversion = \"1\"\ntitle = \"2025年国家医疗队巡回医疗\"\n\
         policy = { year = 2025 }\neffective = { from = \"2025-01-01\", to = \"2025-12-31\" }\n\
         [params]\ndepart_from = 2025-09-01\ndepart_to = 2025-11-30\nend_by = 2025-11-30\n\
         plan_deadline = 2025-09-30\nsummary_deadline = 2025-12-10\nmin_team_size = 6\n\
         recipient_provinces = [\"14\", \"52\", \"53\", \"XPCC\"]\nnational_team_count = 44\n"
            .into(),
    ));
    let editions = PackSource::editions_from_files(files.iter().map(|(p, t)| (p.as_str(), t.as_str()))).unwrap();
    let [old, new] = editions.as_slice() else { panic!("two editions") };
    assert_eq!((old.edition.as_deref(), new.edition.as_deref()), (Some("2024"), Some("2025")));
    assert_eq!(new.rules, old.rules, "no script changed");
    assert_eq!(
        (&new.lib, &new.derive, &new.messages, &new.labels),
        (&old.lib, &old.derive, &old.messages, &old.labels)
    );
    assert_eq!(new.params["min_total_days"], old.params["min_total_days"], "what 2025 does not change stays");
    assert_ne!(new.hash, old.hash, "the hash covers the edition");
    let set = RuleSet::compile(editions.clone()).unwrap();

    let mut sub = base(NT, "summary.json");
    sub["members"].as_array_mut().unwrap().truncate(5);
    let r2024 = set.evaluate(&sub, None);
    let pack = r2024.pack.as_ref().unwrap();
    assert_eq!(
        (pack.id.as_str(), pack.edition.as_deref()),
        (NT, Some("2024")),
        "the report names the pack and the edition"
    );
    assert_eq!(r2024.status, Status::Accepted, "{:?}", r2024.findings);
    assert!(r2024.to_json().contains(r#""edition":"2024""#));

    sub["policy"]["year"] = json!(2025);
    let r2025 = set.evaluate(&sub, None);
    assert_eq!(r2025.pack.as_ref().unwrap().id, "national-medical-team-2025");
    let has = |rule: &str, path: &str| r2025.findings.iter().any(|f| f.rule == rule && f.path == path);
    assert!(has("NT-01", "/members"), "{:?}", r2025.findings);
    assert_eq!(r2025.findings.iter().find(|f| f.rule == "NT-01").unwrap().params["min"], 6);
    assert!(has("NT-05", "/sites/0/start"), "2024 dates fall outside the 2025 window");
    assert_eq!(r2025.status, Status::Rejected);

    // An edition holds [pack] and [params] only; a pack with editions is read as its editions.
    files.push(("editions/2026.toml".into(), "[rules]\nx = 1\n".into()));
    let e = PackSource::editions_from_files(files.iter().map(|(p, t)| (p.as_str(), t.as_str()))).unwrap_err();
    assert!(e.to_string().contains("editions/2026.toml") && e.to_string().contains("[rules]"), "{e}");
    assert!(PackSource::from_files(files.iter().map(|(p, t)| (p.as_str(), t.as_str()))).is_err());
}

#[test]
fn packs_import_a_shared_library_as_their_lib() {
    let manifest = "id = \"tiny\"\nversion = \"1\"\nform = \"tiny_form\"\nimports = [\"family/lib.rhai\"]\n[policy]\nprogram = \"p\"\nyear = 2024\nregion = \"CN\"\n[effective]\nfrom = \"2024-01-01\"\nto = \"2024-12-31\"\n";
    let rule = "//! id: T-01\n//! severity: error\n//! seed: test\nif too_many(submission.n) { fail(\"/n\", #{ n: submission.n }); }\n";
    let mut files = vec![
        ("pack.toml", manifest),
        ("schema.json", r#"{"type":"object","properties":{"n":{"type":"integer"}}}"#),
        ("messages.toml", "[\"T-01\"]\nzh = \"不超过10，填写为{n}\"\nen = \"at most 10, got {n}\"\n"),
        ("rules/t01.rhai", rule),
        ("shared/family/lib.rhai", "fn too_many(n) { n > 10 }\n"),
    ];
    let pack = PackSource::from_files(files.iter().copied()).unwrap();
    assert_eq!(pack.lib.as_ref().unwrap().file, "shared/family/lib.rhai");
    let set = RuleSet::compile([pack]).unwrap();
    let sub = json!({"form": "tiny_form", "policy": {"program": "p", "year": 2024, "region": "CN"}, "n": 11});
    assert_eq!(
        set.evaluate(&sub, None).findings[0].rule,
        "T-01",
        "the rule calls the shared library's function"
    );
    // One library per pack.
    files.push(("lib.rhai", "fn other() { 1 }\n"));
    let e = PackSource::from_files(files.iter().copied()).unwrap_err().to_string();
    assert!(e.contains("one library"), "{e}");
}
