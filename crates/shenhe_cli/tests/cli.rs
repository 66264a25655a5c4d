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
    let o = shenhe(&["bundle", "rules/national-medical-team", "-o", out.to_str().unwrap()], None);
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
    let o = shenhe(&["bundle", "rules/national-medical-team", "-o", bundle.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let o = shenhe(&["test", "--rules", bundle.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(2), "nothing was tested, so it does not pass");
    assert!(stdout(&o).contains("bundles carry no fixtures"), "{}", stdout(&o));
    let _ = std::fs::remove_file(&bundle);
}

/// A one-rule pack in a temporary directory: T-01 fires when `n > 10`, with
/// fixtures for `n = 11` (fires) and `n = 5` (quiet), and `extra` cases.
fn mutation_pack(name: &str, extra: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shenhe-mutate-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    std::fs::create_dir_all(dir.join("tests")).unwrap();
    let files = [
        (
            "pack.toml",
            "id = \"tiny\"\nversion = \"1\"\nform = \"tiny_form\"\n[policy]\nprogram = \"p\"\nyear = 2024\nregion = \"CN\"\n[effective]\nfrom = \"2024-01-01\"\nto = \"2024-12-31\"\n",
        ),
        (
            "schema.json",
            r#"{"type":"object","required":["form","n"],"properties":{"n":{"type":"integer"}}}"#,
        ),
        ("messages.toml", "[\"T-01\"]\nzh = \"不超过10，填写为{n}\"\nen = \"at most 10, got {n}\"\n"),
        (
            "labels.toml",
            "[fields]\n\"/n\" = { zh = \"数量\", en = \"number\" }\n[rules]\n\"T-01\" = { zh = \"数量不超过10\", en = \"At most 10\" }\n",
        ),
        (
            "rules/t01.rhai",
            "//! id: T-01\n//! severity: error\n//! seed: test\nif submission.n > 10 { fail(\"/n\", #{ n: submission.n }); }\n",
        ),
    ];
    for (f, text) in files {
        std::fs::write(dir.join(f), text).unwrap();
    }
    let case = |name: &str, n: i64, fires: bool| {
        let expect = if fires {
            format!(r#"{{"findings": [{{"rule": "T-01", "path": "/n", "params": {{"n": {n}}}}}], "exact": true}}"#)
        } else {
            r#"{"findings": [], "absent": ["T-01"], "exact": true}"#.to_owned()
        };
        format!(
            r#"{{"name": "{name}", "submission": {{"form": "tiny_form", "policy": {{"program": "p", "year": 2024, "region": "CN"}}, "n": {n}}}, "expect": {expect}}}"#
        )
    };
    let mut cases = vec![case("t01/eleven_fires", 11, true), case("t01/five_passes", 5, false)];
    if extra == "boundary" {
        cases.push(case("t01/ten_passes", 10, false));
    }
    std::fs::write(dir.join("tests/t01.json"), format!("[{}]", cases.join(","))).unwrap();
    dir
}

#[test]
fn cli_test_mutate_lists_a_surviving_boundary_and_fails_below_the_score() {
    let dir = mutation_pack("weak", "");
    let o = shenhe(&["test", "--rules", dir.to_str().unwrap(), "--mutate"], None);
    let out = stdout(&o);
    // `>` → `>=` survives (no case at n = 10); `10` → `11` is killed by n = 11.
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("pack tiny: 2 mutants, 1 killed, 1 survived: 50.0 %"), "{out}");
    assert!(out.contains("survived  rules/t01.rhai:4:17: `>` → `>=`"), "{out}");
    // A lower bar passes the same pack.
    let o = shenhe(&["test", "--rules", dir.to_str().unwrap(), "--mutate", "--min-score", "50"], None);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let _ = std::fs::remove_dir_all(&dir);

    // The case at the boundary kills it.
    let dir = mutation_pack("strong", "boundary");
    let o = shenhe(&["test", "--rules", dir.to_str().unwrap(), "--mutate", "tiny"], None);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("pack tiny: 2 mutants, 2 killed, 0 survived: 100.0 %"), "{out}");
    // An unknown pack id is refused, not a silent pass.
    let o = shenhe(&["test", "--rules", dir.to_str().unwrap(), "--mutate", "no-such-pack"], None);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn cli_diff_shows_what_a_new_threshold_changes() {
    // The new rules need teams of 7: the six-member team starts failing NT-01,
    // and the four-member team (rejected for other reasons too) keeps failing it.
    // A copy of the pack beside a copy of the shared library it imports.
    let copy = std::env::temp_dir().join(format!("shenhe-diff-new-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    let new = copy.join("national-medical-team-2024");
    copy_dir(&root().join("rules/national-medical-team"), &new);
    copy_dir(&root().join("rules/_shared"), &copy.join("_shared"));
    let params = std::fs::read_to_string(new.join("params.toml")).unwrap();
    assert!(params.contains("min_team_size = 5"));
    std::fs::write(new.join("params.toml"), params.replace("min_team_size = 5", "min_team_size = 7")).unwrap();
    let inputs = ["tests/samples/nt-team-ok.json", "tests/samples/nt-team-four-members.json"];
    let old = "rules/national-medical-team";
    let mut args = vec!["diff", "--old", old, "--new", new.to_str().unwrap()];
    args.extend(inputs);
    let o = shenhe(&args, None);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("2 submissions judged by both rule sets; 1 change status"), "{out}");
    assert!(out.contains("accepted → rejected: 1   e.g. tests/samples/nt-team-ok.json"), "{out}");
    // The four-member team's NT-01 stays (the same rule, severity and path).
    assert!(out.contains("NT-01: +1 −0"), "{out}");
    assert!(
        out.contains("+ tests/samples/nt-team-ok.json /members: 每支国家医疗队不少于7人，本队6人（NT-01）"),
        "{out}"
    );
    // The page for a reviewer says the same.
    args.extend(["--format", "html"]);
    let o = shenhe(&args, None);
    let page = stdout(&o);
    assert!(
        page.starts_with("<!doctype html>") && page.contains("<td>NT-01</td><td>1</td><td>0</td>"),
        "{page}"
    );
    // The same rules on both sides change nothing.
    let mut same = vec!["diff", "--old", old, "--new", old];
    same.extend(inputs);
    let o = shenhe(&same, None);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("0 change status"));
    // stdin cannot be read twice.
    let o = shenhe(&["diff", "--old", old, "--new", old, "-"], Some(""));
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read stdin"));
    let _ = std::fs::remove_dir_all(&copy);
}

#[test]
fn cli_diff_reads_a_servers_stored_submissions() {
    let db = std::env::temp_dir().join(format!("shenhe-diff-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&db);
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("CREATE TABLE submissions (id INTEGER PRIMARY KEY, submission TEXT NOT NULL);")
        .unwrap();
    for f in ["tests/samples/nt-team-ok.json", "tests/samples/nt-team-four-members.json"] {
        let text = std::fs::read_to_string(root().join(f)).unwrap();
        conn.execute("INSERT INTO submissions (submission) VALUES (?1)", [text]).unwrap();
    }
    drop(conn);
    let rules = "rules/national-medical-team";
    let o = shenhe(&["diff", "--old", rules, "--new", rules, "--db", db.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), String::from_utf8_lossy(&o.stderr));
    assert!(stdout(&o).contains("2 submissions judged by both rule sets; 0 change status"), "{}", stdout(&o));
    let _ = std::fs::remove_file(&db);
}

#[test]
fn cli_a_new_year_is_one_edition_file() {
    // The NT pack beside the shared library, with a 2025 edition added.
    let copy = std::env::temp_dir().join(format!("shenhe-editions-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    let pack = copy.join("national-medical-team");
    copy_dir(&root().join("rules/national-medical-team"), &pack);
    copy_dir(&root().join("rules/_shared"), &copy.join("_shared"));
    let y2024 = std::fs::read_to_string(pack.join("editions/2024.toml")).unwrap();
    // Every date moves a year, and the 2025 notice asks for teams of seven.
    let y2025 = y2024.replace("2024", "2025");
    std::fs::write(pack.join("editions/2025.toml"), format!("{y2025}min_team_size = 7\n")).unwrap();
    // The fixtures run once, each case against the edition its policy picks.
    let o = shenhe(&["test", "--rules", pack.to_str().unwrap()], None);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("pack national-medical-team-2024, national-medical-team-2025 (editions 2024, 2025)"),
        "{out}"
    );
    // A 2025 submission is judged by the 2025 edition, and its report says so.
    let mut sub: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(root().join("tests/samples/nt-team-ok.json")).unwrap()).unwrap();
    sub["policy"]["year"] = serde_json::json!(2025);
    let o = shenhe(&["check", "--rules", pack.to_str().unwrap(), "-"], Some(&sub.to_string()));
    let report: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(report["pack"]["id"], "national-medical-team-2025", "{report}");
    assert_eq!(report["pack"]["edition"], "2025");
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "NT-01" && f["params"]["min"] == 7),
        "{report}"
    );
    // One bundle file holds both editions.
    let bundle = copy.join("nt.bundle.json");
    let o = shenhe(&["bundle", pack.to_str().unwrap(), "-o", bundle.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let o = shenhe(&["packs", "--rules", bundle.to_str().unwrap()], None);
    assert!(
        stdout(&o).contains("national-medical-team-2024 v1 edition 2024") && stdout(&o).contains("national-medical-team-2025 v1 edition 2025"),
        "{}",
        stdout(&o)
    );
    let _ = std::fs::remove_dir_all(&copy);
}

#[test]
fn cli_test_fails_a_field_without_a_label_and_a_message_that_shows_a_field_name() {
    let dir = mutation_pack("labels", "");
    let o = shenhe(&["test", "--rules", dir.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("ok   messages: "), "{}", stdout(&o));
    // A field the catalogue does not name, and a message that names the field raw.
    std::fs::write(
        dir.join("schema.json"),
        r#"{"type":"object","required":["form","n"],"properties":{"n":{"type":"integer"},"level":{"enum":["county"]}}}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("messages.toml"),
        "[\"T-01\"]\nzh = \"字段n不超过10，填写为{n}\"\nen = \"n at most 10, got {n}\"\n",
    )
    .unwrap();
    let o = shenhe(&["test", "--rules", dir.to_str().unwrap()], None);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("FAIL labels: labels.toml [fields] has no label for the form's field \"/level\""),
        "{out}"
    );
    assert!(out.contains("FAIL labels: labels.toml [codes] has no label for \"county\""), "{out}");
    assert!(out.contains("FAIL message T-01 shows the raw zh: n"), "{out}");
    assert!(out.contains("FAIL message T-01 shows the raw en: n"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cli_test_coverage_names_the_lines_no_case_runs() {
    let dir = mutation_pack("coverage", "");
    // A second branch that no fixture reaches (n is never above 1000).
    std::fs::write(
        dir.join("rules/t01.rhai"),
        "//! id: T-01\n//! severity: error\n//! seed: test\nif submission.n > 10 {\n    fail(\"/n\", #{ n: submission.n });\n}\nif submission.n > 1000 {\n    fail(\"/n\", #{ n: submission.n });\n}\n",
    )
    .unwrap();
    let o = shenhe(&["test", "--rules", dir.to_str().unwrap(), "--coverage"], None);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("pack tiny: 3 of 4 lines (75.0 %)"), "{out}");
    assert!(out.contains("rules/t01.rhai") && out.contains("3/4") && out.contains("not run: 8"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
