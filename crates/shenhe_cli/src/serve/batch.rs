//! `POST /api/batches`: an upload of many submissions (NDJSON, CSV or
//! `.xlsx`), judged like `shenhe check` judges a batch. The file as received,
//! every submission with its report (unreadable lines too), the batch report
//! and its HTML summary are stored in one transaction: an acknowledged batch
//! is there in full, or the upload was not acknowledged.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{Path as UrlPath, Query, State, rejection::BytesRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use shenhe::batch::Batch;

use super::{
    App,
    access::{self, Caller, READERS, Role},
    authorize, blocking_for, error, found, idempotent, json_response, now_shanghai, ops,
    store::vals,
    store_failed, stored,
};
use crate::{
    batchrun::{Consumer, Judged, Runner},
    html,
    sheets::{self, Kind},
};

/// What the upload is.
#[derive(Clone, Copy)]
enum Format {
    Ndjson,
    Sheet(Kind),
}

fn format_of(content_type: &str, name: Option<&str>) -> Option<Format> {
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match mime.as_str() {
        "application/x-ndjson" | "application/jsonl" | "application/ndjson" => Some(Format::Ndjson),
        "text/csv" => Some(Format::Sheet(Kind::Csv)),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => Some(Format::Sheet(Kind::Xlsx)),
        "application/octet-stream" => {
            let ext = name?.rsplit_once('.')?.1;
            if ext.eq_ignore_ascii_case("ndjson") || ext.eq_ignore_ascii_case("jsonl") {
                Some(Format::Ndjson)
            } else {
                sheets::kind_of(ext).map(Format::Sheet)
            }
        }
        _ => None,
    }
}

struct Row {
    source: String,
    status: String,
    pack_id: Option<String>,
    pack_hash: Option<String>,
    received: String,
    submission: String,
    report: String,
    division: Option<String>,
}

/// Collects rows and folds the batch. Submissions outside the uploader's
/// division are left out of both and listed in `outside`.
struct Collector<'a> {
    rows: Vec<Row>,
    batch: Batch<'a>,
    notes: Vec<String>,
    rules: &'a shenhe::RuleSet,
    uploader: &'a Caller,
    outside: Vec<Value>,
}

impl Consumer for Collector<'_> {
    fn judged(&mut self, j: Judged) -> std::io::Result<()> {
        let source = j.cells.as_ref().map_or_else(|| j.source.clone(), |c| format!("{} {}", j.source, c.rows_ref()));
        let division = j.stamped.as_ref().and_then(|s| shenhe::api::division_of(self.rules, &j.report, s));
        if !self.uploader.covers(division.as_deref()) {
            self.outside.push(json!({ "source": source, "division": division }));
            return Ok(());
        }
        let received = j.received.into_text();
        self.rows.push(Row {
            source,
            status: j.report.status.as_str().to_owned(),
            pack_id: j.report.pack.as_ref().map(|p| p.id.clone()),
            pack_hash: j.report.pack.as_ref().map(|p| p.hash.clone()),
            // The server stamps every submission, so `stamped` is the judged document.
            submission: j.stamped.as_ref().map_or_else(|| received.clone(), Value::to_string),
            received,
            report: j.report.to_json(),
            division,
        });
        self.batch.add(j.source, &j.report, j.record, j.cells);
        Ok(())
    }

    fn unreadable(&mut self, source: &str, received: &str, message: &str) {
        self.batch.unreadable();
        self.rows.push(Row {
            source: source.to_owned(),
            status: "unreadable".to_owned(),
            pack_id: None,
            pack_hash: None,
            received: received.to_owned(),
            submission: "null".to_owned(),
            report: json!({ "error": "unreadable", "message": message }).to_string(),
            division: None,
        });
    }

    fn note(&mut self, message: &str) {
        self.notes.push(message.to_owned());
    }
}

#[derive(serde::Deserialize)]
pub struct UploadQuery {
    /// The file name, cited in findings (`teams.xlsx Sheet1!D7`).
    name: Option<String>,
}

