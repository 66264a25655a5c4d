//! Rule packs as data: the manifest, and the two equivalent forms a pack
//! arrives in (a directory's files, or one bundle JSON file).
//!
//! The core reads no files: hosts hand it `(relative path, contents)` pairs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{Error, labels::Labels, report::Message};

/// The bundle format tag, checked on load.
pub const BUNDLE_FORMAT: &str = "shenhe-bundle/1";

/// Which submissions a pack judges: `policy.program`, `policy.year`, `policy.region`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyMatch {
    /// Programme key, e.g. `nhc_national_medical_team`.
    pub program: String,
    /// Programme year.
    pub year: i64,
    /// Region code: `CN`, a province (`14`) or a district (`371002`).
    pub region: String,
}

/// The effective window of a pack (informational, shown to users).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Effective {
    /// First day of the window.
    pub from: String,
    /// Last day of the window.
    pub to: String,
    /// Last day reports are accepted, if the notice sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reports_until: Option<String>,
}

/// Sandbox limits for a pack's scripts. Every limit is counted, not timed,
/// so a runaway rule stops at the same point on every target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Operations per rule run (Rhai's operation counter).
    pub max_operations: u64,
    /// Script function call depth.
    pub max_call_levels: usize,
    /// Expression nesting depth at the top level.
    pub max_expr_depth: usize,
    /// Expression nesting depth inside functions.
    pub max_fn_expr_depth: usize,
    /// Longest string a script may build, in bytes.
    pub max_string_len: usize,
    /// Largest array a script may build.
    pub max_array_len: usize,
    /// Largest object map a script may build.
    pub max_map_len: usize,
    /// Most variables alive at once.
    pub max_variables: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // Small enough that the deepest allowed recursion fits the default
        // wasm stack (1 MiB) and a debug-build test thread (2 MiB).
        Self {
            max_operations: 1_000_000,
            max_call_levels: 16,
            max_expr_depth: 48,
            max_fn_expr_depth: 32,
            max_string_len: 64 * 1024,
            max_array_len: 100_000,
            max_map_len: 10_000,
            max_variables: 1_000,
        }
    }
}

/// A rule the catalogue lists but this pack does not check, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotImplemented {
    /// Catalogue rule id.
    pub id: String,
    /// Why it is not checked here (missing reference data, cross-record, …).
    pub reason: String,
}

/// `pack.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Pack id, e.g. `national-medical-team-2024`.
    pub id: String,
    /// Pack version; bump it when anything in the pack changes.
    pub version: String,
    /// The form this pack judges (`national_medical_team`).
    pub form: String,
    /// A human title (zh-CN).
    #[serde(default)]
    pub title: String,
    /// Which submissions it matches.
    pub policy: PolicyMatch,
    /// Effective window.
    pub effective: Effective,
    /// Sandbox limits.
    #[serde(default)]
    pub limits: Limits,
    /// Derived figures, in report order.
    #[serde(default)]
    pub derived: Vec<String>,
    /// Catalogue rules this pack does not check.
    #[serde(default)]
    pub not_implemented: Vec<NotImplemented>,
    /// Derived figures rolled up over a batch (the batch summary).
    #[serde(default, skip_serializing_if = "Rollup::is_empty")]
    pub rollup: Rollup,
    /// Where a submission's division code lies (a JSON Pointer such as
    /// `/recipient/division_code`): the server files and shows a submission
    /// only to credentials whose division covers it (§4.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<String>,
    /// Rule files of the shared library (`rules/_shared/`) this pack runs as
    /// its own, e.g. `yizhen_week/x02_money.rhai`: one source for a rule that
    /// several packs apply. They are read as `shared/<name>`, and the bundle
    /// carries them, so the pack's hash covers them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub imports: Vec<String>,
}

/// Which derived figures a batch summary adds up and which it averages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rollup {
    /// Counts summed over the batch (total person-times).
    pub sum: Vec<String>,
    /// Rates and shares averaged over the submissions that have them.
    pub mean: Vec<String>,
}

impl Rollup {
    /// Nothing to roll up.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.sum.is_empty() && self.mean.is_empty()
    }
}

/// One Rhai script of a pack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Script {
    /// File name relative to the pack (`rules/nt01_team_size.rhai`).
    pub file: String,
    /// Source text.
    pub source: String,
}

