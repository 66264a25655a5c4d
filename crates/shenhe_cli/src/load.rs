//! Reading rule packs from disk: a bundle file, one pack directory, or a
//! directory of packs. The core gets the file contents; it never opens files.

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;
use shenhe::{PackSource, RuleSet};

/// A pack read from disk, with the directory its fixtures live in.
pub struct LoadedPack {
    pub source: PackSource,
    /// `None` for a bundle (bundles carry no fixtures).
    pub dir: Option<PathBuf>,
}

fn collect(dir: &Path, rel: &Path, out: &mut Vec<(String, String)>) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(fs::DirEntry::file_name);
    for entry in entries {
        let name = entry.file_name();
        let rel_path = rel.join(&name);
        if entry.file_type()?.is_dir() {
            if name != "tests" {
                collect(&entry.path(), &rel_path, out)?;
            }
        } else {
            let text = fs::read_to_string(entry.path()).with_context(|| format!("cannot read {}", entry.path().display()))?;
            out.push((rel_path.to_string_lossy().replace('\\', "/"), text));
        }
    }
    Ok(())
}

/// The files of a pack directory, `tests/` excluded, as `(relative path,
/// text)`, and the shared rules its `pack.toml` imports from the library
/// beside it (`../_shared/<name>`, given as `shared/<name>`).
pub fn pack_files(dir: &Path) -> Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    collect(dir, Path::new(""), &mut files)?;
    let manifest = files.iter().find(|(p, _)| p == "pack.toml").map(|(_, t)| t.clone());
    if let Some(text) = manifest {
        let library = dir.parent().unwrap_or(dir).join("_shared");
        for name in shenhe::pack::imports_of(&text).with_context(|| format!("pack {}", dir.display()))? {
            if name.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
                bail!("{}: import {name:?} must be a path inside rules/_shared/", dir.join("pack.toml").display());
            }
            let path = library.join(&name);
            let text = fs::read_to_string(&path)
                .with_context(|| format!("{}: imports {name:?}, but {} cannot be read", dir.join("pack.toml").display(), path.display()))?;
            files.push((format!("{}{name}", shenhe::pack::SHARED), text));
        }
    }
    Ok(files)
}

/// The files of a pack's `tests/` directory (fixtures, batch fixtures and the
/// bases they name), as `(path relative to tests/, text)`; none without one.
pub fn test_files(dir: &Path) -> Result<Vec<(String, String)>> {
    let tests = dir.join("tests");
    let mut files = Vec::new();
    if tests.is_dir() {
        collect(&tests, Path::new(""), &mut files)?;
    }
    Ok(files)
}

/// Reads one pack directory (the one holding `pack.toml`): one pack per
/// edition (`editions/*.toml`), or the pack itself when it has none.
pub fn read_pack_dir(dir: &Path) -> Result<Vec<PackSource>> {
    let files = pack_files(dir)?;
    PackSource::editions_from_files(files.iter().map(|(p, t)| (p.as_str(), t.as_str()))).with_context(|| format!("pack {}", dir.display()))
}

/// Reads `path`: a bundle file, a pack directory, or a directory of packs.
pub fn read_packs(path: &Path) -> Result<Vec<LoadedPack>> {
    if path.is_file() {
        let text = fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        // One bundle, or the JSON array of several (a pack's editions, /bundles/all.json).
        let sources = PackSource::bundles_from_json(&text).with_context(|| format!("bundle {}", path.display()))?;
        return Ok(sources.into_iter().map(|source| LoadedPack { source, dir: None }).collect());
    }
    if !path.is_dir() {
        bail!("{}: no such rules directory or bundle file (use --rules DIR|BUNDLE)", path.display());
    }
    let editions = |dir: PathBuf| -> Result<Vec<LoadedPack>> {
        Ok(read_pack_dir(&dir)?
            .into_iter()
            .map(|source| LoadedPack {
                source,
                dir: Some(dir.clone()),
            })
            .collect())
    };
    if path.join("pack.toml").is_file() {
        return editions(path.to_path_buf());
    }
    let mut dirs: Vec<PathBuf> = fs::read_dir(path)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("pack.toml").is_file())
        .collect();
    dirs.sort();
    if dirs.is_empty() {
        bail!("{}: no rule packs found (a pack is a directory with pack.toml)", path.display());
    }
    let mut packs = Vec::new();
    for d in dirs {
        packs.extend(editions(d)?);
    }
    Ok(packs)
}

