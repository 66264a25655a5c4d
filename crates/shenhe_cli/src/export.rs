//! `shenhe export`: the static files the browser fetches (bundles, and the
//! playground's pack sources and samples).

use std::{fs, path::Path, process::ExitCode};

use anyhow::{Context, Result};
use serde_json::{Map, Value, json};
use shenhe::{CompiledPack, PackSource};

use crate::load;

fn write(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Sample submissions of a pack: its fixture bases (`tests/base/*.json`).
fn samples(dir: &Path) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    let base = dir.join("tests").join("base");
    let Ok(entries) = fs::read_dir(&base) else { return Ok(out) };
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    for p in paths {
        let text = fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
        let value = shenhe::api::parse_submission(&p.display().to_string(), &text)?;
        let name = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        out.insert(name, value);
    }
    Ok(out)
}

/// The files the browser fetches, as `(path under gen/, contents)`:
/// `bundles/<id>.json`, `bundles/all.json`, `packs/index.json`, `packs/<id>.json`.
pub fn site_files(packs: &[load::LoadedPack]) -> Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    let mut sources: Vec<PackSource> = Vec::new();
    let mut index = Vec::new();
    for pack in packs {
        let compiled = CompiledPack::compile(pack.source.clone())?;
        let m = compiled.manifest();
        files.push((format!("bundles/{}.json", m.id), pack.source.to_bundle_json() + "\n"));
        index.push(json!({ "id": m.id, "version": m.version, "title": m.title, "form": m.form, "hash": compiled.hash() }));
        if let Some(dir) = &pack.dir {
            let sources: Map<String, Value> = load::pack_files(dir)?.into_iter().map(|(p, t)| (p, Value::String(t))).collect();
            let doc = json!({ "id": m.id, "files": sources, "samples": samples(dir)? });
            files.push((format!("packs/{}.json", m.id), doc.to_string()));
        }
        sources.push(pack.source.clone());
    }
    files.push(("bundles/all.json".to_owned(), PackSource::bundles_to_json(&sources)));
    files.push(("packs/index.json".to_owned(), Value::Array(index).to_string()));
    Ok(files)
}

pub fn run(rules: &Path, out: &Path) -> Result<ExitCode> {
    let packs = load::read_packs(rules)?;
    let files = site_files(&packs)?;
    for (rel, text) in &files {
        let path = out.join(rel);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        write(&path, text)?;
    }
    eprintln!("{} pack(s), {} files → {}", packs.len(), files.len(), out.display());
    Ok(ExitCode::SUCCESS)
}