/// `POST /api/batches[?name=teams.xlsx]` with `Content-Type:
/// application/x-ndjson`, `text/csv` or the `.xlsx` type (or
/// `application/octet-stream` and a name with that extension).
pub async fn upload(State(app): State<Arc<App>>, Query(q): Query<UploadQuery>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    let caller = match authorize(&app, &headers, "batch.file", &[Role::Submitter]).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let body = match body {
        Ok(b) => b,
        Err(r) => return error(r.status(), "body_rejected", r.body_text()),
    };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let Some(format) = format_of(&content_type, q.name.as_deref()) else {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "send NDJSON (application/x-ndjson), CSV (text/csv) or Excel (application/vnd.openxmlformats-officedocument.spreadsheetml.sheet); got {content_type:?}"
            ),
        );
    };
    let name = q.name.unwrap_or_else(|| {
        match format {
            Format::Ndjson => "upload.ndjson",
            Format::Sheet(Kind::Csv) => "upload.csv",
            Format::Sheet(Kind::Xlsx) => "upload.xlsx",
        }
        .to_owned()
    });
    let key = match idempotent::key(&headers, &body) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let received_at = now_shanghai();
    let limit = app.batch_timeout;
    let result = blocking_for(&app, limit, move |a, deadline| -> anyhow::Result<Result<(StatusCode, Value), Response>> {
        // A repeat of a stored upload is answered before the file is judged again.
        if let Some(k) = &key
            && let Some(first) = a.store.transaction(|db| idempotent::prior(db, &caller.who, "batches", k))?
        {
            return Ok(Err(first));
        }
        let collector = Collector {
            rows: Vec::new(),
            batch: Batch::new(&a.rules, a.registry.clone()),
            notes: Vec::new(),
            rules: &a.rules,
            uploader: &caller,
            outside: Vec::new(),
        };
        // A4: every submission is stamped with the receipt time before it is judged.
        let mut runner = Runner::new(&a.rules, None, Some(received_at.clone()), collector);
        let outcome = match format {
            Format::Ndjson => runner.run_stream(&name, &body[..]).map_err(|e| format!("{name}: {e}")),
            Format::Sheet(kind) => runner
                .run_sheet(
                    &a.mappings,
                    None,
                    &sheets::Source::Bytes {
                        name: &name,
                        kind,
                        bytes: &body,
                    },
                )
                .map_err(|e| format!("{e:#}")),
        };
        let Collector { rows, batch, notes, outside, .. } = runner.consumer;
        let report = batch.finish();
        let (status, refused) = match &outcome {
            Ok(()) => ("judged", None),
            Err(e) => ("refused", Some(e.clone())),
        };
        let summary = refused.is_none().then(|| html::summary(&report, &[std::path::PathBuf::from(&name)], &html::Names { rules: &a.rules, registry: &Default::default() }));
        let report_json = refused.is_none().then(|| report.to_json());
        a.store.transaction_within(deadline, |tx| {
        // Checked again in the transaction that stores, holding the key: a
        // repeat sent while the first was being judged gets the first answer too.
        if let Some(k) = &key {
            idempotent::lock(tx, &caller.who, k)?;
            if let Some(first) = idempotent::prior(tx, &caller.who, "batches", k)? {
                return Ok(Err(first));
            }
        }
        metrics::histogram!("shenhe_batch_submissions").record(rows.len() as f64);
        for r in &rows {
            ops::evaluated(r.pack_id.as_deref(), &r.status);
        }
        let public_batch_id = access::new_id();
        let uploader_prefix = shenhe::division::prefix(&caller.division).unwrap_or_default();
        let batch_id = tx
            .query_opt(
                "INSERT INTO batches (received_at, name, content_type, received, status, error, report, summary_html, public_id, uploader, division_prefix)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
                vals![
                    &received_at,
                    &name,
                    &content_type,
                    &body[..],
                    status,
                    &refused,
                    &report_json,
                    &summary,
                    &public_batch_id,
                    &caller.who,
                    uploader_prefix
                ],
            )?
            .map(|r| r.int(0))
            .ok_or_else(|| anyhow::anyhow!("the batch row has no id"))?;
        let mut ids = Vec::new();
        if refused.is_none() {
            for r in &rows {
                let id = access::new_id();
                tx.execute(
                    "INSERT INTO submissions (received_at, status, pack_id, pack_hash, client_bundle_hash, received, submission, report, batch_id, source, public_id, division, division_prefix)
                     VALUES ($1, $2, $3, $4, NULL, $5, $6, $7, $8, $9, $10, $11, $12)",
                    vals![
                        &received_at,
                        &r.status,
                        &r.pack_id,
                        &r.pack_hash,
                        &r.received,
                        &r.submission,
                        &r.report,
                        batch_id,
                        &r.source,
                        &id,
                        &r.division,
                        r.division.as_deref().and_then(shenhe::division::prefix).unwrap_or(uploader_prefix)
                    ],
                )?;
                ids.push(id);
            }
        }
        let http = if refused.is_some() { 422 } else { 201 };
        let detail = format!("{} stored, {} outside the division", ids.len(), outside.len());
        access::audit(tx, &received_at, Some(&caller), "batch.file", Some(&public_batch_id), http, Some(&detail));
        let answer = match refused {
            Some(message) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({ "error": "unreadable_upload", "message": message, "batch_id": public_batch_id, "received_at": received_at }),
            ),
            None => (
                StatusCode::CREATED,
                json!({
                    "batch_id": public_batch_id,
                    "received_at": received_at,
                    "submissions": report.submissions,
                    "unreadable": report.unreadable,
                    "status": report.status,
                    "ids": ids,
                    "outside_division": outside,
                    "notes": notes,
                    "report": report_json.as_deref().and_then(|t| serde_json::from_str::<Value>(t).ok()).unwrap_or(Value::Null),
                }),
            ),
        };
        if let Some(k) = &key {
            idempotent::record(tx, &caller.who, "batches", k, answer.0, &answer.1.to_string(), &received_at)?;
        }
        Ok(Ok(answer))
        })
    })
    .await;
    match result {
        Ok(Ok(Ok((status, body)))) => json_response(status, body.to_string()),
        Ok(Ok(Err(first))) => first,
        Ok(Err(e)) => store_failed(&e),
        Err(r) => r,
    }
}

