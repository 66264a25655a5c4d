//! Where a pack spends its time on one submission:
//! `cargo run --release -p shenhe --example rule_costs -- <pack dir> <submission.json> [runs]`
//!
//! Times the pack with no rules (schema + conversion + derive.rhai + report),
//! then each rule alone on top of that, and prints the cost of each rule.
#![allow(clippy::disallowed_methods, clippy::print_stdout, reason = "a measuring tool: it reads files and the clock")]

use std::{fs, path::Path, time::Instant};

use shenhe::{PackSource, RuleSet};

fn read_pack(dir: &Path) -> PackSource {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "tests") {
                    stack.push(p);
                }
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/");
                files.push((rel, fs::read_to_string(&p).unwrap()));
            }
        }
    }
    // The shared rules its pack.toml imports (rules/_shared/).
    let manifest = files.iter().find(|(p, _)| p == "pack.toml").map(|(_, t)| t.clone()).unwrap();
    for name in shenhe::pack::imports_of(&manifest).unwrap() {
        let text = fs::read_to_string(dir.parent().unwrap().join("_shared").join(&name)).unwrap();
        files.push((format!("{}{name}", shenhe::pack::SHARED), text));
    }
    // The first edition of a pack with editions (they share the scripts).
    PackSource::editions_from_files(files.iter().map(|(a, b)| (a.as_str(), b.as_str())))
        .unwrap()
        .remove(0)
}

fn time(set: &RuleSet, doc: &serde_json::Value, runs: u32) -> f64 {
    for _ in 0..runs / 10 {
        let _ = set.evaluate(doc, None).to_json();
    }
    let t = Instant::now();
    for _ in 0..runs {
        let _ = set.evaluate(doc, None).to_json();
    }
    t.elapsed().as_secs_f64() * 1e6 / f64::from(runs)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (dir, sub) = (Path::new(&args[1]), &args[2]);
    let runs: u32 = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(200);
    let doc: serde_json::Value = serde_json::from_str(&fs::read_to_string(sub).unwrap()).unwrap();
    let mut full = read_pack(dir);
    if std::env::var_os("NO_SIZE_LIMITS").is_some() {
        full.manifest.limits.max_string_len = 0;
        full.manifest.limits.max_array_len = 0;
        full.manifest.limits.max_map_len = 0;
        full = full.seal();
    }
    let whole = time(&RuleSet::compile([full.clone()]).unwrap(), &doc, runs);
    let mut empty = full.clone();
    empty.rules.clear();
    let base = time(&RuleSet::compile([empty.clone().seal()]).unwrap(), &doc, runs);
    let mut no_derive = empty.clone();
    no_derive.derive = None;
    no_derive.manifest.derived.clear();
    let bare = time(&RuleSet::compile([no_derive.seal()]).unwrap(), &doc, runs);
    println!("whole pack            {whole:10.1} µs");
    println!("no rules, no derive   {bare:10.1} µs  (schema, conversion, report)");
    println!("derive.rhai           {:10.1} µs", base - bare);
    let mut costs: Vec<(f64, String)> = full
        .rules
        .iter()
        .map(|r| {
            let mut one = empty.clone();
            one.rules = vec![r.clone()];
            (time(&RuleSet::compile([one.seal()]).unwrap(), &doc, runs) - base, r.file.clone())
        })
        .collect();
    costs.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (c, f) in costs {
        println!("{f:<45} {c:10.1} µs");
    }
}
