//! What the browser does at start-up, natively, for a profiler:
//! `Validator.fromBundle` on one bundle file, `N` times.
//!
//!   cargo run --release --example startup -- www/gen/bundles/national-medical-team-2024.json 20
//!   valgrind --tool=callgrind target/release/examples/startup www/gen/bundles/….json 1
#![allow(clippy::disallowed_methods, reason = "an example reads its input file")]

use shenhe::{PackSource, RuleSet};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(file) = args.next() else {
        eprintln!("usage: startup BUNDLE.json [TIMES]");
        std::process::exit(2);
    };
    let times: u32 = args.next().and_then(|n| n.parse().ok()).unwrap_or(1);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| {
        eprintln!("{file}: {e}");
        std::process::exit(2);
    });
    let started = std::time::Instant::now();
    for _ in 0..times {
        let sources = PackSource::bundles_from_json(&text).unwrap_or_else(|e| {
            eprintln!("{file}: {e}");
            std::process::exit(1);
        });
        let rules = RuleSet::compile(sources).unwrap_or_else(|e| {
            eprintln!("{file}: {e}");
            std::process::exit(1);
        });
        std::hint::black_box(&rules);
    }
    eprintln!(
        "{:.2} ms per start-up ({times} runs)",
        started.elapsed().as_secs_f64() * 1000.0 / f64::from(times)
    );
}
