//! Helpers shared by the core's integration tests.
#![allow(clippy::disallowed_methods, reason = "tests read the real rules/ directory")]
#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::{fs, path::Path};

use shenhe::{PackSource, RuleSet};

/// The workspace `rules/` directory.
pub fn rules_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules")
}

fn collect(dir: &Path, rel: &str, out: &mut Vec<(String, String)>) {
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().to_string();
        let rel_path = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
        if e.file_type().unwrap().is_dir() {
            if name != "tests" {
                collect(&e.path(), &rel_path, out);
            }
        } else {
            out.push((rel_path, fs::read_to_string(e.path()).unwrap()));
        }
    }
}

/// The directory of pack `id`: `rules/<id>/`, or the pack directory one of
/// whose editions (`editions/*.toml`) has that id.
pub fn pack_dir(id: &str) -> std::path::PathBuf {
    let direct = rules_dir().join(id);
    if direct.is_dir() {
        return direct;
    }
    let mut dirs: Vec<_> = fs::read_dir(rules_dir()).unwrap().map(|e| e.unwrap().path()).collect();
    dirs.sort();
    dirs.into_iter()
        .find(|d| {
            fs::read_dir(d.join("editions"))
                .into_iter()
                .flatten()
                .any(|e| fs::read_to_string(e.unwrap().path()).is_ok_and(|t| t.contains(&format!("id = \"{id}\""))))
        })
        .unwrap_or_else(|| panic!("no pack directory for {id}"))
}

/// Reads one pack directory of `rules/` (its only edition, if it has editions).
pub fn pack_source(id: &str) -> PackSource {
    let files = pack_files(id);
    let mut editions = PackSource::editions_from_files(files.iter().map(|(p, t)| (p.as_str(), t.as_str()))).unwrap();
    assert_eq!(editions.len(), 1, "{id} has several editions");
    editions.remove(0)
}

/// The files of one pack directory of `rules/`, as the CLI reads them.
pub fn pack_files(id: &str) -> Vec<(String, String)> {
    let mut files = Vec::new();
    collect(&pack_dir(id), "", &mut files);
    // The shared rules its pack.toml imports, as the CLI reads them.
    let manifest = files.iter().find(|(p, _)| p == "pack.toml").map(|(_, t)| t.clone()).unwrap();
    for name in shenhe::pack::imports_of(&manifest).unwrap() {
        let text = fs::read_to_string(rules_dir().join("_shared").join(&name)).unwrap();
        files.push((format!("{}{name}", shenhe::pack::SHARED), text));
    }
    files
}

/// A rule set with one pack of `rules/`.
pub fn rule_set(id: &str) -> RuleSet {
    RuleSet::compile([pack_source(id)]).unwrap()
}

/// A fixture base submission of a pack.
pub fn base(id: &str, name: &str) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(pack_dir(id).join("tests/base").join(name)).unwrap()).unwrap()
}

/// A minimal pack built in memory: `rules` are `(file name, source)` pairs,
/// each rule id gets a message.
pub fn tiny_pack(rules: &[(&str, &str)], limits: &str) -> PackSource {
    let manifest = format!(
        "id = \"tiny\"\nversion = \"1\"\nform = \"tiny_form\"\n[policy]\nprogram = \"p\"\nyear = 2024\nregion = \"CN\"\n[effective]\nfrom = \"2024-01-01\"\nto = \"2024-12-31\"\n{limits}"
    );
    let mut messages = String::new();
    for (_, src) in rules {
        let id = src.lines().find_map(|l| l.strip_prefix("//! id: ")).unwrap();
        messages.push_str(&format!("[\"{id}\"]\nzh = \"规则 {id} 触发 {{n}}\"\nen = \"rule {id} fired {{n}}\"\n"));
    }
    let schema = r#"{"type":"object","required":["form","n"],"properties":{"n":{"type":"integer"}}}"#;
    let mut files: Vec<(String, String)> = vec![
        ("pack.toml".into(), manifest),
        ("schema.json".into(), schema.into()),
        ("messages.toml".into(), messages),
    ];
    for (name, src) in rules {
        files.push((format!("rules/{name}"), (*src).to_owned()));
    }
    PackSource::from_files(files.iter().map(|(p, t)| (p.as_str(), t.as_str()))).unwrap()
}

