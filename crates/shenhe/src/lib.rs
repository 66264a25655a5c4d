//! shenhe (审核): a forms-and-rules engine.
//!
//! A rule pack (JSON Schema + parameters + Rhai scripts + messages) is
//! compiled once into a [`RuleSet`]; each submission then evaluates into a
//! deterministic [`Report`] with the same bytes natively and in wasm.
//!
//! The core does no I/O: no files, no network, no clock, no randomness.
//! Hosts hand it pack files and submissions.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod batch;
mod batch_rules;
mod compile;
mod compiled;
#[cfg(feature = "coverage")]
pub mod coverage;
pub mod division;
pub mod document;
mod engine;
mod error;
mod evaluate;
mod finding;
pub mod fixtures;
mod fold;
pub mod helpers;
pub mod input;
pub mod labels;
pub mod mutate;
pub mod pack;
pub mod pointer;
pub mod report;
mod ruleset;
mod schema;
pub mod sheet;

pub use batch_rules::{BATCH_ITEMS_PER_RECORD, BATCH_OPS_PER_RECORD, BATCH_TEXT_PER_RECORD};
pub use compile::{CompileOptions, CompiledPack, RuleMeta};
pub use error::Error;
pub use finding::MessageAudit;
pub use pack::{Manifest, PackSource};
pub use report::{Finding, Report, Severity, Status};
pub use ruleset::RuleSet;
