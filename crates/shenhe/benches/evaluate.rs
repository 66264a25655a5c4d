//! `cargo bench -p shenhe`: pack compile time, and validate + derive + report
//! serialisation per submission over a generated corpus of NT submissions.
//!
//! The corpus is made from the pack's own fixture base by deterministic
//! mutations (a fixed-seed LCG), half of them valid and half breaking rules.

#![allow(clippy::disallowed_methods, reason = "the bench reads its input file")]

use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use serde_json::Value;
use shenhe::{PackSource, RuleSet};

const NT: &str = "national-medical-team-2024";

// The same pack loader the integration tests use.
#[path = "../tests/support/mod.rs"]
mod support;

fn source() -> PackSource {
    support::pack_source(NT)
}

fn bench(c: &mut Criterion) {
    let src = source();
    c.bench_function("compile/national-medical-team-2024", |b| {
        b.iter_batched(|| src.clone(), |s| RuleSet::compile([s]).unwrap(), BatchSize::SmallInput);
    });
    let set = RuleSet::compile([src]).unwrap();
    let docs = support::nt_corpus(64);
    let mut i = 0;
    c.bench_function("evaluate/nt-corpus (validate+derive+serialise)", |b| {
        b.iter(|| {
            i = (i + 1) % docs.len();
            set.evaluate(&docs[i], None).to_json()
        });
    });
    let valid = &docs[0];
    c.bench_function("evaluate/nt-valid", |b| b.iter(|| set.evaluate(valid, None).to_json()));

    // Issue 3's large report: Shanxi 2013 with 200 rows (50 public sites, 50
    // counterpart day rows, 50 township days, 50 lectures). The same file is
    // the wasm harness's input (tests/browser/bench.mjs).
    let sx = RuleSet::compile([support::pack_source("yizhen-week-2013-shanxi")]).unwrap();
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/samples/bench/shanxi-200-rows.json")).unwrap();
    let big: Value = serde_json::from_str(&text).unwrap();
    c.bench_function("evaluate/shanxi-200-rows", |b| b.iter(|| sx.evaluate(&big, None).to_json()));
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1)).sample_size(50);
    targets = bench
}
criterion_main!(benches);
