//! `shenhe test --mutate [PACK]`: how much of a pack's rules its fixtures pin.
//!
//! Every mutant ([`shenhe::mutate`]) is the pack with one slip in one rule;
//! the pack's fixtures run against it and kill it when any case fails.
//! Survivors are listed as `file:line: what changed`, so a rule author sees
//! which boundary or outcome no case pins.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use shenhe::{
    RuleSet,
    fixtures::{self, Suite},
    mutate::{self, Mutant},
};

use crate::load;

/// Whether every case passes against `rules` (stopping at the first that fails).
fn all_pass(suite: &Suite, rules: &RuleSet, cases: &[usize], batch: &[usize]) -> bool {
    let load = |n: &str| suite.base(n);
    cases.iter().all(|&i| fixtures::run_case(rules, &suite.cases[i].1, &load).passed())
        && batch.iter().all(|&i| fixtures::run_batch_case(rules, &suite.batch[i].1, &load).0.is_empty())
}

/// What became of one pack's mutants.
struct Outcome {
    total: usize,
    killed: usize,
    marked: usize,
    uncalled: usize,
    /// File, line, column and what changed.
    survivors: Vec<(String, usize, usize, String)>,
}

fn run_pack(id: &str, dir: &Path, source: &shenhe::PackSource, jobs: usize) -> Result<Outcome> {
    let files = load::test_files(dir)?;
    let fx = Suite::parse(files.iter().map(|(p, t)| (p.as_str(), t.as_str()))).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    // The pack alone is what every mutant replaces; a case that does not
    // pass with it (one that needs another pack) cannot judge a mutant.
    let original = RuleSet::compile([source.clone()])?;
    let load = |n: &str| fx.base(n);
    let cases: Vec<usize> = (0..fx.cases.len())
        .filter(|&i| fixtures::run_case(&original, &fx.cases[i].1, &load).passed())
        .collect();
    let batch: Vec<usize> = (0..fx.batch.len())
        .filter(|&i| fixtures::run_batch_case(&original, &fx.batch[i].1, &load).0.is_empty())
        .collect();
    let mutate::Mutants { mutants, marked, uncalled } = mutate::mutants(source);
    let bar = ProgressBar::with_draw_target(Some(mutants.len() as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} mutants  {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(id.to_owned());
    let next = AtomicUsize::new(0);
    let survivors = Mutex::new(Vec::new());
    let killed = AtomicUsize::new(0);
    let work = |mutants: &[Mutant]| {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(m) = mutants.get(i) else { break };
            // A mutant that does not compile is caught before any fixture runs.
            let caught = RuleSet::compile([m.pack.clone()]).map_or(true, |rules| !all_pass(&fx, &rules, &cases, &batch));
            if caught {
                killed.fetch_add(1, Ordering::Relaxed);
            } else if let Ok(mut s) = survivors.lock() {
                s.push((m.file.clone(), m.line, m.column, m.what.clone()));
            }
            bar.inc(1);
        }
    };
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| work(&mutants));
        }
    });
    bar.finish_and_clear();
    let mut survivors = survivors.into_inner().unwrap_or_default();
    survivors.sort();
    Ok(Outcome {
        total: mutants.len(),
        killed: killed.into_inner(),
        marked,
        uncalled,
        survivors,
    })
}

/// Runs the mutants of every pack under `rules_path` (or of pack `only`) and
/// fails when a pack's fixtures kill less than `min_score` percent of them.
#[allow(clippy::print_stdout, reason = "the test runner's output is its interface")]
pub fn run(rules_path: &Path, only: Option<&str>, min_score: f64, jobs: usize) -> Result<ExitCode> {
    let packs = load::read_packs(rules_path)?;
    let chosen: Vec<(&shenhe::PackSource, &PathBuf)> = packs
        .iter()
        .filter_map(|p| Some((&p.source, p.dir.as_ref()?)))
        .filter(|(s, _)| only.is_none_or(|id| s.manifest.id == id))
        .collect();
    if chosen.is_empty() {
        println!(
            "no pack to mutate under {}{}: mutation testing needs a pack directory with its tests/",
            rules_path.display(),
            only.map(|id| format!(" with id {id}")).unwrap_or_default()
        );
        return Ok(ExitCode::from(2));
    }
    let mut below = 0;
    for (source, dir) in chosen {
        let id = &source.manifest.id;
        let o = run_pack(id, dir, source, jobs)?;
        #[allow(clippy::cast_precision_loss, reason = "mutant counts are small")]
        let score = if o.total == 0 { 100.0 } else { o.killed as f64 * 100.0 / o.total as f64 };
        println!(
            "pack {id}: {} mutants, {} killed, {} survived: {score:.1} % (at least {min_score} % needed); {} left out on lines marked `{}`{}",
            o.total,
            o.killed,
            o.survivors.len(),
            o.marked,
            mutate::EQUIVALENT,
            if o.uncalled > 0 {
                format!(", {} in library functions this pack never calls", o.uncalled)
            } else {
                String::new()
            }
        );
        for (file, line, column, what) in &o.survivors {
            println!("  survived  {file}:{line}:{column}: {what}");
        }
        if score < min_score {
            below += 1;
        }
    }
    Ok(if below == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