/// The packs grouped by the directory they were read from, in order: the
/// editions of one pack share its scripts and fixtures.
pub fn by_dir(packs: &[LoadedPack]) -> Vec<(&Path, Vec<&LoadedPack>)> {
    let mut groups: Vec<(&Path, Vec<&LoadedPack>)> = Vec::new();
    for p in packs {
        let Some(dir) = p.dir.as_deref() else { continue };
        match groups.iter_mut().find(|(d, _)| *d == dir) {
            Some((_, g)) => g.push(p),
            None => groups.push((dir, vec![p])),
        }
    }
    groups
}

/// Reads and compiles every pack under `path`.
pub fn load_rules(path: &Path) -> Result<(RuleSet, Vec<LoadedPack>)> {
    load_rules_with(path, shenhe::CompileOptions::default())
}

/// [`load_rules`] with explicit compile options (`check --interpreter-only`).
pub fn load_rules_with(path: &Path, options: shenhe::CompileOptions) -> Result<(RuleSet, Vec<LoadedPack>)> {
    let packs = read_packs(path)?;
    let rules = RuleSet::compile_with(packs.iter().map(|p| p.source.clone()), options)?;
    Ok((rules, packs))
}

/// A pack's fixture files (`tests/*.json`), sorted.
pub fn fixture_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let tests = dir.join("tests");
    let mut files: Vec<_> = fs::read_dir(&tests)
        .with_context(|| format!("{}: a pack needs a tests/ directory", tests.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    Ok(files)
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p: &PathBuf| p.extension().is_some_and(|x| x == "json"));
    files.sort();
    files
}

/// A pack's fixture bases (`tests/base/*.json`), sorted; none if there is no such directory.
pub fn base_files(dir: &Path) -> Vec<PathBuf> {
    json_files(&dir.join("tests").join("base"))
}

/// Reads a JSON file, for fixture bases (errors as text, as fixtures report them).
pub fn read_json(p: &Path) -> std::result::Result<Value, String> {
    let text = fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
}

/// Reads `--registry`: a JSON array of objects, or a CSV whose headers name
/// `code`/`name`/`type`/`uscc` (or 区划代码/名称/机构类别/统一社会信用代码).
pub fn read_registry(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("--registry {}: cannot read", path.display()))?;
    if path.extension().is_some_and(|e| e == "json") {
        let v: Value = serde_json::from_str(&text).map_err(|e| anyhow!("--registry {}:{}:{}: invalid JSON: {e}", path.display(), e.line(), e.column()))?;
        if !v.as_array().is_some_and(|a| a.iter().all(Value::is_object)) {
            bail!(
                "--registry {}: must be a JSON array of objects ({{\"code\", \"name\", \"type\"}})",
                path.display()
            );
        }
        return Ok(v);
    }
    let key = |h: &str| -> String {
        match h.trim() {
            "区划代码" | "代码" | "机构代码" | "统计用区划代码" | "code" => "code",
            "名称" | "机构名称" | "行政村" | "单位名称" | "name" => "name",
            "类别" | "机构类别" | "机构类型" | "wsinst_type" | "type" => "type",
            "统一社会信用代码" | "uscc" => "uscc",
            other => other,
        }
        .to_owned()
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers: Vec<String> = reader.headers()?.iter().map(key).collect();
    if !headers.iter().any(|h| h == "code") {
        bail!(
            "--registry {}: needs a code column (code / 区划代码); it has {}",
            path.display(),
            headers.join(", ")
        );
    }
    let mut rows = Vec::new();
    for r in reader.records() {
        let r = r.map_err(|e| anyhow!("--registry {}: {e}", path.display()))?;
        let obj: serde_json::Map<String, Value> = headers.iter().cloned().zip(r.iter().map(|c| Value::from(c.trim()))).collect();
        rows.push(Value::Object(obj));
    }
    Ok(Value::Array(rows))
}
