//! `shenhe serve`, over real HTTP on loopback: the API gives the CLI's
//! report bytes, every submission is stored whatever its status, bad
//! requests get a 4xx with a JSON error, and a kill -9 loses nothing that
//! was acknowledged.
//!
//! Every test runs on SQLite, and again on PostgreSQL when
//! `SHENHE_TEST_POSTGRES` names a server (`postgres://user@host:port/db`; each
//! test gets a database of its own there). `scripts/test.sh` starts a
//! throwaway cluster and runs this suite both ways.
#![allow(clippy::disallowed_methods, reason = "tests run the binary and read files")]

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{LazyLock, Mutex},
    time::Duration,
};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_shenhe");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `shenhe serve` on a free port with `db`, and waits for it to listen.
fn serve(db: &str) -> Server {
    serve_with(db, &["--max-body", "65536"])
}

/// The bearer token each test server was started with, by base URL.
static TOKENS: LazyLock<Mutex<HashMap<String, String>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

fn token_for(base: &str) -> String {
    TOKENS.lock().unwrap().get(base).cloned().unwrap_or_default()
}

/// `shenhe token add` on `db`: the token (the last line it prints).
fn add_token(db: &str, role: &str, division: &str, extra: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(["token", "add", "--db"])
        .arg(db)
        .args(["--role", role, "--division", division, "--name", "tests"])
        .args(extra)
        .output()
        .expect("shenhe token add");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().last().unwrap().to_owned()
}

fn serve_with(db: &str, extra: &[&str]) -> Server {
    // A national submitter: the tests of the API as it was before access control.
    let token = add_token(db, "submitter", "CN", &[]);
    let server = spawn_serve(db, extra);
    TOKENS.lock().unwrap().insert(server.base.clone(), token);
    server
}

/// Starts `shenhe serve` on `db` with its log on a pipe (`child.stdout`):
/// the process and its base URL.
fn spawn_logged(db: &str, extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .current_dir(root())
        .args(["serve", "--rules", "rules", "--www", "www", "--addr", "127.0.0.1:0", "--db", db])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut banner = String::new();
    BufReader::new(child.stderr.take().unwrap()).read_line(&mut banner).unwrap();
    let base = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    (child, base)
}

