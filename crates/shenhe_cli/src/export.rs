//! `shenhe export`: the static files the browser fetches (bundles, and the
//! playground's pack sources and samples).

use std::{fs, path::Path, process::ExitCode};

use anyhow::{Context, Result};
use serde_json::{Map, Value, json};
use shenhe::PackSource;

use crate::{delivery, load};

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// Writes `path`, and beside it `path.br` and `path.gz` for static servers
/// that send precompressed files (nginx `brotli_static`, `gzip_static`).
fn write_compressed(path: &Path, text: &str) -> Result<()> {
    write(path, text.as_bytes())?;
    let with = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(".");
        name.push(suffix);
        std::path::PathBuf::from(name)
    };
    write(&with("br"), &delivery::brotli(text.as_bytes(), 11))?;
    write(&with("gz"), &delivery::gzip(text.as_bytes()))
}

/// Sample submissions of a pack: its fixture bases (`tests/base/*.json`).
fn samples(dir: &Path) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    for p in load::base_files(dir) {
        let value = load::read_json(&p).map_err(anyhow::Error::msg)?;
        let name = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        out.insert(name, value);
    }
    Ok(out)
}

/// The files the browser fetches, as `(path under gen/, contents)`:
/// `bundles/<id>.json`, `bundles/all.json`, `packs/index.json`, and
/// `packs/<id>.json` (the playground's: the pack's files, sample submissions
/// and its `tests/`).
/// The packs must already have compiled (the callers do that once).
pub fn site_files(packs: &[load::LoadedPack]) -> Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    let mut sources: Vec<PackSource> = Vec::new();
    let mut index = Vec::new();
    for pack in packs {
        let m = &pack.source.manifest;
        files.push((format!("bundles/{}.json", m.id), pack.source.to_bundle_json() + "\n"));
        index.push(json!({ "id": m.id, "version": m.version, "title": m.title, "form": m.form, "hash": pack.source.hash }));
        if let Some(dir) = &pack.dir {
            let sources: Map<String, Value> = load::pack_files(dir)?.into_iter().map(|(p, t)| (p, Value::String(t))).collect();
            // The fixtures too: the playground runs them against the pack as edited.
            let tests: Map<String, Value> = load::test_files(dir)?.into_iter().map(|(p, t)| (p, Value::String(t))).collect();
            let doc = json!({ "id": m.id, "files": sources, "samples": samples(dir)?, "tests": tests });
            files.push((format!("packs/{}.json", m.id), doc.to_string()));
        }
        sources.push(pack.source.clone());
    }
    files.push(("bundles/all.json".to_owned(), PackSource::bundles_to_json(&sources)));
    files.push(("packs/index.json".to_owned(), Value::Array(index).to_string()));
    Ok(files)
}

pub fn run(rules: &Path, out: &Path) -> Result<ExitCode> {
    // Compile first: no bundle is written for a pack that does not load.
    let (_, packs) = load::load_rules(rules)?;
    let files = site_files(&packs)?;
    for (rel, text) in &files {
        let path = out.join(rel);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        write_compressed(&path, text)?;
    }
    eprintln!(
        "{} pack(s), {} files (each with .br and .gz beside it) → {}",
        packs.len(),
        files.len(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