/// Everything a pack is, before compilation. Serialises to the bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackSource {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// `pack.toml`, with the edition's `[pack]` table merged in.
    pub manifest: Manifest,
    /// The edition (`editions/<name>.toml`: a year or policy window) this
    /// bundle is, or `None` for a pack without editions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edition: Option<String>,
    /// `schema.json`: the form's JSON Schema.
    pub schema: Value,
    /// `params.toml`: every threshold, date, deadline and enum.
    pub params: Value,
    /// `messages.toml`: zh-CN and English templates keyed by rule id (or `id.variant`).
    pub messages: BTreeMap<String, Message>,
    /// `labels.toml` merged with the shared vocabularies the pack imports
    /// (`labels/*.toml`): what messages show instead of fields and codes.
    #[serde(default, skip_serializing_if = "Labels::is_empty")]
    pub labels: Labels,
    /// `lib.rhai`: functions shared by every script of the pack (may be empty).
    pub lib: Option<Script>,
    /// `derive.rhai`: evaluates to a map of derived figures.
    pub derive: Option<Script>,
    /// `rules/*.rhai`, sorted by file name.
    pub rules: Vec<Script>,
    /// `batch/*.rhai`: cross-record rules over a batch, sorted by file name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub batch: Vec<Script>,
    /// `columns.toml`: how county spreadsheets map onto the form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Value>,
    /// `sha256:` hash of everything above; filled in by [`PackSource::seal`].
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hash: String,
}

/// Where a pack's imported shared rules sit among its files (`shared/<name>`).
pub const SHARED: &str = "shared/";

/// The shared rules a `pack.toml` imports (its `imports` list), so that a host
/// can read them from `rules/_shared/` before [`PackSource::from_files`].
///
/// # Errors
/// When `pack.toml` is not valid TOML.
#[cfg(feature = "authoring")]
pub fn imports_of(pack_toml: &str) -> Result<Vec<String>, Error> {
    #[derive(Deserialize)]
    struct Imports {
        #[serde(default)]
        imports: Vec<String>,
    }
    Ok(parse_toml::<Imports>("pack.toml", pack_toml)?.imports)
}

#[cfg(feature = "authoring")]
fn parse_toml<T: serde::de::DeserializeOwned>(file: &str, text: &str) -> Result<T, Error> {
    toml::from_str(text).map_err(|e| Error::PackFile {
        file: file.to_owned(),
        message: e.to_string(),
    })
}

/// TOML to JSON; TOML dates (`deadline = 2024-09-30`) become ISO strings.
#[cfg(feature = "authoring")]
fn toml_to_json(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect()),
    }
}

/// One `editions/<name>.toml`: what it changes in `pack.toml` and `params.toml`.
#[cfg(feature = "authoring")]
struct Edition {
    name: String,
    pack: toml::Table,
    params: toml::Table,
}

/// `editions/2025.toml` → `2025`.
#[cfg(feature = "authoring")]
fn edition_name(path: &str) -> Option<&str> {
    path.strip_prefix("editions/")?
        .strip_suffix(".toml")
        .filter(|n| !n.is_empty() && !n.contains('/'))
}

#[cfg(feature = "authoring")]
fn table_of(v: Option<toml::Value>, file: &str) -> Result<toml::Table, Error> {
    match v {
        None => Ok(toml::Table::new()),
        Some(toml::Value::Table(t)) => Ok(t),
        Some(_) => Err(Error::PackFile {
            file: file.to_owned(),
            message: "[pack] and [params] must be tables".into(),
        }),
    }
}

/// Merges `over` into `base`: tables key by key, anything else replaced.
#[cfg(feature = "authoring")]
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

fn bundle_syntax(e: &serde_json::Error) -> Error {
    Error::Bundle(format!("line {}, column {}: {e}", e.line(), e.column()))
}

impl PackSource {
    /// Builds a pack from its directory's files, given as `(path relative to
    /// the pack directory, contents)`. Fixture files under `tests/` are ignored.
    /// Needs the `authoring` feature (TOML parsing); bundles need none.
    ///
    /// # Errors
    /// A file that does not parse, a missing `pack.toml` or `schema.json`, or
    /// a pack with editions (read those with [`Self::editions_from_files`]).
    #[cfg(feature = "authoring")]
    pub fn from_files<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, Error> {
        let files: Vec<(&str, &str)> = files.into_iter().collect();
        if let Some((path, _)) = files.iter().find(|(p, _)| edition_name(p).is_some()) {
            return Err(Error::PackFile {
                file: (*path).to_owned(),
                message: "this pack has editions: read it with PackSource::editions_from_files".into(),
            });
        }
        Self::build(files, None)
    }