/// Starts `shenhe serve` on `db` as it is (no token added first).
fn spawn_serve(db: &str, extra: &[&str]) -> Server {
    let mut child = Command::new(BIN)
        .current_dir(root())
        // Warnings only: the request log of every test server would bury the test output.
        .env("RUST_LOG", "warn")
        .args(["serve", "--rules", "rules", "--addr", "127.0.0.1:0", "--db"])
        .arg(db)
        .args(if extra.contains(&"--www") { &[][..] } else { &["--www", "www"][..] })
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn shenhe serve");
    let mut line = String::new();
    BufReader::new(child.stderr.take().expect("stderr")).read_line(&mut line).expect("banner");
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .trim_end_matches('/')
        .to_owned();
    Server { child, base }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn post(base: &str, route: &str, content_type: &str, body: &str) -> (u16, String) {
    let mut r = agent()
        .post(&format!("{base}{route}"))
        .header("authorization", format!("Bearer {}", token_for(base)))
        .header("content-type", content_type)
        .send(body)
        .expect("request");
    (r.status().as_u16(), r.body_mut().with_config().limit(64 << 20).read_to_string().expect("body"))
}

fn get(base: &str, route: &str) -> (u16, String) {
    let mut r = agent()
        .get(&format!("{base}{route}"))
        .header("authorization", format!("Bearer {}", token_for(base)))
        .call()
        .expect("request");
    (r.status().as_u16(), r.body_mut().with_config().limit(64 << 20).read_to_string().expect("body"))
}

/// A fresh directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shenhe-serve-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The PostgreSQL server the suite runs on, if any (`SHENHE_TEST_POSTGRES`).
fn postgres() -> Option<String> {
    std::env::var("SHENHE_TEST_POSTGRES").ok().filter(|u| !u.is_empty())
}

/// Runs SQL on the test's PostgreSQL server (with `psql`); its output.
fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", url, "-c", sql])
        .output()
        .expect("psql");
    assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A fresh, empty store for one test: a SQLite file, or a new database on
/// the PostgreSQL server when the suite runs there.
fn temp_db(name: &str) -> String {
    match postgres() {
        Some(admin) => {
            let db = format!("shenhe_test_{}_{name}", std::process::id());
            psql(&admin, &format!("DROP DATABASE IF EXISTS {db}"));
            psql(&admin, &format!("CREATE DATABASE {db}"));
            let (server, _) = admin.rsplit_once('/').expect("a postgres:// URL with a database");
            format!("{server}/{db}")
        }
        None => temp_dir(name).join("shenhe.db").to_str().unwrap().to_owned(),
    }
}

/// How many rows a table of the test's store holds.
fn count_rows(db: &str, table: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM {table}");
    let text = if db.starts_with("postgres://") {
        psql(db, &sql)
    } else {
        let out = Command::new("python3")
            .args([
                "-c",
                "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])",
                db,
                &sql,
            ])
            .output()
            .expect("python3");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    text.parse().unwrap_or_else(|_| panic!("{table}: {text:?}"))
}

fn plan() -> String {
    std::fs::read_to_string(root().join("rules/national-medical-team/tests/base/plan.json")).unwrap()
}

#[test]
fn serve_validate_returns_the_cli_report_bytes() {
    let s = serve(&temp_db("validate"));
    for sample in ["tests/samples/nt-team-ok.json", "tests/samples/nt-team-four-members.json"] {
        let text = std::fs::read_to_string(root().join(sample)).unwrap();
        let (status, body) = post(&s.base, "/api/validate", "application/json", &text);
        assert_eq!(status, 200, "{body}");
        let cli = Command::new(BIN)
            .current_dir(root())
            .args(["check", "--rules", "rules", sample])
            .output()
            .unwrap();
        assert_eq!(body, String::from_utf8(cli.stdout).unwrap().trim_end(), "{sample}");
    }
    let (status, packs) = get(&s.base, "/api/packs");
    assert_eq!(status, 200);
    let packs: Value = serde_json::from_str(&packs).unwrap();
    assert!(packs.as_array().unwrap().iter().any(|p| p["id"] == "yizhen-week-2013-shanxi"));
}

#[test]
fn serve_stores_every_submission_with_its_report_and_the_hash_check() {
    let s = serve(&temp_db("store"));
    let (_, packs) = get(&s.base, "/api/packs");
    let packs: Value = serde_json::from_str(&packs).unwrap();
    let nt_hash = packs.as_array().unwrap().iter().find(|p| p["id"] == "national-medical-team-2024").unwrap()["hash"].clone();

    // A rejected one (a team of 3) is stored, not dropped; the client's hash matches.
    let mut team: Value = serde_json::from_str(&plan()).unwrap();
    team["members"].as_array_mut().unwrap().truncate(3);
    let body = json!({ "bundle_hash": nt_hash, "submission": team }).to_string();
    let (status, answer) = post(&s.base, "/api/submissions", "application/json", &body);
    assert_eq!(status, 201, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["status"], "rejected");
    assert_eq!(answer["bundle_hash_matches"], true);
    // A4: the server's receipt time replaces whatever the client said.
    assert_eq!(
        answer["report"]["findings"].as_array().unwrap().iter().filter(|f| f["rule"] == "NT-01").count(),
        1
    );
    let id = answer["id"].as_str().unwrap();
    assert!(id.len() == 36 && id.matches('-').count() == 4, "an opaque id (UUIDv7), not a row number: {id}");
    let (status, stored) = get(&s.base, &format!("/api/submissions/{id}"));
    assert_eq!(status, 200);
    let stored: Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(stored["status"], "rejected");
    assert_eq!(stored["report"], answer["report"]);
    assert_eq!(
        stored["received"]["submission"]["members"].as_array().unwrap().len(),
        3,
        "what was received is kept"
    );
    assert_eq!(stored["submission"]["submission"]["submitted_at"], answer["received_at"]);

    // A stale bundle is reported, never silently accepted.
    let body = json!({ "bundle_hash": "sha256:0000", "submission": serde_json::from_str::<Value>(&plan()).unwrap() }).to_string();
    let (_, answer) = post(&s.base, "/api/submissions", "application/json", &body);
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["bundle_hash_matches"], false);
    assert_eq!(answer["client_bundle_hash"], "sha256:0000");

    // A bare submission (no envelope) and one no pack matches are stored too.
    let (status, _) = post(&s.base, "/api/submissions", "application/json", &plan());
    assert_eq!(status, 201);
    let (status, answer) = post(&s.base, "/api/submissions", "application/json", r#"{"form": "nothing"}"#);
    assert_eq!(status, 201);
    assert_eq!(serde_json::from_str::<Value>(&answer).unwrap()["status"], "rejected");
}

#[test]
fn serve_bad_requests_get_a_4xx_with_a_json_error() {
    let s = serve(&temp_db("bad"));
    let cases: Vec<(&str, &str, String, u16, &str)> = vec![
        ("/api/validate", "application/json", r#"{"form": "#.to_owned(), 400, "invalid_json"),
        ("/api/validate", "text/plain", plan(), 415, "unsupported_media_type"),
        (
            "/api/submissions",
            "application/x-www-form-urlencoded",
            "a=1".to_owned(),
            415,
            "unsupported_media_type",
        ),
        (
            "/api/validate",
            "application/json",
            format!("{}{}", "[".repeat(100_000 / 2), "]".repeat(100_000 / 2)),
            413,
            "body_rejected",
        ),
        (
            "/api/validate",
            "application/json",
            format!("{}{}", "[".repeat(500), "]".repeat(500)),
            400,
            "invalid_json",
        ),
        ("/api/submissions", "application/json", "\u{feff}{}".to_owned(), 400, "invalid_json"),
    ];
    for (route, ct, body, want, code) in cases {
        let (status, answer) = post(&s.base, route, ct, &body);
        assert_eq!(status, want, "{route} {ct}: {answer}");
        let answer: Value = serde_json::from_str(&answer).unwrap_or_else(|e| panic!("not JSON ({e}): {answer}"));
        assert_eq!(answer["error"], code, "{answer}");
        assert!(!answer["message"].as_str().unwrap().is_empty());
    }
    let (status, answer) = post(&s.base, "/api/validate", "application/json", r#"{"form": ]"#);
    assert_eq!((status, serde_json::from_str::<Value>(&answer).unwrap()["column"].clone()), (400, json!(10)));
    assert_eq!(get(&s.base, "/api/submissions/999").0, 404);
    assert_eq!(get(&s.base, "/api/submissions/abc").0, 404, "ids are opaque: any unknown one is missing");
    // Invalid UTF-8.
    let r = agent()
        .post(&format!("{}/api/validate", s.base))
        .header("content-type", "application/json")
        .send(&[0xff_u8, 0xfe][..]);
    assert_eq!(r.unwrap().status().as_u16(), 400);
}

#[test]
fn serve_kill_9_loses_no_acknowledged_submission() {
    let db = temp_db("kill");
    let mut s = serve(&db);
    let base = s.base.clone();
    let token = token_for(&base);
    let body = json!({ "submission": serde_json::from_str::<Value>(&plan()).unwrap() }).to_string();
    // A writer acknowledges as fast as it can while the server is killed under it.
    let writer = std::thread::spawn(move || {
        let mut acked = Vec::new();
        for _ in 0..10_000 {
            let Ok(mut r) = agent()
                .post(&format!("{base}/api/submissions"))
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .send(&body)
            else {
                break;
            };
            if r.status().as_u16() != 201 {
                break;
            }
            let Ok(text) = r.body_mut().read_to_string() else { break };
            acked.push(serde_json::from_str::<Value>(&text).unwrap()["id"].as_str().unwrap().to_owned());
        }
        acked
    });
    std::thread::sleep(Duration::from_millis(1500));
    s.child.kill().unwrap(); // SIGKILL
    s.child.wait().unwrap();
    let acked = writer.join().unwrap();
    assert!(acked.len() > 5, "only {} writes before the kill", acked.len());
    let s = serve(&db);
    for id in &acked {
        let (status, row) = get(&s.base, &format!("/api/submissions/{id}"));
        assert_eq!(status, 200, "acknowledged submission {id} was lost after kill -9: {row}");
    }
}

#[test]
fn serve_per_request_time_limit_answers_503_with_a_json_error() {
    // A 1 ms limit cannot fit the 200-row Shanxi report (about 17 ms in release).
    let s = serve_with(&temp_db("timeout"), &["--timeout-ms", "1"]);
    let big = std::fs::read_to_string(root().join("tests/samples/bench/shanxi-200-rows.json")).unwrap();
    let (status, answer) = post(&s.base, "/api/validate", "application/json", &big);
    assert_eq!(status, 503, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["error"], "timeout");
    // The server is still up and answers the next request.
    assert_eq!(get(&s.base, "/api/packs").0, 200);
}

fn post_bytes(base: &str, route: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
    let mut r = agent()
        .post(&format!("{base}{route}"))
        .header("authorization", format!("Bearer {}", token_for(base)))
        .header("content-type", content_type)
        .send(body)
        .expect("request");
    let text = r.body_mut().with_config().limit(64 << 20).read_to_string().expect("body");
    (r.status().as_u16(), serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")))
}

#[test]
fn serve_batches_store_every_submission_the_upload_and_the_batch_report() {
    let db = temp_db("batches");
    let server = serve(&db);
    let one: Value = serde_json::from_str(&plan()).unwrap();
    let ndjson = format!("{one}\n{one}\n{{\"form\": oops\n");
    let (status, body) = post_bytes(&server.base, "/api/batches?name=teams.ndjson", "application/x-ndjson", ndjson.as_bytes());
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["submissions"], 2);
    assert_eq!(body["unreadable"], 1);
    let nt15 = body["report"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "NT-15" && f["severity"] == "error");
    assert_eq!(nt15.expect("NT-15 in the batch report")["source"], "teams.ndjson:2");
    let ids: Vec<&str> = body["ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3, "the unreadable line is stored too");
    let (first, last) = (ids[0], ids[2]);
    let (_, stored) = get(&server.base, &format!("/api/submissions/{first}"));
    let stored: Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(
        stored["submission"]["submission"]["submitted_at"], body["received_at"],
        "stamped with the receipt time (A4)"
    );
    let (_, bad) = get(&server.base, &format!("/api/submissions/{last}"));
    let bad: Value = serde_json::from_str(&bad).unwrap();
    assert_eq!(bad["status"], "unreadable");
    assert_eq!(bad["received"], "{\"form\": oops", "what was received, as received");

    let xlsx = std::fs::read(root().join("tests/samples/sheets/qz-monthly.xlsx")).unwrap();
    let mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    let (status, body) = post_bytes(&server.base, "/api/batches?name=qz-monthly.xlsx", mime, &xlsx);
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["submissions"], 36, "3 recipients × 12 months");
    let id = body["batch_id"].as_str().unwrap().to_owned();
    let (_, meta) = get(&server.base, &format!("/api/batches/{id}"));
    let meta: Value = serde_json::from_str(&meta).unwrap();
    assert_eq!(meta["stored_submissions"], 36);
    assert_eq!(meta["received_bytes"], xlsx.len());
    let (_, one_row) = get(&server.base, &format!("/api/submissions/{}", body["ids"][0].as_str().unwrap()));
    assert!(one_row.contains("qz-monthly.xlsx 月报!2:3"), "{one_row}");
    let (status, page) = get(&server.base, &format!("/api/batches/{id}/summary"));
    assert_eq!(status, 200);
    assert!(page.starts_with("<!doctype html>") && page.contains("<svg"));

    let broken = b"PK\x03\x04 not a workbook";
    let (status, body) = post_bytes(&server.base, "/api/batches?name=broken.xlsx", mime, broken);
    assert_eq!(status, 422, "{body}");
    assert!(body["message"].as_str().unwrap().contains("broken.xlsx"));
    let (_, meta) = get(&server.base, &format!("/api/batches/{}", body["batch_id"].as_str().unwrap()));
    let meta: Value = serde_json::from_str(&meta).unwrap();
    assert_eq!(meta["status"], "refused", "a refused upload is kept as received");
    assert_eq!(meta["received_bytes"], broken.len());

    let (status, body) = post_bytes(&server.base, "/api/batches", "text/plain", b"x");
    assert_eq!(status, 415, "{body}");

    let (status, listed) = get(&server.base, "/api/batches?name=qz-monthly.xlsx");
    assert_eq!(status, 200);
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["batch_id"], id);
    assert_eq!(listed[0]["stored_submissions"], 36);
    let (_, all) = get(&server.base, "/api/batches");
    let all: Value = serde_json::from_str(&all).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 3, "newest first: {all}");
    assert_eq!(all[0]["status"], "refused");
}

/// A GET with request headers: status, the response headers asked for, and the raw body.
fn get_with(base: &str, route: &str, headers: &[(&str, &str)], want: &[&str]) -> (u16, Vec<Option<String>>, Vec<u8>) {
    let mut request = agent().get(&format!("{base}{route}"));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let mut r = request.call().expect("request");
    let values = want
        .iter()
        .map(|h| r.headers().get(*h).and_then(|v| v.to_str().ok()).map(str::to_owned))
        .collect();
    let body = r.body_mut().with_config().limit(64 << 20).read_to_vec().expect("body");
    (r.status().as_u16(), values, body)
}

#[test]
fn serve_sends_static_files_precompressed_with_cache_validators() {
    let www = temp_dir("www").join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("app.js"), "export const x = 1;\n".repeat(100)).unwrap();
    std::fs::write(www.join("app.js.br"), b"brotli bytes").unwrap();
    std::fs::write(www.join("app.js.gz"), b"gzip bytes").unwrap();
    std::fs::write(www.join("shenhe_wasm_bg.0123456789ab.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let db = temp_db("static");
    let server = serve_with(&db, &["--www", www.to_str().unwrap()]);
    let base = &server.base;
    let want = ["content-encoding", "cache-control", "vary", "last-modified", "content-type"];

    let (status, h, body) = get_with(base, "/app.js", &[("accept-encoding", "gzip, deflate, br")], &want);
    assert_eq!(
        (status, body.as_slice()),
        (200, &b"brotli bytes"[..]),
        "the .br file for a client that accepts br"
    );
    assert_eq!(h[0].as_deref(), Some("br"));
    assert_eq!(h[1].as_deref(), Some("no-cache"), "unhashed files revalidate");
    assert_eq!(h[2].as_deref(), Some("accept-encoding"));
    let last_modified = h[3].clone().expect("Last-Modified");
    assert!(h[4].as_deref().is_some_and(|t| t.contains("javascript")), "{h:?}");

    let (status, h, body) = get_with(base, "/app.js", &[("accept-encoding", "gzip")], &want);
    assert_eq!((status, h[0].as_deref(), body.as_slice()), (200, Some("gzip"), &b"gzip bytes"[..]));
    let (status, h, body) = get_with(base, "/app.js", &[], &want);
    assert_eq!((status, h[0].as_deref(), body.len()), (200, None, 2000), "identity without Accept-Encoding");

    let (status, _, body) = get_with(base, "/app.js", &[("accept-encoding", "br"), ("if-modified-since", &last_modified)], &want);
    assert_eq!((status, body.len()), (304, 0), "an unchanged file is a 304 with no body");

    let (status, h, _) = get_with(base, "/shenhe_wasm_bg.0123456789ab.wasm", &[], &want);
    assert_eq!(status, 200);
    assert_eq!(h[1].as_deref(), Some("public, max-age=31536000, immutable"), "hashed names are immutable");
    assert_eq!(
        h[4].as_deref(),
        Some("application/wasm"),
        "so instantiateStreaming can compile it as it arrives"
    );

    let (_, h, _) = get_with(base, "/api/packs", &[], &want);
    assert_eq!(h[1].as_deref(), Some("no-store"), "API answers are never cached");
    let _ = std::fs::remove_dir_all(&www);
}

#[test]
fn serve_sends_bundles_compressed_with_an_etag() {
    let db = temp_db("bundles");
    let server = serve(&db);
    let base = &server.base;
    let route = "/gen/bundles/national-medical-team-2024.json";
    let want = ["content-encoding", "etag", "cache-control", "vary", "content-type"];
    let (status, h, plain) = get_with(base, route, &[], &want);
    assert_eq!((status, h[0].as_deref()), (200, None));
    let etag = h[1].clone().expect("ETag");
    assert_eq!(h[2].as_deref(), Some("no-cache"));
    assert_eq!(h[4].as_deref(), Some("application/json"));
    let plain_text = String::from_utf8(plain.clone()).unwrap();
    assert!(plain_text.contains("\"format\": \"shenhe-bundle/1\""));

    let (status, h, br) = get_with(base, route, &[("accept-encoding", "gzip, br")], &want);
    assert_eq!((status, h[0].as_deref(), h[1].as_deref()), (200, Some("br"), Some(etag.as_str())));
    assert_eq!(h[3].as_deref(), Some("accept-encoding"));
    let mut unpacked = Vec::new();
    brotli::BrotliDecompress(&mut &br[..], &mut unpacked).unwrap();
    assert_eq!(unpacked, plain, "the brotli body is the bundle");
    assert!(br.len() * 3 < plain.len(), "compressed {} → {} bytes", plain.len(), br.len());

    let (status, h, gz) = get_with(base, route, &[("accept-encoding", "gzip")], &want);
    assert_eq!((status, h[0].as_deref()), (200, Some("gzip")));
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text).unwrap();
    assert_eq!(text, plain_text);

    let (status, h, body) = get_with(base, route, &[("accept-encoding", "br"), ("if-none-match", &etag)], &want);
    assert_eq!(
        (status, body.len(), h[1].as_deref()),
        (304, 0, Some(etag.as_str())),
        "an unchanged bundle is a 304"
    );
    let (status, _, _) = get_with(base, route, &[("if-none-match", "\"something-else\"")], &want);
    assert_eq!(status, 200);
}

/// A request with a given bearer token (or none): status and JSON body.
fn call(method: &str, base: &str, route: &str, token: Option<&str>, body: Option<&str>) -> (u16, Value) {
    let url = format!("{base}{route}");
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut r = match (method, body) {
        ("POST", Some(b)) => {
            let mut req = agent().post(&url).header("content-type", "application/json");
            if let Some(a) = &auth {
                req = req.header("authorization", a);
            }
            req.send(b).expect("request")
        }
        _ => {
            let mut req = agent().get(&url);
            if let Some(a) = &auth {
                req = req.header("authorization", a);
            }
            req.call().expect("request")
        }
    };
    let text = r.body_mut().with_config().limit(64 << 20).read_to_string().expect("body");
    (r.status().as_u16(), serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[test]
fn serve_access_tokens_divisions_roles_and_the_audit_log() {
    let db = temp_db("access");
    // The NT plan is Yunnan's (recipient_province 53): a Yunnan submitter and
    // reviewer, a Shanxi submitter (14), an expired and a revoked token, an admin.
    let yunnan = add_token(&db, "submitter", "530000", &[]);
    let yunnan_reviewer = add_token(&db, "reviewer", "53", &[]);
    let shanxi = add_token(&db, "submitter", "14", &[]);
    let shanxi_reviewer = add_token(&db, "reviewer", "140000", &[]);
    let expired = add_token(&db, "submitter", "CN", &["--expires", "2020-01-01"]);
    let revoked = add_token(&db, "submitter", "CN", &[]);
    let admin = add_token(&db, "admin", "CN", &[]);
    let listed = Command::new(BIN).args(["token", "list", "--db"]).arg(&db).output().unwrap();
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(!listed.contains(&yunnan[yunnan.len() - 20..]), "token list shows no secrets");
    let revoked_id = format!("tok_{}", revoked.split('_').nth(1).unwrap());
    assert!(listed.contains(&revoked_id));
    let out = Command::new(BIN).args(["token", "revoke", "--db"]).arg(&db).arg(&revoked_id).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bad_division = Command::new(BIN)
        .args(["token", "add", "--db"])
        .arg(&db)
        .args(["--role", "submitter", "--division", "某县"])
        .output()
        .unwrap();
    assert_eq!(bad_division.status.code(), Some(2), "a division that is no code is refused");
    assert!(String::from_utf8_lossy(&bad_division.stderr).contains("not a division code"));

    let s = serve(&db);
    let b = &s.base;
    let plan = plan();
    let made_up = format!("shk_{}_{}", &yunnan[4..16], "0".repeat(48));

    // 401 for no token, a made-up one, an expired one and a revoked one, on every stored-data route.
    for token in [None, Some(made_up.as_str()), Some(expired.as_str()), Some(revoked.as_str()), Some("Basic abc")] {
        assert_eq!(call("POST", b, "/api/submissions", token, Some(&plan)).0, 401, "{token:?}");
        for route in [
            "/api/submissions/x",
            "/api/submissions",
            "/api/batches",
            "/api/batches/x",
            "/api/batches/x/summary",
            "/api/audit",
        ] {
            assert_eq!(call("GET", b, route, token, None).0, 401, "{route} {token:?}");
        }
    }
    assert_eq!(
        call("POST", b, "/api/validate", None, Some(&plan)).0,
        200,
        "validate stays open: it stores nothing"
    );

    // Filing outside one's division is 403, says why in both languages, and stores nothing.
    let (status, refused) = call("POST", b, "/api/submissions", Some(&shanxi), Some(&plan));
    assert_eq!(status, 403, "{refused}");
    let message = refused["message"].as_str().unwrap();
    assert!(message.contains("不在您的辖区") && message.contains("outside your division"), "{message}");
    // A reviewer cannot file.
    assert_eq!(call("POST", b, "/api/submissions", Some(&yunnan_reviewer), Some(&plan)).0, 403);

    let (status, filed) = call("POST", b, "/api/submissions", Some(&yunnan), Some(&plan));
    assert_eq!(status, 201, "{filed}");
    let id = filed["id"].as_str().unwrap().to_owned();
    let route = format!("/api/submissions/{id}");
    assert_eq!(call("GET", b, &route, Some(&yunnan), None).0, 200);
    assert_eq!(call("GET", b, &route, Some(&yunnan_reviewer), None).0, 200);
    assert_eq!(call("GET", b, &route, Some(&admin), None).0, 200, "a national credential reads everything");
    // Another province cannot tell that it exists.
    let (status, hidden) = call("GET", b, &route, Some(&shanxi_reviewer), None);
    assert_eq!(status, 404, "{hidden}");
    assert_eq!(
        call("GET", b, "/api/submissions/no-such-id", Some(&shanxi_reviewer), None).0,
        404,
        "the same answer as a missing id"
    );

    // The worklist: scoped, filtered, paginated.
    let (status, mine) = call("GET", b, "/api/submissions?pack=national-medical-team-2024", Some(&yunnan_reviewer), None);
    assert_eq!(status, 200, "{mine}");
    assert_eq!(mine["submissions"].as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine["submissions"][0]["id"], id.as_str());
    let (_, theirs) = call("GET", b, "/api/submissions", Some(&shanxi_reviewer), None);
    assert_eq!(theirs["submissions"].as_array().unwrap().len(), 0, "nothing of Yunnan's for Shanxi: {theirs}");
    assert_eq!(
        call("GET", b, "/api/submissions?division=53", Some(&shanxi_reviewer), None).0,
        404,
        "no listing of another province"
    );
    let (_, filtered) = call("GET", b, "/api/submissions?status=accepted", Some(&admin), None);
    assert!(filtered["submissions"].as_array().unwrap().iter().all(|r| r["status"] == "accepted"));

    // A batch from Shanxi's submitter: the Yunnan line is refused and listed, not stored.
    let ndjson = format!("{}\n", plan.replace('\n', ""));
    let mut r = agent()
        .post(&format!("{b}/api/batches?name=mixed.ndjson"))
        .header("authorization", format!("Bearer {shanxi}"))
        .header("content-type", "application/x-ndjson")
        .send(ndjson.as_bytes())
        .unwrap();
    let batch: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(r.status().as_u16(), 201, "{batch}");
    assert_eq!(batch["ids"].as_array().unwrap().len(), 0, "{batch}");
    assert_eq!(batch["outside_division"][0]["division"], "53", "{batch}");
    let batch_id = batch["batch_id"].as_str().unwrap();
    assert_eq!(call("GET", b, &format!("/api/batches/{batch_id}"), Some(&shanxi_reviewer), None).0, 200);
    assert_eq!(call("GET", b, &format!("/api/batches/{batch_id}"), Some(&yunnan_reviewer), None).0, 404);
    assert_eq!(call("GET", b, &format!("/api/batches/{batch_id}/summary"), Some(&yunnan_reviewer), None).0, 404);
    let (_, yunnan_batches) = call("GET", b, "/api/batches", Some(&yunnan_reviewer), None);
    assert_eq!(yunnan_batches.as_array().unwrap().len(), 0, "{yunnan_batches}");

    // The audit log: admins only, and it holds each of the above.
    assert_eq!(call("GET", b, "/api/audit", Some(&yunnan_reviewer), None).0, 403);
    let (status, log) = call("GET", b, "/api/audit", Some(&admin), None);
    assert_eq!(status, 200);
    let log = log.as_array().unwrap();
    let has = |action: &str, status: i64, detail: &str| {
        log.iter()
            .any(|e| e["action"] == action && e["status"] == status && e["detail"].as_str().unwrap_or("").contains(detail))
    };
    assert!(has("submission.file", 401, "no credential"), "no token");
    assert!(has("submission.file", 401, "unknown token"), "made-up token");
    assert!(has("submission.file", 401, "expired"), "expired token");
    assert!(has("submission.file", 401, "revoked"), "revoked token");
    assert!(has("submission.file", 403, "outside"), "filing outside the division");
    assert!(has("submission.file", 403, "wrong role"), "a reviewer filing");
    assert!(has("submission.file", 201, ""), "the filing");
    assert!(has("submission.read", 404, "") && has("submission.read", 200, ""), "reads, refused ones too");
    assert!(has("batch.file", 201, "1 outside"), "the batch and what it refused");
    assert!(has("token.add", 200, "") && has("token.revoke", 200, ""), "token changes");
}

fn base64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0_u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

#[test]
fn serve_jwts_from_a_portal_identity_provider() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    let keys = root().join("crates/shenhe_cli/tests/keys");
    let db = temp_db("jwt");
    let public = keys.join("es256-public.pem");
    let s = serve_with(
        &db,
        &[
            "--jwt-key",
            public.to_str().unwrap(),
            "--jwt-algorithm",
            "es256",
            "--jwt-issuer",
            "https://idp.example.gov.cn",
            "--jwt-audience",
            "shenhe",
        ],
    );
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let claims = |iss: &str, aud: &str, exp: u64, division: &str| json!({ "sub": "clerk-17", "iss": iss, "aud": aud, "exp": exp, "shenhe_role": "submitter", "shenhe_division": division });
    let sign = |key: &str, c: &Value| {
        let pem = std::fs::read(keys.join(key)).unwrap();
        encode(&Header::new(Algorithm::ES256), c, &EncodingKey::from_ec_pem(&pem).unwrap()).unwrap()
    };
    let good = claims("https://idp.example.gov.cn", "shenhe", now + 600, "53");
    let plan = plan();
    let (status, filed) = call("POST", &s.base, "/api/submissions", Some(&sign("es256-private.pem", &good)), Some(&plan));
    assert_eq!(status, 201, "a JWT for Yunnan files Yunnan's plan: {filed}");
    let other_province = claims("https://idp.example.gov.cn", "shenhe", now + 600, "14");
    assert_eq!(
        call(
            "POST",
            &s.base,
            "/api/submissions",
            Some(&sign("es256-private.pem", &other_province)),
            Some(&plan)
        )
        .0,
        403
    );

    let unsigned = format!("{}.{}.", base64url(br#"{"alg":"none","typ":"JWT"}"#), base64url(good.to_string().as_bytes()));
    let hmac_with_the_public_key = encode(
        &Header::new(Algorithm::HS256),
        &good,
        &EncodingKey::from_secret(&std::fs::read(&public).unwrap()),
    )
    .unwrap();
    let refused = [
        ("a bad signature", sign("other-private.pem", &good)),
        ("alg: none", unsigned),
        ("HS256 keyed with the public key", hmac_with_the_public_key),
        (
            "a wrong issuer",
            sign("es256-private.pem", &claims("https://evil.example", "shenhe", now + 600, "53")),
        ),
        (
            "a wrong audience",
            sign("es256-private.pem", &claims("https://idp.example.gov.cn", "other-app", now + 600, "53")),
        ),
        (
            "an expired JWT",
            sign("es256-private.pem", &claims("https://idp.example.gov.cn", "shenhe", now - 3600, "53")),
        ),
    ];
    for (what, token) in &refused {
        let (status, body) = call("POST", &s.base, "/api/submissions", Some(token), Some(&plan));
        assert_eq!(status, 401, "{what}: {body}");
    }
    let admin = add_token(&db, "admin", "CN", &[]);
    let (_, log) = call("GET", &s.base, "/api/audit", Some(&admin), None);
    let refusals = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == 401 && e["detail"].as_str().unwrap_or("").contains("JWT"))
        .count();
    assert_eq!(refusals, refused.len(), "each refused JWT is in the audit log");
    assert!(log.as_array().unwrap().iter().any(|e| e["who"] == "jwt:clerk-17" && e["status"] == 201));
}

#[test]
fn serve_hardens_responses_and_allows_configured_origins_only() {
    let db = temp_db("headers");
    let s = serve_with(
        &db,
        &[
            "--allow-origin",
            "https://portal.example.gov.cn",
            "--frame-ancestors",
            "https://portal.example.gov.cn",
        ],
    );
    let want = [
        "content-security-policy",
        "x-content-type-options",
        "referrer-policy",
        "access-control-allow-origin",
    ];
    let (_, h, _) = get_with(&s.base, "/index.html", &[], &want);
    let csp = h[0].clone().expect("a CSP on the pages");
    assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval'") && !csp.contains("unsafe-inline"), "{csp}");
    assert!(csp.contains("frame-ancestors https://portal.example.gov.cn"), "{csp}");
    assert_eq!((h[1].as_deref(), h[2].as_deref()), (Some("nosniff"), Some("no-referrer")));
    let (_, h, _) = get_with(&s.base, "/api/packs", &[("origin", "https://portal.example.gov.cn")], &want);
    assert!(h[0].as_deref().is_some_and(|c| c.starts_with("default-src 'none'")), "{h:?}");
    assert_eq!(h[3].as_deref(), Some("https://portal.example.gov.cn"), "the configured portal may call the API");
    let (_, h, _) = get_with(&s.base, "/api/packs", &[("origin", "https://elsewhere.example")], &want);
    assert_eq!(h[3], None, "no other origin is allowed");
    let preflight = agent()
        .options(&format!("{}/api/submissions", s.base))
        .header("origin", "https://portal.example.gov.cn")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type")
        .call()
        .unwrap();
    let allowed = preflight
        .headers()
        .get("access-control-allow-headers")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(allowed.contains("authorization"), "the preflight allows the bearer token: {allowed:?}");
}

#[test]
fn serve_health_readiness_durability_and_metrics() {
    let db = temp_db("ops");
    let s = serve(&db);
    let (status, health) = call("GET", &s.base, "/healthz", None, None);
    assert_eq!((status, health["status"].as_str()), (200, Some("up")));
    let (status, ready) = call("GET", &s.base, "/readyz", None, None);
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["packs"], 5);
    // The settings that make an acknowledged commit durable, read from the live connection.
    if postgres().is_some() {
        assert_eq!(ready["database"]["engine"], "postgresql", "{ready}");
        assert_eq!(ready["database"]["synchronous_commit"], "on", "{ready}");
        assert_eq!(ready["database"]["fsync"], "on", "{ready}");
    } else {
        assert_eq!(ready["database"]["engine"], "sqlite", "{ready}");
        assert_eq!(ready["database"]["journal_mode"], "wal", "{ready}");
        assert_eq!(ready["database"]["synchronous"], "full", "{ready}");
    }
    assert!(
        ready["pack_hashes"]["national-medical-team-2024"]
            .as_str()
            .is_some_and(|h| h.starts_with("sha256:")),
        "each replica says which rules it judges with: {ready}"
    );

    let token = token_for(&s.base);
    assert_eq!(call("POST", &s.base, "/api/submissions", Some(&token), Some(&plan())).0, 201);
    assert_eq!(call("GET", &s.base, "/api/submissions/no-such-id", Some(&token), None).0, 404);
    let mut r = agent().get(&format!("{}/metrics", s.base)).call().unwrap();
    let text = r.body_mut().read_to_string().unwrap();
    let has = |needle: &str| text.lines().any(|l| !l.starts_with('#') && l.contains(needle));
    assert!(
        has("shenhe_http_requests_total{") && has("route=\"/api/submissions\"") && has("status=\"201\""),
        "{text}"
    );
    assert!(has("route=\"/api/submissions/{id}\""), "the route template, not the id: {text}");
    assert!(!text.contains("no-such-id"), "no ids in labels");
    assert!(has("shenhe_http_request_duration_seconds_bucket{"), "latency histograms: {text}");
    assert!(
        has("shenhe_evaluations_total{") && has("pack=\"national-medical-team-2024\""),
        "evaluations by pack: {text}"
    );
    assert!(has("shenhe_db_wait_seconds_bucket"), "time waited for the database: {text}");
    if postgres().is_some() {
        assert!(
            has("shenhe_db_pool_max_connections 16") && has("shenhe_db_pool_connections{state=\"idle\"}"),
            "the pool's use: {text}"
        );
    }
}

#[test]
fn serve_idempotency_keys_return_the_first_answer_and_store_nothing_new() {
    let db = temp_db("idempotent");
    let s = serve(&db);
    let token = token_for(&s.base);
    let send = |key: &str, body: &str| {
        let mut r = agent()
            .post(&format!("{}/api/submissions", s.base))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .send(body)
            .unwrap();
        let replay = r.headers().get("idempotent-replay").is_some();
        (r.status().as_u16(), replay, r.body_mut().read_to_string().unwrap())
    };
    let plan = plan();
    let (status, replay, first) = send("k-1", &plan);
    assert_eq!((status, replay), (201, false), "{first}");
    let (status, replay, again) = send("k-1", &plan);
    assert_eq!((status, replay), (201, true));
    assert_eq!(again, first, "the same answer, byte for byte (the same id)");
    let (status, _, conflict) = send("k-1", &plan.replace("张一", "张壹"));
    assert_eq!(status, 409, "{conflict}");
    assert_eq!(send("", &plan).0, 400, "an empty key is refused");
    let (_, listed) = call("GET", &s.base, "/api/submissions", Some(&token), None);
    assert_eq!(listed["submissions"].as_array().unwrap().len(), 1, "one row for three attempts: {listed}");

    // Batches too, and a key is the caller's own: another token may use the same one.
    let batch = |token: &str| {
        let mut r = agent()
            .post(&format!("{}/api/batches?name=one.ndjson", s.base))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/x-ndjson")
            .header("idempotency-key", "b-1")
            .send(format!("{}\n", plan.replace('\n', "")))
            .unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    };
    let (status, b1) = batch(&token);
    assert_eq!(status, 201, "{b1}");
    assert_eq!(batch(&token).1, b1);
    let other = add_token(&db, "submitter", "CN", &[]);
    let (status, b2) = batch(&other);
    assert_eq!(status, 201);
    assert_ne!(b2, b1, "another caller's key is another key");
    let (_, listed) = call("GET", &s.base, "/api/submissions", Some(&token), None);
    assert_eq!(listed["submissions"].as_array().unwrap().len(), 3, "{listed}");
}

#[test]
fn serve_logs_requests_without_personal_data_and_stops_gracefully_on_sigterm() {
    let db = temp_db("logs");
    let token = add_token(&db, "submitter", "CN", &[]);
    let (mut child, base) = spawn_logged(&db, &["--log-format", "json"]);
    // A batch large enough to be in flight when SIGTERM arrives.
    let line = plan().replace('\n', "");
    let big: String = std::iter::repeat_n(format!("{line}\n"), 3000).collect();
    let (b, t) = (base.clone(), token.clone());
    let upload = std::thread::spawn(move || {
        let mut r = agent()
            .post(&format!("{b}/api/batches?name=big.ndjson"))
            .header("authorization", format!("Bearer {t}"))
            .header("content-type", "application/x-ndjson")
            .send(big)
            .unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap(), std::time::Instant::now())
    });
    assert_eq!(call("POST", &base, "/api/submissions", Some(&token), Some(&plan())).0, 201);
    std::thread::sleep(Duration::from_millis(300));
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let signalled = std::time::Instant::now();
    assert!(killed.success());
    let (status, body, answered) = upload.join().unwrap();
    assert!(answered > signalled, "the upload was still in flight when SIGTERM came");
    assert_eq!(status, 201, "the request in flight is finished: {body}");
    let exit = child.wait().unwrap();
    assert!(exit.success(), "a graceful stop: {exit:?}");
    let mut logs = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut logs).unwrap();
    let events: Vec<Value> = logs.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert!(
        events
            .iter()
            .any(|e| e["route"] == "/api/submissions" && e["status"] == 201 && e["method"] == "POST"),
        "{logs}"
    );
    assert!(
        events.iter().any(|e| e["synchronous"] == "full" || e["synchronous_commit"] == "on"),
        "the start-up line names the durability settings: {logs}"
    );
    assert!(events.iter().any(|e| e["message"].as_str().is_some_and(|m| m.contains("stopped"))), "{logs}");
    for secret in ["张一", "shk_", &token[token.len() - 16..], "某委属医院"] {
        assert!(!logs.contains(secret), "no personal data or credentials in the logs ({secret})");
    }
}

/// Files the plan submission under `key` at `base`: the id it was given,
/// or `None` when the replica did not answer with one.
fn file_with_key(base: &str, token: &str, key: &str, body: &str) -> Option<String> {
    let mut r = agent()
        .post(&format!("{base}/api/submissions"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .send(body)
        .ok()?;
    if r.status().as_u16() != 201 {
        return None;
    }
    let text = r.body_mut().read_to_string().ok()?;
    serde_json::from_str::<Value>(&text).ok()?["id"].as_str().map(str::to_owned)
}

#[test]
fn serve_replicas_share_the_store_and_a_replica_killed_mid_load_loses_no_acknowledged_filing() {
    let db = temp_db("replicas");
    let mut a = serve(&db);
    let b = serve(&db);
    // One caller on both replicas: its idempotency keys are one namespace.
    let token = token_for(&a.base);
    let body = json!({ "submission": serde_json::from_str::<Value>(&plan()).unwrap() }).to_string();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Writers alternate between the replicas, as a proxy would; a filing that
    // replica A does not acknowledge is retried on B with the same key.
    let writers: Vec<_> = (0..6)
        .map(|w| {
            let (a, b, token, body, stop) = (a.base.clone(), b.base.clone(), token.clone(), body.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let key = format!("writer{w}-{n}");
                    let first = if n % 2 == 0 { &a } else { &b };
                    let id = file_with_key(first, &token, &key, &body)
                        .or_else(|| {
                            (0..20).find_map(|_| {
                                file_with_key(&b, &token, &key, &body).or_else(|| {
                                    std::thread::sleep(Duration::from_millis(100));
                                    None
                                })
                            })
                        })
                        .unwrap_or_else(|| panic!("{key}: neither replica acknowledged it"));
                    acked.push((key, id));
                    n += 1;
                }
                acked
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(2000));
    a.child.kill().unwrap(); // SIGKILL, mid-load
    a.child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acked: Vec<(String, String)> = writers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    assert!(acked.len() > 20, "only {} filings acknowledged", acked.len());
    // Every acknowledged filing is readable from the replica that survived,
    // and a retry of its key returns the id it was first given.
    for (key, id) in &acked {
        let (status, row) = get(&b.base, &format!("/api/submissions/{id}"));
        assert_eq!(status, 200, "{key}: acknowledged filing {id} is not readable from replica B: {row}");
        assert_eq!(
            file_with_key(&b.base, &token, key, &body).as_deref(),
            Some(id.as_str()),
            "{key}: a retry got another id"
        );
    }
    // Each key was stored once: no retry made a second row.
    assert_eq!(count_rows(&db, "submissions"), acked.len() as i64, "one row per key");
}

#[test]
fn serve_replicas_starting_at_once_apply_each_migration_once() {
    let db = temp_db("migrate");
    // Three replicas on an empty store, started together: each migrates or
    // waits for the one that does, and all of them serve.
    let replicas: Vec<Server> = std::thread::scope(|s| {
        let started: Vec<_> = (0..3).map(|_| s.spawn(|| spawn_serve(&db, &[]))).collect();
        started.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in &replicas {
        let (status, ready) = call("GET", &r.base, "/readyz", None, None);
        assert_eq!(status, 200, "{ready}");
    }
    assert_eq!(count_rows(&db, "schema_migrations"), 1, "migration 1 was applied once");
    // A store whose schema is newer than this shenhe is refused with the reason.
    drop(replicas);
    let newer = if db.starts_with("postgres://") {
        psql(&db, "INSERT INTO schema_migrations VALUES (999, 'from a newer shenhe', 'now')");
        db.clone()
    } else {
        let out = Command::new("python3")
            .args([
                "-c",
                "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(\"INSERT INTO schema_migrations VALUES (999, 'from a newer shenhe', 'now')\"); c.commit()",
                &db,
            ])
            .status()
            .unwrap();
        assert!(out.success());
        db.clone()
    };
    let out = Command::new(BIN).args(["token", "list", "--db", &newer]).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("version 999") && stderr.contains("newer"), "{stderr}");
}

#[test]
fn serve_a_filing_answered_503_after_its_time_limit_stored_nothing() {
    let db = temp_db("abandoned");
    let token = add_token(&db, "submitter", "CN", &[]);
    // Uploads get 300 ms; the 3,000-line batch takes longer than that to judge.
    let (mut child, base) = spawn_logged(&db, &["--batch-timeout-ms", "300"]);
    let (lines, logged) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let line = plan().replace('\n', "");
    let big: String = std::iter::repeat_n(format!("{line}\n"), 3000).collect();
    let mut r = agent()
        .post(&format!("{base}/api/batches?name=slow.ndjson"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/x-ndjson")
        .header("idempotency-key", "slow-upload-1")
        .send(&big)
        .unwrap();
    let (status, body) = (r.status().as_u16(), r.body_mut().read_to_string().unwrap());
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("nothing was stored"), "{body}");
    // The judging goes on after the answer; its transaction then rolls back.
    let rolled_back = std::iter::from_fn(|| logged.recv_timeout(Duration::from_secs(300)).ok()).any(|l| l.contains("rolled back: nothing of it was stored"));
    assert!(rolled_back, "the server logs the rollback");
    assert_eq!(count_rows(&db, "batches"), 0, "no batch row after a 503");
    assert_eq!(count_rows(&db, "submissions"), 0, "no submission rows after a 503");
    assert_eq!(count_rows(&db, "idempotency"), 0, "the key is free: a retry stores the upload once");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn serve_diff_reads_what_the_server_stored_without_writing() {
    let db = temp_db("diff");
    let s = serve(&db);
    let token = token_for(&s.base);
    for _ in 0..3 {
        assert_eq!(call("POST", &s.base, "/api/submissions", Some(&token), Some(&plan())).0, 201);
    }
    drop(s);
    let audit = count_rows(&db, "audit");
    // The same rules on both sides: nothing changes (exit 0), and the three stored submissions were read.
    let out = Command::new(BIN)
        .current_dir(root())
        .args(["diff", "--old", "rules", "--new", "rules", "--db", &db])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("3 submissions judged by both rule sets; 0 change status"), "{stdout}");
    assert_eq!(count_rows(&db, "audit"), audit, "reading for a diff writes nothing");
    assert_eq!(count_rows(&db, "submissions"), 3);
}
