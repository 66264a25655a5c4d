//! `shenhe check --format html`: the batch summary for a health-bureau
//! official. One self-contained page: inline CSS and SVG, no script, no
//! font or CDN, so it opens from a USB stick or an e-mail attachment.

use std::{fmt::Write, path::PathBuf};

use serde_json::Value;
use shenhe::{
    RuleSet, Severity,
    batch::{BatchReport, StatusCounts},
};

/// Escapes text for HTML element content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Where the summary finds names: the packs' label catalogues (and the
/// provinces the engine ships), then the `--registry` the batch was judged
/// against (division code → name).
pub struct Names<'a> {
    pub rules: &'a RuleSet,
    pub registry: &'a std::collections::BTreeMap<String, String>,
}

/// A jurisdiction as an official reads it: `云南省（53）` where a pack, the
/// engine or the registry knows the name, else as the batch names it.
fn jurisdiction_label(names: &Names<'_>, j: &str) -> String {
    let text = names.rules.division_text(j, false);
    match names.registry.get(j) {
        Some(name) if text == j => format!("{name}（{j}）"),
        _ => text,
    }
}

/// A rule id with its title: `NT-10 县域工作点以重点县为主`.
fn rule_label(names: &Names<'_>, pack: Option<&str>, rule: &str) -> String {
    names
        .rules
        .rule_title(pack, rule, false)
        .map_or_else(|| rule.to_owned(), |t| format!("{rule} {t}"))
}

fn severity_zh(s: Severity) -> &'static str {
    match s {
        Severity::Error => "错误",
        Severity::Warning => "核实",
        Severity::Info => "提示",
    }
}

const RED: &str = "#c0392b";
const AMBER: &str = "#d68910";
const BLUE: &str = "#2e86c1";
const GREEN: &str = "#1e8449";

fn color(s: Severity) -> &'static str {
    match s {
        Severity::Error => RED,
        Severity::Warning => AMBER,
        Severity::Info => BLUE,
    }
}

/// A horizontal bar chart: one row per `(label, [(value, colour)])`, bars stacked.
/// At most `max` characters, the rest as `…` (a chart label; the whole
/// text is its tooltip).
fn shortened(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        s.chars().take(max - 1).chain(['…']).collect()
    }
}

