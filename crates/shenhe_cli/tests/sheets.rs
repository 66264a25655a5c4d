//! County spreadsheets through `shenhe check`: cell-precise findings, the
//! batch report with cross-record rules, the HTML summary, and clear errors
//! for broken sheets.
#![allow(clippy::disallowed_methods, reason = "tests write temporary spreadsheets")]

mod support {
    pub mod sheetgen;
}

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use serde_json::Value;
use support::sheetgen::{Cell, csv_text, nt_rows, qz_rows, s, write_xlsx};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shenhe-sheets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn shenhe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shenhe")).args(args).current_dir(root()).output().unwrap()
}

fn lines(o: &Output) -> Vec<Value> {
    String::from_utf8(o.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn finding<'a>(report: &'a Value, rule: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == rule)
        .unwrap_or_else(|| panic!("no {rule} in {report}"))
}

#[test]
fn sheets_xlsx_findings_cite_the_cells_and_batch_rules_run() {
    // Team T0000 has 4 members (NT-01); T0001 comes from the same hospital
    // as T0000 (NT-15 in the batch report).
    let mut rows = nt_rows(2, 5);
    rows.remove(2 + 4); // the 5th member of team 0: rows 3..7 → 3..6
    for r in rows.iter_mut().skip(2) {
        if let Cell::S(h) = &r[2]
            && h == "委属医院0001"
        {
            r[2] = s("委属医院0000");
        }
    }
    let xlsx = tmp("teams.xlsx");
    write_xlsx(&xlsx, "Sheet1", &rows, &[]);
    let batch = tmp("teams-batch.json");
    let o = shenhe(&["check", "--batch-report", batch.to_str().unwrap(), xlsx.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    let reports = lines(&o);
    assert_eq!(reports.len(), 2);
    assert!(
        reports[0]["source"].as_str().unwrap().ends_with("teams.xlsx Sheet1!3:6"),
        "{}",
        reports[0]["source"]
    );
    assert_eq!(reports[0]["key"], "T0000");
    let nt01 = finding(&reports[0], "NT-01");
    assert_eq!(nt01["path"], "/members");
    assert_eq!(nt01["cell"], "Sheet1!F3:J6", "the member columns of the team's rows");
    // Excel dates arrive as civil dates: the 2 sites give 7 + 14 days.
    assert_eq!(reports[0]["derived"]["total_days"], 21);
    assert_eq!(reports[1]["status"], "needs_explanation", "NT-15 is in the batch report, not in the team's own");
    let b: Value = serde_json::from_str(&std::fs::read_to_string(&batch).unwrap()).unwrap();
    assert_eq!(b["format"], "shenhe-batch/1");
    assert_eq!(b["submissions"], 2);
    let nt15 = b["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "NT-15" && f["severity"] == "error")
        .unwrap();
    assert_eq!(nt15["record"], 1);
    assert_eq!(nt15["path"], "/dispatching_hospital/name");
    assert_eq!(nt15["cell"], "Sheet1!C7");
    assert_eq!(b["packs"][0]["sum"]["team_size"], 9);
}

#[test]
fn sheets_text_in_a_number_cell_is_a_schema_finding_at_that_cell() {
    let mut rows = qz_rows(&["南埔镇卫生院"], 2);
    rows[4][11] = s("六十"); // L5: 门诊人次 of the second doctor in month 2
    let xlsx = tmp("monthly.xlsx");
    write_xlsx(&xlsx, "月报", &rows, &[]);
    let o = shenhe(&["check", xlsx.to_str().unwrap()]);
    let reports = lines(&o);
    assert_eq!(reports.len(), 2, "{}", err(&o));
    assert_eq!(reports[0]["status"], "accepted", "{}", reports[0]);
    let schema = finding(&reports[1], "SCHEMA");
    assert_eq!(schema["path"], "/doctors/1/outpatient_visits");
    assert_eq!(schema["cell"], "月报!L5");
    assert_eq!(schema["severity"], "error");
}

#[test]
fn sheets_csv_in_gbk_reads_like_utf8_and_registry_drives_coverage() {
    let rows = qz_rows(&["南埔镇卫生院", "山腰街道社区卫生服务中心"], 3);
    let text = csv_text(&rows);
    let utf8 = tmp("monthly-utf8.csv");
    std::fs::write(&utf8, &text).unwrap();
    let (gbk_bytes, _, _) = encoding_rs::GB18030.encode(&text);
    let gbk = tmp("monthly-gbk.csv");
    std::fs::write(&gbk, &gbk_bytes).unwrap();
    let a = shenhe(&["check", utf8.to_str().unwrap()]);
    let b = shenhe(&["check", gbk.to_str().unwrap()]);
    assert_eq!(a.status.code(), Some(0), "{}", err(&a));
    assert_eq!(b.status.code(), Some(0), "the GBK file reads: {}", err(&b));
    // The same reports but for the file name they cite: every row, every
    // finding and figure, and the recipients' Chinese names decoded.
    let without_source = |o: &Output| {
        lines(o)
            .into_iter()
            .map(|mut v| {
                v.as_object_mut().unwrap().remove("source");
                v.to_string().replace("monthly-gbk.csv", "monthly-utf8.csv")
            })
            .collect::<Vec<_>>()
    };
    let (ra, rb) = (without_source(&a), without_source(&b));
    assert_eq!(ra.len(), 6);
    assert_eq!(rb, ra, "GBK and UTF-8 give the same reports");
    assert!(rb.iter().any(|r| r.contains("南埔镇卫生院")), "the Chinese names come through the GBK decoding");
    let registry = tmp("registry.csv");
    std::fs::write(
        &registry,
        "区划代码,机构名称,机构类别\n350505100000,南埔镇卫生院,C210\n350505101000,山腰街道社区卫生服务中心,B100\n350505102000,界山镇卫生院,C210\n",
    )
    .unwrap();
    let batch = tmp("coverage.json");
    let o = shenhe(&[
        "check",
        "--registry",
        registry.to_str().unwrap(),
        "--batch-report",
        batch.to_str().unwrap(),
        utf8.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "warnings only: {}", err(&o));
    let b: Value = serde_json::from_str(&std::fs::read_to_string(&batch).unwrap()).unwrap();
    let qz03: Vec<&Value> = b["findings"].as_array().unwrap().iter().filter(|f| f["rule"] == "QZ-03").collect();
    assert_eq!(qz03.len(), 1, "{b}");
    assert_eq!(qz03[0]["params"]["institution"], "界山镇卫生院");
    assert_eq!(qz03[0]["params"]["covered"], 2);
    assert!(
        b["findings"].as_array().unwrap().iter().all(|f| f["rule"] != "QZ-06"),
        "3 months each, none missing"
    );
}

#[test]
fn sheets_missing_column_is_refused_naming_sheet_and_header() {
    let mut rows = nt_rows(1, 5);
    for r in &mut rows[1..] {
        r.remove(2); // 派出医院
    }
    let xlsx = tmp("no-hospital.xlsx");
    write_xlsx(&xlsx, "队伍表", &rows, &[]);
    let o = shenhe(&["check", xlsx.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = err(&o);
    assert!(e.contains("队伍表") && e.contains("派出医院") && e.contains("row 2"), "{e}");
    assert!(o.stdout.is_empty());
}

#[test]
fn sheets_merged_data_cells_are_refused_naming_the_range() {
    let rows = nt_rows(1, 5);
    let xlsx = tmp("merged.xlsx");
    // The title row may be merged; the team number merged over rows 3–7 may not.
    write_xlsx(&xlsx, "Sheet1", &rows, &[(0, 0, 0, 10), (2, 0, 6, 0)]);
    let o = shenhe(&["check", xlsx.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = err(&o);
    assert!(e.contains("Sheet1!A3:A7") && e.contains("合并单元格"), "{e}");
}

#[test]
fn sheets_corrupt_workbook_is_refused_naming_the_file() {
    let xlsx = tmp("broken.xlsx");
    std::fs::write(&xlsx, b"PK\x03\x04 this is not really a zip").unwrap();
    let o = shenhe(&["check", xlsx.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = err(&o);
    assert!(e.contains("broken.xlsx") && e.contains("not a readable .xlsx"), "{e}");
}

#[test]
fn sheets_html_summary_is_self_contained() {
    let xlsx = tmp("summary.xlsx");
    write_xlsx(&xlsx, "Sheet1", &nt_rows(6, 5), &[]);
    let o = shenhe(&["check", "--format", "html", xlsx.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "the teams need explanations, none is rejected: {}", err(&o));
    let html = String::from_utf8(o.stdout).unwrap();
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.matches("<svg").count() >= 2, "charts per rule and per jurisdiction");
    assert!(!html.contains("<script") && !html.contains("<link"), "no script, no external stylesheet");
    let without_xmlns = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert!(!without_xmlns.contains("http://") && !without_xmlns.contains("https://"), "nothing fetched");
    assert!(html.contains("NT-15") && html.contains("批量审核汇总"));
}

#[test]
fn sheets_empty_files_and_blank_keys_are_handled_as_a_clerk_expects() {
    let empty = tmp("empty.csv");
    std::fs::write(&empty, "").unwrap();
    let o = shenhe(&["check", empty.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("empty.csv: the file has no rows"), "{}", err(&o));

    let rows = nt_rows(1, 5);
    let headers = tmp("headers.csv");
    std::fs::write(&headers, csv_text(&rows[..2])).unwrap();
    let o = shenhe(&["check", headers.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stdout.is_empty());
    assert!(err(&o).contains("has the header row but no data rows"), "{}", err(&o));

    // The team number only on the team's first row: the blank rows below continue it.
    let mut rows = nt_rows(2, 5);
    for r in rows.iter_mut().skip(2) {
        if !matches!(&r[1], Cell::S(stage) if stage == "方案") {
            r[0] = Cell::E;
        }
    }
    let blank = tmp("blank-keys.csv");
    std::fs::write(&blank, csv_text(&rows)).unwrap();
    let o = shenhe(&["check", blank.to_str().unwrap()]);
    let reports = lines(&o);
    assert_eq!(reports.len(), 2, "{}", err(&o));
    assert_eq!(reports[0]["derived"]["team_size"], 5);
    assert_eq!(reports[0]["key"], "T0000");
    assert!(
        reports[1]["source"].as_str().unwrap().ends_with("blank-keys.csv!8:12"),
        "{}",
        reports[1]["source"]
    );
}
