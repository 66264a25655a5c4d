//! The `shenhe` binary end to end: exit codes, formats, errors, bundles.
#![allow(clippy::disallowed_methods, reason = "tests write temporary input files")]

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shenhe(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shenhe"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Feed stdin from a thread, so a long input cannot deadlock against the
    // child's full stdout pipe.
    let mut pipe = child.stdin.take().unwrap();
    let text = stdin.unwrap_or_default().to_owned();
    let writer = std::thread::spawn(move || pipe.write_all(text.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn cli_check_valid_file_prints_one_report_and_exits_0() {
    let o = shenhe(&["check", "tests/samples/nt-team-ok.json"], None);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 1);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["status"], "accepted");
    assert_eq!(report["derived"]["team_size"], 6);
}

#[test]
fn cli_check_error_findings_exit_1_and_text_lists_them() {
    let o = shenhe(&["check", "--format", "text", "tests/samples/nt-team-four-members.json"], None);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("NT-01") && out.contains("每支国家医疗队不少于5人，本队4人（NT-01）"), "{out}");
    assert!(out.contains("A national medical team needs at least 5 members"), "{out}");
    assert!(!out.contains("\u{1b}["), "no colour when not a terminal");
}

#[test]
fn cli_check_several_files_and_stdin_print_ndjson() {
    let o = shenhe(&["check", "tests/samples/nt-team-ok.json", "tests/samples/nt-team-four-members.json"], None);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o).lines().count(), 2);
    let one = std::fs::read_to_string(root().join("tests/samples/nt-team-ok.json")).unwrap();
    let line: serde_json::Value = serde_json::from_str(&one).unwrap();
    let stream = format!("{line}\n\n{line}\n");
    let o = shenhe(&["check", "-"], Some(&stream));
    assert_eq!(o.status.code(), Some(0));
    let lines: Vec<_> = stdout(&o).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0], lines[1]);
}

#[test]
fn cli_check_json_syntax_error_names_file_line_and_column() {
    let dir = std::env::temp_dir().join(format!("shenhe-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\n  \"form\": \"national_medical_team\",\n  \"members\": [1, 2,]\n}\n").unwrap();
    let o = shenhe(&["check", bad.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.json:3:20"), "{err}");
    let o = shenhe(&["check", "-"], Some("{\"form\": 1}\nnot json\n"));
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("-:2:"), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(stdout(&o).lines().count(), 1, "the good line is still reported");
}

#[test]
fn cli_usage_problems_exit_2() {
    assert_eq!(shenhe(&["check"], None).status.code(), Some(2));
    assert_eq!(
        shenhe(&["check", "--rules", "no/such/dir", "tests/samples/nt-team-ok.json"], None)
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        shenhe(&["check", "--pack", "nope", "tests/samples/nt-team-ok.json"], None).status.code(),
        Some(2)
    );
    assert_eq!(shenhe(&["check", "tests/samples/missing.json"], None).status.code(), Some(2));
    for garbage in ["", "null", "[]", "\"x\"", "{\"form\": {\"a\": 1}, \"policy\": 7}"] {
        let o = shenhe(&["check", "-"], Some(&format!("{garbage}\n")));
        assert!(matches!(o.status.code(), Some(0..=2)), "{garbage}: {o:?}");
    }
}

#[test]
fn cli_bundle_round_trips_with_the_same_hash() {
    let dir = std::env::temp_dir().join(format!("shenhe-bundle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("nt.bundle.json");
    let o = shenhe(&["bundle", "rules/national-medical-team-2024", "-o", out.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let from_dir = shenhe(&["check", "tests/samples/nt-team-four-members.json"], None);
    let from_bundle = shenhe(&["check", "--rules", out.to_str().unwrap(), "tests/samples/nt-team-four-members.json"], None);
    assert_eq!(stdout(&from_dir), stdout(&from_bundle));
    assert!(stdout(&from_bundle).contains("\"hash\":\"sha256:"));
}

#[test]
fn cli_test_runs_every_fixture() {
    let o = shenhe(&["test"], None);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.lines().last().unwrap().ends_with("passed, 0 failed"), "{out}");
}

#[test]
fn cli_check_long_ndjson_keeps_input_order_across_workers() {
    // More lines than one round (512), judged on every core: reports must come
    // out in input order, blank lines skipped, a bad line reported by number.
    let ok = std::fs::read_to_string(root().join("tests/samples/nt-team-ok.json")).unwrap();
    let four = std::fs::read_to_string(root().join("tests/samples/nt-team-four-members.json")).unwrap();
    let (ok, four) = (
        ok.split_whitespace().collect::<Vec<_>>().join(" "),
        four.split_whitespace().collect::<Vec<_>>().join(" "),
    );
    let mut input = String::new();
    for i in 0..1100 {
        match i {
            700 => input.push_str("{not json\n"),
            300 | 900 => input.push('\n'),
            _ if i % 3 == 0 => input.push_str(&format!("{four}\n")),
            _ => input.push_str(&format!("{ok}\n")),
        }
    }
    let out = shenhe(&["check", "-"], Some(&input));
    assert_eq!(out.status.code(), Some(2), "a bad line makes the exit code 2");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("-:701:"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: Vec<serde_json::Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let expected: Vec<bool> = (0..1100).filter(|i| ![300, 700, 900].contains(i)).map(|i| i % 3 == 0).collect();
    assert_eq!(reports.len(), expected.len());
    for (k, (r, rejected)) in reports.iter().zip(expected).enumerate() {
        assert_eq!(r["status"] == "rejected", rejected, "report {k} is out of order");
    }
}

#[test]
fn cli_export_writes_brotli_and_gzip_beside_each_file() {
    let out = std::env::temp_dir().join(format!("shenhe-export-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let o = shenhe(&["export", "--rules", "rules", "--out", out.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let plain = std::fs::read(out.join("bundles/national-medical-team-2024.json")).unwrap();
    let br = std::fs::read(out.join("bundles/national-medical-team-2024.json.br")).unwrap();
    let gz = std::fs::read(out.join("bundles/national-medical-team-2024.json.gz")).unwrap();
    let mut from_br = Vec::new();
    brotli::BrotliDecompress(&mut &br[..], &mut from_br).unwrap();
    let mut from_gz = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut from_gz).unwrap();
    assert!(from_br == plain && from_gz == plain, "both decode to the bundle");
    assert!(
        br.len() < gz.len() && gz.len() * 3 < plain.len(),
        "{} → br {} / gz {}",
        plain.len(),
        br.len(),
        gz.len()
    );
    for rel in ["bundles/all.json", "packs/index.json", "packs/national-medical-team-2024.json"] {
        assert!(out.join(format!("{rel}.br")).is_file() && out.join(format!("{rel}.gz")).is_file(), "{rel}");
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn cli_test_on_a_bundle_refuses_with_exit_2() {
    let bundle = std::env::temp_dir().join(format!("shenhe-test-bundle-{}.json", std::process::id()));
    let o = shenhe(&["bundle", "rules/national-medical-team-2024", "-o", bundle.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let o = shenhe(&["test", "--rules", bundle.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(2), "nothing was tested, so it does not pass");
    assert!(stdout(&o).contains("bundles carry no fixtures"), "{}", stdout(&o));
    let _ = std::fs::remove_file(&bundle);
}