    /// Builds every edition of a pack from its directory's files: one pack
    /// per `editions/<name>.toml` (a year or policy window), each the pack's
    /// files with the edition's `[pack]` table merged into `pack.toml` and
    /// its `[params]` into `params.toml` (tables merge key by key; any other
    /// value is replaced). A pack without editions gives itself. The scripts
    /// are the same for every edition: a new year is a new file of numbers.
    ///
    /// # Errors
    /// As [`Self::from_files`], and an edition file with other tables.
    #[cfg(feature = "authoring")]
    pub fn editions_from_files<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Vec<Self>, Error> {
        let files: Vec<(&str, &str)> = files.into_iter().collect();
        let mut editions: Vec<(&str, &str, &str)> = files.iter().filter_map(|(p, t)| Some((edition_name(p)?, *p, *t))).collect();
        if editions.is_empty() {
            return Ok(vec![Self::build(files, None)?]);
        }
        editions.sort_unstable();
        editions
            .into_iter()
            .map(|(name, path, text)| {
                let mut table: toml::Table = parse_toml(path, text)?;
                if let Some(other) = table.keys().find(|k| !matches!(k.as_str(), "pack" | "params")) {
                    return Err(Error::PackFile {
                        file: path.to_owned(),
                        message: format!("an edition holds [pack] and [params] only, not [{other}]"),
                    });
                }
                let edition = Edition {
                    name: name.to_owned(),
                    pack: table_of(table.remove("pack"), path)?,
                    params: table_of(table.remove("params"), path)?,
                };
                Self::build(files.iter().copied(), Some(edition))
            })
            .collect()
    }