fn bars(title: &str, rows: &[(String, Vec<(u64, &'static str)>)]) -> String {
    let max = rows
        .iter()
        .map(|(_, parts)| parts.iter().map(|(v, _)| v).sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let (label_w, bar_w, row_h) = (330.0, 420.0, 24.0);
    #[allow(clippy::cast_precision_loss, reason = "chart geometry")]
    let height = row_h * rows.len() as f64 + 8.0;
    let mut svg = format!(
        "<svg role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {w} {height}\" width=\"{w}\" height=\"{height}\" xmlns=\"http://www.w3.org/2000/svg\">",
        esc(title),
        w = label_w + bar_w + 70.0
    );
    for (i, (label, parts)) in rows.iter().enumerate() {
        #[allow(clippy::cast_precision_loss, reason = "chart geometry")]
        let y = row_h * i as f64 + 4.0;
        let _ = write!(
            svg,
            "<g><title>{}</title><text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"13\">{}</text></g>",
            esc(label),
            label_w - 8.0,
            y + 15.0,
            esc(&shortened(label, 24))
        );
        let mut x = label_w;
        let mut total = 0;
        for (v, c) in parts {
            #[allow(clippy::cast_precision_loss, reason = "chart geometry")]
            let w = bar_w * (*v as f64) / (max as f64);
            if *v > 0 {
                let _ = write!(
                    svg,
                    "<rect x=\"{x:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"{c}\"><title>{v}</title></rect>",
                    row_h - 6.0
                );
            }
            x += w;
            total += v;
        }
        let _ = write!(svg, "<text x=\"{:.1}\" y=\"{}\" font-size=\"12\">{total}</text>", x + 6.0, y + 15.0);
    }
    svg.push_str("</svg>");
    svg
}

fn status_line(s: &StatusCounts) -> String {
    format!(
        "<span class=\"ok\">通过 {}</span> · <span class=\"warn\">需说明 {}</span> · <span class=\"bad\">退回 {}</span>",
        s.accepted, s.needs_explanation, s.rejected
    )
}

fn figure(v: &Value) -> String {
    match v {
        Value::Null => "—".to_owned(),
        Value::Number(n) => n.to_string(),
        other => esc(&other.to_string()),
    }
}

/// The page.
pub fn summary(r: &BatchReport, files: &[PathBuf], known: &Names<'_>) -> String {
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>批量审核汇总 Batch summary — {files}</title><style>\
body{{font-family:system-ui,-apple-system,'PingFang SC','Microsoft YaHei','WenQuanYi Micro Hei',sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1c2833}}\
h1{{font-size:1.5rem}}h2{{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d5d8dc;padding-bottom:.3rem}}\
.cards{{display:flex;gap:1rem;flex-wrap:wrap}}.card{{border:1px solid #d5d8dc;border-radius:6px;padding:.7rem 1rem;min-width:9rem}}\
.card b{{display:block;font-size:1.6rem}}.ok{{color:{GREEN}}}.warn{{color:{AMBER}}}.bad{{color:{RED}}}\
table{{border-collapse:collapse;width:100%;font-size:.9rem}}th,td{{border-bottom:1px solid #eaecee;padding:.35rem .5rem;text-align:left;vertical-align:top}}\
th{{background:#f4f6f7}}td.k{{white-space:nowrap}}td.n{{text-align:right;font-variant-numeric:tabular-nums}}.en{{color:#707b7c;font-size:.85em}}\
.legend span{{margin-right:1rem}}.legend i{{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:middle}}\
@media print{{body{{margin:0}}}}</style></head><body>",
        files = esc(&names.join("、"))
    );
    let _ = write!(
        h,
        "<h1>批量审核汇总 <span class=\"en\">Batch summary</span></h1><p>文件 Files: {}</p>",
        esc(&names.join("、"))
    );
    let batch_errors = r.findings.iter().filter(|f| f.severity == Severity::Error).count();
    let _ = write!(
        h,
        "<section class=\"cards\" id=\"totals\">\
<div class=\"card\">报表 Submissions<b>{}</b></div>\
<div class=\"card ok\">通过 Accepted<b>{}</b></div>\
<div class=\"card warn\">需上报说明 Needs explanation<b>{}</b></div>\
<div class=\"card bad\">退回 Rejected<b>{}</b></div>\
<div class=\"card\">跨记录问题 Batch findings<b>{}</b></div>\
<div class=\"card\">无法读取 Unreadable<b>{}</b></div></section>",
        r.submissions,
        r.status.accepted,
        r.status.needs_explanation,
        r.status.rejected,
        r.findings.len(),
        r.unreadable
    );
    if batch_errors > 0 {
        let _ = write!(
            h,
            "<p class=\"bad\">跨记录规则发现 {batch_errors} 个错误，见下文。 {batch_errors} cross-record error(s), listed below.</p>"
        );
    }

    let legend = format!(
        "<p class=\"legend\"><span><i style=\"background:{RED}\"></i>错误 error</span><span><i style=\"background:{AMBER}\"></i>核实 warning</span><span><i style=\"background:{BLUE}\"></i>提示 info</span></p>"
    );
    let rule_rows: Vec<(String, Vec<(u64, &'static str)>)> = {
        let mut by: Vec<(String, [u64; 3])> = Vec::new();
        for c in &r.by_rule {
            let i = match c.severity {
                Severity::Error => 0,
                Severity::Warning => 1,
                Severity::Info => 2,
            };
            match by.iter_mut().find(|(rule, _)| *rule == c.rule) {
                Some((_, n)) => n[i] += c.findings,
                None => {
                    let mut n = [0; 3];
                    n[i] = c.findings;
                    by.push((c.rule.clone(), n));
                }
            }
        }
        by.into_iter()
            .map(|(rule, n)| (rule_label(known, None, &rule), vec![(n[0], RED), (n[1], AMBER), (n[2], BLUE)]))
            .collect()
    };
    let _ = write!(h, "<h2 id=\"by-rule\">按规则 Findings per rule</h2>{legend}");
    if rule_rows.is_empty() {
        h.push_str("<p>没有发现问题。 No findings.</p>");
    } else {
        h.push_str(&bars("findings per rule", &rule_rows));
    }
    let juris_rows: Vec<(String, Vec<(u64, &'static str)>)> = r
        .by_jurisdiction
        .iter()
        .map(|j| {
            (
                jurisdiction_label(known, &j.jurisdiction),
                vec![(j.status.rejected, RED), (j.status.needs_explanation, AMBER), (j.status.accepted, GREEN)],
            )
        })
        .collect();
    let _ = write!(
        h,
        "<h2 id=\"by-jurisdiction\">按地区 Submissions per jurisdiction</h2><p class=\"legend\"><span><i style=\"background:{RED}\"></i>退回 rejected</span><span><i style=\"background:{AMBER}\"></i>需说明 needs explanation</span><span><i style=\"background:{GREEN}\"></i>通过 accepted</span></p>"
    );
    h.push_str(&bars("submissions per jurisdiction", &juris_rows));
    h.push_str("<table><tr><th>地区 Jurisdiction</th><th>报表</th><th>状态 Status</th><th>错误 Errors</th><th>核实 Warnings</th></tr>");
    for j in &r.by_jurisdiction {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&jurisdiction_label(known, &j.jurisdiction)),
            j.submissions,
            status_line(&j.status),
            j.errors,
            j.warnings
        );
    }
    h.push_str("</table>");

    h.push_str("<h2 id=\"rollups\">汇总指标 Roll-ups of derived figures</h2>");
    for p in &r.packs {
        let _ = write!(
            h,
            "<h3>{} <span class=\"en\">{} v{}</span></h3><p>{} 份 submissions: {}</p><table><tr><th>指标 Figure</th><th>合计 Total</th><th>平均 Mean</th></tr>",
            esc(&p.title),
            esc(&p.id),
            esc(&p.version),
            p.submissions,
            status_line(&p.status)
        );
        let labels = known.rules.labels(&p.id);
        let name = |k: &str| format!("{} <span class=\"en\">{}</span>", esc(labels.derived(k, false)), esc(labels.derived(k, true)));
        for (k, v) in &p.sum {
            let _ = write!(h, "<tr><td>{}</td><td class=\"n\">{}</td><td></td></tr>", name(k), figure(v));
        }
        for (k, v) in &p.mean {
            let _ = write!(h, "<tr><td>{}</td><td></td><td class=\"n\">{}</td></tr>", name(k), figure(v));
        }
        h.push_str("</table>");
    }
    if r.unmatched > 0 {
        let _ = write!(
            h,
            "<p class=\"bad\">{} 份报表没有适用的规则包（PACK-NONE）。 {} submission(s) matched no pack.</p>",
            r.unmatched, r.unmatched
        );
    }

    h.push_str("<h2 id=\"batch-findings\">跨记录规则 Cross-record findings</h2>");
    if r.findings.is_empty() {
        h.push_str("<p>无。 None.</p>");
    } else {
        h.push_str("<table><tr><th>规则</th><th>级别</th><th>位置 Where</th><th>说明 Message</th></tr>");
        for f in &r.findings {
            let at = match (&f.source, &f.cell) {
                (Some(s), Some(c)) => format!("{}<br>{}", esc(s), esc(c)),
                (Some(s), None) => format!("{}<br>{}", esc(s), esc(&f.path)),
                _ => "整批 whole batch".to_owned(),
            };
            let _ = write!(
                h,
                "<tr><td class=\"k\">{}</td><td class=\"k\" style=\"color:{}\">{}</td><td>{at}</td><td>{}<div class=\"en\">{}</div></td></tr>",
                esc(&rule_label(known, Some(&f.pack), &f.rule)),
                color(f.severity),
                severity_zh(f.severity),
                esc(&f.message),
                esc(&f.message_en)
            );
        }
        h.push_str("</table>");
    }

    h.push_str("<h2 id=\"examples\">需处理的问题（前 200 条） Findings to act on (first 200)</h2>");
    if r.examples.is_empty() {
        h.push_str("<p>无。 None.</p>");
    } else {
        h.push_str("<table><tr><th>来源 Source</th><th>单元格 Cell</th><th>规则</th><th>级别</th><th>说明 Message</th></tr>");
        for e in &r.examples {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"k\">{}</td><td class=\"k\" style=\"color:{}\">{}</td><td>{}</td></tr>",
                esc(&e.source),
                esc(e.cell.as_deref().unwrap_or(&e.path)),
                esc(&e.rule),
                color(e.severity),
                severity_zh(e.severity),
                esc(&e.message)
            );
        }
        h.push_str("</table>");
    }
    let _ = write!(
        h,
        "<p class=\"en\">由 shenhe {} 生成；规则包哈希见各报表。 Made by shenhe {}; each report names its pack hash.</p></body></html>",
        env!("CARGO_PKG_VERSION"),
        env!("CARGO_PKG_VERSION")
    );
    h.push('\n');
    h
}

#[cfg(test)]
mod tests {
    use super::{esc, jurisdiction_label};

    #[test]
    fn jurisdictions_by_name_where_known() {
        let rules = shenhe::RuleSet::compile([]).unwrap();
        let registry = [("350505100000".to_owned(), "南埔镇".to_owned())].into_iter().collect();
        let names = super::Names {
            rules: &rules,
            registry: &registry,
        };
        assert_eq!(jurisdiction_label(&names, "53"), "云南省（53）");
        assert_eq!(jurisdiction_label(&names, "南埔镇卫生院"), "南埔镇卫生院");
        assert_eq!(jurisdiction_label(&names, "532600"), "532600");
        assert_eq!(
            jurisdiction_label(&names, "350505100000"),
            "南埔镇（350505100000）",
            "the registry names what the packs do not"
        );
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(esc("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }
}
