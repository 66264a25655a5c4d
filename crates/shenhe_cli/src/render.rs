//! The text format of `shenhe check`: a zh-CN/English listing for people.

use std::fmt::Write;

use owo_colors::OwoColorize;
use shenhe::{Report, RuleSet, Severity, Status, sheet::SourceMap};

fn paint(s: &str, color: bool, f: impl Fn(&str) -> String) -> String {
    if color { f(s) } else { s.to_owned() }
}

/// Renders one report.
pub fn text(source: &str, report: &Report, cells: Option<&SourceMap>, color: bool, rules: &RuleSet) -> String {
    let mut out = String::new();
    let status = match report.status {
        Status::Accepted => paint("accepted 通过", color, |s| s.green().bold().to_string()),
        Status::NeedsExplanation => paint("needs_explanation 需上报说明", color, |s| s.yellow().bold().to_string()),
        Status::Rejected => paint("rejected 退回", color, |s| s.red().bold().to_string()),
    };
    let pack = report
        .pack
        .as_ref()
        .map_or_else(|| "no pack 无适用规则包".to_owned(), |p| format!("{} v{}", p.id, p.version));
    let _ = writeln!(out, "{}  {pack}  {status}", paint(source, color, |s| s.bold().to_string()));
    for f in &report.findings {
        let (mark, sev) = match f.severity {
            Severity::Error => ("✗", paint("error  ", color, |s| s.red().to_string())),
            Severity::Warning => ("!", paint("warning", color, |s| s.yellow().to_string())),
            Severity::Info => ("i", paint("info   ", color, |s| s.blue().to_string())),
        };
        let explained = if f.explained { " [已说明 explained]" } else { "" };
        let mut path = if f.path.is_empty() { "/".to_owned() } else { f.path.clone() };
        if let Some(c) = cells {
            path = format!("{} {path}", c.cite(&f.path));
        }
        let _ = writeln!(out, "  {mark} {sev} {:<9} {}{explained}", f.rule, paint(&path, color, |s| s.cyan().to_string()));
        let _ = writeln!(out, "      {}", f.message);
        let _ = writeln!(out, "      {}", paint(&f.message_en, color, |s| s.dimmed().to_string()));
    }
    if !report.derived.is_empty() {
        // Each figure by its label, with its name for whoever reads the JSON.
        let labels = report.pack.as_ref().map(|p| rules.labels(&p.id));
        let _ = writeln!(out, "  派生指标 derived:");
        for (k, v) in &report.derived {
            let (zh, en) = labels.map_or((k.as_str(), k.as_str()), |l| (l.derived(k, false), l.derived(k, true)));
            let _ = writeln!(out, "      {zh} {}: {v}", paint(&format!("{en} ({k})"), color, |s| s.dimmed().to_string()));
        }
    }
    let _ = writeln!(
        out,
        "  {} error(s), {} warning(s), {} info\n",
        report.count(Severity::Error),
        report.count(Severity::Warning),
        report.count(Severity::Info)
    );
    out
}