    #[cfg(feature = "authoring")]
    fn build<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>, edition: Option<Edition>) -> Result<Self, Error> {
        let mut manifest = None;
        let mut schema = None;
        let mut params = Value::Object(serde_json::Map::new());
        let mut messages = BTreeMap::new();
        let mut labels = Labels::default();
        let mut label_files = Vec::new();
        let mut libs: Vec<Script> = Vec::new();
        let mut derive = None;
        let mut rules = Vec::new();
        let mut batch = Vec::new();
        let mut columns = None;
        for (path, text) in files {
            let path = path.replace('\\', "/");
            match path.as_str() {
                "pack.toml" => {
                    let mut t: toml::Table = parse_toml(&path, text)?;
                    if let Some(e) = &edition {
                        merge(&mut t, e.pack.clone());
                    }
                    manifest = Some(toml::Value::Table(t).try_into::<Manifest>().map_err(|e| {
                        Error::PackFile {
                            file: edition
                                .as_ref()
                                .map_or_else(|| path.clone(), |ed| format!("pack.toml with editions/{}.toml", ed.name)),
                            message: e.to_string(),
                        }
                    })?);
                }
                "schema.json" => {
                    schema = Some(serde_json::from_str(text).map_err(|e| Error::PackFile {
                        file: path.clone(),
                        message: e.to_string(),
                    })?);
                }
                "params.toml" => {
                    let mut t: toml::Table = parse_toml(&path, text)?;
                    if let Some(e) = &edition {
                        merge(&mut t, e.params.clone());
                    }
                    params = toml_to_json(toml::Value::Table(t));
                }
                "messages.toml" => messages = parse_toml(&path, text)?,
                p if p == "labels.toml" || (p.starts_with(SHARED) && p.ends_with(".toml")) => {
                    labels
                        .merge(parse_toml(&path, text)?)
                        .map_err(|message| Error::PackFile { file: path.clone(), message })?;
                    label_files.push(path.clone());
                }
                "columns.toml" => {
                    let t: toml::Table = parse_toml(&path, text)?;
                    columns = Some(toml_to_json(toml::Value::Table(t)));
                }
                // Its own library, or an imported one (`shared/yizhen_week/lib.rhai`).
                p if p == "lib.rhai" || (p.starts_with(SHARED) && p.ends_with("/lib.rhai")) => libs.push(Script {
                    file: path,
                    source: text.to_owned(),
                }),
                "derive.rhai" => {
                    derive = Some(Script {
                        file: path,
                        source: text.to_owned(),
                    })
                }
                p if p.starts_with("rules/") && p.ends_with(".rhai") => rules.push(Script {
                    file: path,
                    source: text.to_owned(),
                }),
                p if p.starts_with("batch/") && p.ends_with(".rhai") => batch.push(Script {
                    file: path,
                    source: text.to_owned(),
                }),
                p if p.starts_with(SHARED) && p.ends_with(".rhai") => rules.push(Script {
                    file: path,
                    source: text.to_owned(),
                }),
                _ => {}
            }
        }
        rules.sort_by(|a, b| a.file.cmp(&b.file));
        batch.sort_by(|a, b| a.file.cmp(&b.file));
        let manifest = manifest.ok_or_else(|| Error::PackFile {
            file: "pack.toml".into(),
            message: "missing".into(),
        })?;
        let schema = schema.ok_or_else(|| Error::PackFile {
            file: "schema.json".into(),
            message: "missing".into(),
        })?;
        if let [_, second, ..] = libs.as_slice() {
            return Err(Error::PackFile {
                file: second.file.clone(),
                message: "a pack has one library: its own lib.rhai or one imported lib.rhai, not both".into(),
            });
        }
        let lib = libs.pop();
        // Exactly the shared rules, library and vocabularies the manifest imports.
        let shared: Vec<&str> = rules
            .iter()
            .chain(&lib)
            .map(|r| r.file.as_str())
            .chain(label_files.iter().map(String::as_str))
            .filter_map(|f| f.strip_prefix(SHARED))
            .collect();
        if let Some(missing) = manifest.imports.iter().find(|i| !shared.contains(&i.as_str())) {
            return Err(Error::PackFile {
                file: "pack.toml".into(),
                message: format!("imports {missing:?}, but rules/_shared/{missing} was not found"),
            });
        }
        if let Some(extra) = shared.iter().find(|s| !manifest.imports.iter().any(|i| i == *s)) {
            return Err(Error::PackFile {
                file: format!("{SHARED}{extra}"),
                message: "a shared file that pack.toml does not import".into(),
            });
        }
        Ok(Self {
            format: BUNDLE_FORMAT.to_owned(),
            manifest,
            edition: edition.map(|e| e.name),
            schema,
            params,
            messages,
            labels,
            lib,
            derive,
            rules,
            batch,
            columns,
            hash: String::new(),
        }
        .seal())
    }

    /// Reads a bundle and checks its hash.
    pub fn from_bundle_json(text: &str) -> Result<Self, Error> {
        serde_json::from_str::<Self>(text).map_err(|e| bundle_syntax(&e))?.checked()
    }

    /// A parsed bundle whose format tag and hash are right.
    fn checked(self) -> Result<Self, Error> {
        let bundle = self;
        if bundle.format != BUNDLE_FORMAT {
            return Err(Error::Bundle(format!("unknown format {:?}, expected {BUNDLE_FORMAT:?}", bundle.format)));
        }
        let stated = bundle.hash.clone();
        let sealed = bundle.seal();
        if sealed.hash != stated {
            return Err(Error::Bundle(format!(
                "content hash is {} but the bundle says {stated}; it was edited or damaged",
                sealed.hash
            )));
        }
        Ok(sealed)
    }

    /// Reads one bundle, or a JSON array of bundles (what the server serves
    /// at `/bundles/all.json`), checking each hash.
    pub fn bundles_from_json(text: &str) -> Result<Vec<Self>, Error> {
        // Parsed once, straight into bundles (the browser does this at start-up).
        if text.trim_start().starts_with('[') {
            let bundles: Vec<Self> = serde_json::from_str(text).map_err(|e| bundle_syntax(&e))?;
            bundles.into_iter().map(Self::checked).collect()
        } else {
            Ok(vec![Self::from_bundle_json(text)?])
        }
    }

    /// The JSON array of several bundles, as [`Self::bundles_from_json`] reads it.
    #[must_use]
    pub fn bundles_to_json(packs: &[Self]) -> String {
        serde_json::to_string(packs).unwrap_or_default()
    }

    /// Computes the content hash over the canonical serialisation.
    #[must_use]
    pub fn seal(mut self) -> Self {
        self.hash.clear();
        let canonical = serde_json::to_vec(&self).unwrap_or_default();
        let digest = Sha256::digest(&canonical);
        let mut hex = String::with_capacity(71);
        hex.push_str("sha256:");
        for b in digest {
            hex.push_str(&format!("{b:02x}"));
        }
        self.hash = hex;
        self
    }

    /// The bundle file contents (pretty-printed, hash included).
    #[must_use]
    pub fn to_bundle_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}
