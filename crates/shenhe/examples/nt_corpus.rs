//! Writes the generated NT corpus as NDJSON, for whole-process benchmarks:
//! `cargo run --release -p shenhe --example nt_corpus -- 10000 > nt.ndjson`,
//! then `taskset -c 0 shenhe check --jobs 1 --rules rules nt.ndjson`.
//!
//! The submissions are those of `cargo bench` (same generator, same seed):
//! the NT fixture base with varied counts, every other one breaking a rule.
//! With `--double-shanxi FILE` it instead prints the Shanxi report FILE with
//! every top-level repeat doubled (the 400-row measure of issue 10).

#![allow(clippy::disallowed_methods, reason = "an example reads its input file")]

use std::io::Write;

#[path = "../tests/support/mod.rs"]
mod support;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--double-shanxi") {
        let Some(file) = args.get(1) else {
            eprintln!("usage: nt_corpus --double-shanxi FILE");
            std::process::exit(2);
        };
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| {
            eprintln!("{file}: {e}");
            std::process::exit(2)
        });
        let mut doc: serde_json::Value = serde_json::from_str(&text).expect("a JSON submission");
        double_repeats(&mut doc);
        println!("{doc}");
        return;
    }
    let n: usize = match args.first().map(|a| a.parse()) {
        None => 10_000,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            eprintln!("usage: nt_corpus [COUNT]   (default 10000)");
            std::process::exit(2);
        }
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (i, mut doc) in support::nt_corpus(n).into_iter().enumerate() {
        // Each submission its own dispatching hospital, as a real batch has.
        doc["dispatching_hospital"]["name"] = serde_json::json!(format!("委属医院{i:06}"));
        writeln!(out, "{doc}").expect("stdout");
    }
}

/// Every repeat of the report (a top-level array of objects) twice as long:
/// 200 rows become 400, nested rows following their parents.
fn double_repeats(v: &mut serde_json::Value) {
    if let serde_json::Value::Object(m) = v {
        for a in m.values_mut().filter_map(serde_json::Value::as_array_mut) {
            if !a.is_empty() && a.iter().all(serde_json::Value::is_object) {
                let copy = a.clone();
                a.extend(copy);
            }
        }
    }
}
