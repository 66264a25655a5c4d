//! Operational failures: things that stop a pack from loading at all.
//! An invalid *submission* is never an error; it is a report.

/// Why a pack, bundle or input could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A pack file could not be parsed.
    #[error("{file}: {message}")]
    PackFile {
        /// File relative to the pack directory.
        file: String,
        /// What was wrong.
        message: String,
    },
    /// The pack's JSON Schema is not a valid schema.
    #[error("pack {pack}: schema.json is not a valid JSON Schema: {message}")]
    Schema {
        /// Pack id.
        pack: String,
        /// What was wrong.
        message: String,
    },
    /// A Rhai script does not compile.
    #[error("pack {pack}: {file}:{line}:{column}: {message}")]
    RuleCompile {
        /// Pack id.
        pack: String,
        /// Script file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parse error, without position.
        message: String,
    },
    /// A rule header is missing or malformed.
    #[error("{file}: {message}")]
    RuleHeader {
        /// Script file.
        file: String,
        /// What was wrong.
        message: String,
    },
    /// A rule or variant has no message in `messages.toml`.
    #[error("pack {pack}: messages.toml has no entry [\"{key}\"]")]
    MissingMessage {
        /// Pack id.
        pack: String,
        /// The message key (`NT-01` or `WH-02.too_many`).
        key: String,
    },
    /// A bundle is malformed or its hash does not match.
    #[error("bundle: {0}")]
    Bundle(String),
    /// Two packs with the same id.
    #[error("two packs have the id {0}")]
    DuplicatePack(String),
    /// Input text is not JSON.
    #[error("{source_name}:{line}:{column}: invalid JSON: {message}")]
    Json {
        /// File name, `-` or `line N` of a stream.
        source_name: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// serde_json's description.
        message: String,
    },
}

impl Error {
    /// Wraps a serde_json error with where the text came from.
    #[must_use]
    pub fn json(source_name: &str, e: &serde_json::Error) -> Self {
        let msg = e.to_string();
        // serde_json appends " at line L column C"; keep the position in fields only.
        let message = msg.rsplit_once(" at line ").map_or(msg.as_str(), |(m, _)| m).to_owned();
        Self::Json {
            source_name: source_name.to_owned(),
            line: e.line(),
            column: e.column(),
            message,
        }
    }
}