/// A submission for `tiny_pack`.
pub fn tiny_submission(n: i64) -> serde_json::Value {
    serde_json::json!({ "form": "tiny_form", "policy": { "program": "p", "year": 2024, "region": "CN" }, "n": n })
}

/// Every fixture case of a pack, with the submission it builds.
pub fn fixture_cases(id: &str) -> Vec<(shenhe::fixtures::Case, serde_json::Value)> {
    let tests = pack_dir(id).join("tests");
    let mut files: Vec<_> = fs::read_dir(&tests)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let load = |name: &str| -> Result<serde_json::Value, String> {
        serde_json::from_str(&fs::read_to_string(tests.join(name)).map_err(|e| e.to_string())?).map_err(|e| e.to_string())
    };
    let mut out = Vec::new();
    for f in files {
        for case in shenhe::fixtures::parse_cases(&fs::read_to_string(&f).unwrap()).unwrap() {
            let doc = shenhe::fixtures::build_submission(&case, &load).unwrap();
            out.push((case, doc));
        }
    }
    out
}

/// A deterministic corpus of NT summary submissions made from the pack's
/// fixture base (a fixed-seed LCG): `n` submissions, every other one broken.
#[allow(dead_code, reason = "used by the bench and the corpus example")]
pub fn nt_corpus(n: usize) -> Vec<serde_json::Value> {
    let base: serde_json::Value = base("national-medical-team-2024", "summary.json");
    let mut seed: u64 = 0x5eed_2024;
    let mut next = move |m: u64| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % m
    };
    (0..n)
        .map(|i| {
            let mut s = base.clone();
            s["outputs"]["patients_treated"] = serde_json::json!(1000 + next(3000));
            s["members"][0]["days_present"] = serde_json::json!(14 + next(8));
            if i % 2 == 1 {
                match next(6) {
                    0 => drop(s["members"].as_array_mut().unwrap().drain(3..)),
                    1 => s["sites"][1]["end"] = serde_json::json!("2024-10-20"),
                    2 => s["sites"][0]["start"] = serde_json::json!("2024-08-20"),
                    3 => s["outputs"]["surgeries"] = serde_json::json!(-3),
                    4 => s["dispatching_hospital"]["uscc"] = serde_json::json!("91350200776049653B"),
                    _ => s["members"][1]["title_code"] = serde_json::json!("299"),
                }
            }
            s
        })
        .collect()
}

/// The batch cases of a pack (`tests/batch/*.json`), and a loader for the
/// base submissions they name.
pub fn batch_cases(id: &str) -> (Vec<shenhe::fixtures::BatchCase>, impl Fn(&str) -> Result<serde_json::Value, String>) {
    let tests = pack_dir(id).join("tests");
    let mut cases = Vec::new();
    if let Ok(dir) = fs::read_dir(tests.join("batch")) {
        let mut files: Vec<_> = dir.map(|e| e.unwrap().path()).collect();
        files.sort();
        for f in files {
            cases.extend(shenhe::fixtures::parse_batch_cases(&fs::read_to_string(&f).unwrap()).unwrap());
        }
    }
    let load = move |name: &str| -> Result<serde_json::Value, String> {
        serde_json::from_str(&fs::read_to_string(tests.join(name)).map_err(|e| e.to_string())?).map_err(|e| e.to_string())
    };
    (cases, load)
}

/// A pack's `tests/` files, as (path relative to tests/, text).
pub fn test_files(id: &str) -> std::collections::BTreeMap<String, String> {
    let mut files = Vec::new();
    collect(&pack_dir(id).join("tests"), "", &mut files);
    files.into_iter().collect()
}