#[derive(serde::Deserialize)]
pub struct ListQuery {
    /// Only uploads with this name.
    name: Option<String>,
}

/// `GET /api/batches[?name=FILE]`: the 100 latest uploads, newest first
/// (id, time, name, status, size, submissions stored), so a client whose
/// upload timed out can find it before sending it again.
pub async fn list(State(app): State<Arc<App>>, headers: HeaderMap, Query(q): Query<ListQuery>) -> Response {
    let caller = match authorize(&app, &headers, "batch.list", READERS).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let rows = stored(&app, move |_, db| {
        let rows = db.query(
            "SELECT public_id, received_at, name, status, length(received),
                    (SELECT count(*) FROM submissions s WHERE s.batch_id = b.id)
             FROM batches b WHERE (CAST($1 AS TEXT) IS NULL OR name = $1) AND ($2 = '' OR division_prefix LIKE $2 || '%')
             ORDER BY id DESC LIMIT 100",
            vals![&q.name, &scope(&caller)],
        )?;
        let rows: Vec<Value> = rows
            .iter()
            .map(|r| {
                json!({
                    "batch_id": r.text(0),
                    "received_at": r.string(1),
                    "name": r.string(2),
                    "status": r.string(3),
                    "received_bytes": r.int(4),
                    "stored_submissions": r.int(5),
                })
            })
            .collect();
        access::audit(
            db,
            &now_shanghai(),
            Some(&caller),
            "batch.list",
            None,
            200,
            Some(&format!("{} batches", rows.len())),
        );
        Ok(Some(Value::Array(rows)))
    })
    .await;
    found(rows, "no batches")
}

/// The division prefix a caller sees (`""`: everything).
fn scope(caller: &Caller) -> String {
    shenhe::division::prefix(&caller.division).unwrap_or("-").to_owned()
}

/// `GET /api/batches/{id}`: the batch report, with what was received.
pub async fn fetch(State(app): State<Arc<App>>, headers: HeaderMap, UrlPath(id): UrlPath<String>) -> Response {
    let caller = match authorize(&app, &headers, "batch.read", READERS).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let shown = id.clone();
    let row = stored(&app, move |_, db| {
        let row = db.query_opt(
            "SELECT received_at, name, content_type, length(received), status, error, report,
                    (SELECT count(*) FROM submissions s WHERE s.batch_id = b.id)
             FROM batches b WHERE public_id = $1 AND ($2 = '' OR division_prefix LIKE $2 || '%')",
            vals![&id, &scope(&caller)],
        )?;
        let row = row.map(|r| {
            json!({
                "batch_id": id,
                "received_at": r.string(0),
                "name": r.string(1),
                "content_type": r.string(2),
                "received_bytes": r.int(3),
                "status": r.string(4),
                "error": r.text(5),
                "stored_submissions": r.int(7),
                "report": r.text(6).and_then(|t| serde_json::from_str::<Value>(&t).ok()),
            })
        });
        Ok(access::audited_lookup(db, &caller, "batch.read", &id, row))
    })
    .await;
    found(row, &format!("no batch {shown}"))
}

/// `GET /api/batches/{id}/summary`: the HTML summary made when it was judged.
pub async fn summary(State(app): State<Arc<App>>, headers: HeaderMap, UrlPath(id): UrlPath<String>) -> Response {
    let caller = match authorize(&app, &headers, "batch.summary", READERS).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let shown = id.clone();
    let row = stored(&app, move |_, db| {
        let row = db
            .query_opt(
                "SELECT summary_html FROM batches WHERE public_id = $1 AND ($2 = '' OR division_prefix LIKE $2 || '%')",
                vals![&id, &scope(&caller)],
            )?
            .map(|r| r.text(0));
        Ok(access::audited_lookup(db, &caller, "batch.summary", &id, row))
    })
    .await;
    let id = shown;
    match row {
        Ok(Ok(Some(Some(page)))) => ([(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))], page).into_response(),
        Ok(Ok(Some(None))) => error(StatusCode::NOT_FOUND, "not_found", format!("batch {id} was refused; it has no summary")),
        Ok(Ok(None)) => error(StatusCode::NOT_FOUND, "not_found", format!("no batch {id}")),
        Ok(Err(e)) => store_failed(&e),
        Err(r) => r,
    }
}
