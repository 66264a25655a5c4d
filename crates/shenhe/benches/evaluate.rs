//! `cargo bench -p shenhe`: pack compile time, and validate + derive + report
//! serialisation per submission over a generated corpus of NT submissions.
//!
//! The corpus is made from the pack's own fixture base by deterministic
//! mutations (a fixed-seed LCG), half of them valid and half breaking rules.

use std::{fs, path::Path, time::Duration};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use shenhe::{PackSource, RuleSet};

const NT: &str = "national-medical-team-2024";

fn pack_files(dir: &Path, rel: &str, out: &mut Vec<(String, String)>) {
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().to_string();
        let rel_path = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
        if e.file_type().unwrap().is_dir() {
            if name != "tests" {
                pack_files(&e.path(), &rel_path, out);
            }
        } else {
            out.push((rel_path, fs::read_to_string(e.path()).unwrap()));
        }
    }
}

fn rules_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules")
}

fn source() -> PackSource {
    let mut files = Vec::new();
    pack_files(&rules_dir().join(NT), "", &mut files);
    PackSource::from_files(files.iter().map(|(p, t)| (p.as_str(), t.as_str()))).unwrap()
}

/// A deterministic corpus: `n` submissions, every other one broken.
pub fn corpus(n: usize) -> Vec<Value> {
    let base: Value = serde_json::from_str(&fs::read_to_string(rules_dir().join(NT).join("tests/base/summary.json")).unwrap()).unwrap();
    let mut seed: u64 = 0x5eed_2024;
    let mut next = move |m: u64| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % m
    };
    (0..n)
        .map(|i| {
            let mut s = base.clone();
            s["outputs"]["patients_treated"] = json!(1000 + next(3000));
            s["members"][0]["days_present"] = json!(14 + next(8));
            if i % 2 == 1 {
                match next(6) {
                    0 => drop(s["members"].as_array_mut().unwrap().drain(3..)),
                    1 => s["sites"][1]["end"] = json!("2024-10-20"),
                    2 => s["sites"][0]["start"] = json!("2024-08-20"),
                    3 => s["outputs"]["surgeries"] = json!(-3),
                    4 => s["dispatching_hospital"]["uscc"] = json!("91350200776049653B"),
                    _ => s["members"][1]["title_code"] = json!("299"),
                }
            }
            s
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let src = source();
    c.bench_function("compile/national-medical-team-2024", |b| {
        b.iter_batched(|| src.clone(), |s| RuleSet::compile([s]).unwrap(), BatchSize::SmallInput);
    });
    let set = RuleSet::compile([src]).unwrap();
    let docs = corpus(64);
    let mut i = 0;
    c.bench_function("evaluate/nt-corpus (validate+derive+serialise)", |b| {
        b.iter(|| {
            i = (i + 1) % docs.len();
            set.evaluate(&docs[i], None).to_json()
        });
    });
    let valid = &docs[0];
    c.bench_function("evaluate/nt-valid", |b| b.iter(|| set.evaluate(valid, None).to_json()));
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1)).sample_size(50);
    targets = bench
}
criterion_main!(benches);
