//! `shenhe serve`: the re-validation API and the demo portal.
//!
//! The browser's verdict is a preview; this server's is the one that counts.
//! Every submission is stamped with the receipt time (A4), re-validated with
//! the same core as `shenhe check`, and stored with its report whatever its
//! status: nothing received is dropped.

#![allow(
    clippy::result_large_err,
    reason = "handlers return an axum Response as their error; it is built once per failed request"
)]

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Arc,
    time::Duration,
};

use anyhow::{Context, Result};
use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path as UrlPath, State, rejection::BytesRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};
use shenhe::{Report, RuleSet};
use time::{OffsetDateTime, UtcOffset, format_description::well_known::Rfc3339};
use tower_http::services::ServeDir;

use crate::{delivery, export, load};

pub mod access;
mod batch;
mod idempotent;
pub mod ops;
pub mod store;

pub use store::Store;
use store::{Db, vals};

/// What `shenhe serve` was asked for.
pub struct Options {
    pub rules: PathBuf,
    pub addr: SocketAddr,
    /// A SQLite file, or a `postgres://` URL.
    pub db: String,
    pub www: PathBuf,
    pub max_body: usize,
    pub timeout: Duration,
    pub max_batch_body: usize,
    pub batch_timeout: Duration,
    pub registry: Option<PathBuf>,
    pub jwt: Option<access::JwtConfig>,
    pub frame_ancestors: String,
    pub allow_origins: Vec<String>,
    pub log_format: ops::LogFormat,
}

pub struct App {
    rules: RuleSet,
    mappings: Vec<(String, shenhe::sheet::Mapping)>,
    registry: Option<Value>,
    batch_timeout: Duration,
    packs: String,
    generated: HashMap<String, delivery::Asset>,
    store: Store,
    timeout: Duration,
    jwt: Option<access::JwtConfig>,
    metrics: metrics_exporter_prometheus::PrometheusHandle,
}

/// A JSON error response: `{"error": code, "message": text}`.
fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = json!({ "error": code, "message": message.into() });
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body.to_string()).into_response()
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
}

pub fn run(options: Options) -> Result<ExitCode> {
    ops::init_logging(options.log_format);
    let metrics = ops::init_metrics()?;
    let packs = load::read_packs(&options.rules)?;
    let rules = RuleSet::compile(packs.iter().map(|p| p.source.clone()))?;
    let summaries: Vec<Value> = rules.packs().iter().map(shenhe::api::pack_summary).collect();
    let generated = export::site_files(&packs)?
        .into_iter()
        .map(|(path, text)| (path, delivery::Asset::new("application/json", text.into_bytes())))
        .collect();
    let registry = options.registry.as_deref().map(load::read_registry).transpose()?;
    // The store's pool runs its connections on the server's runtime.
    let runtime = tokio::runtime::Runtime::new()?;
    let _entered = runtime.enter();
    let store = Store::open(&options.db)?;
    let durability = store.durability()?;
    let app = Arc::new(App {
        mappings: crate::batchrun::mappings(&rules),
        registry,
        batch_timeout: options.batch_timeout,
        rules,
        packs: Value::Array(summaries).to_string(),
        generated,
        store,
        timeout: options.timeout,
        jwt: options.jwt,
        metrics,
    });
    let hardening = Arc::new(delivery::Hardening::new(&options.frame_ancestors)?);
    let cors = cors(&options.allow_origins)?;
    let hashes = app
        .rules
        .packs()
        .iter()
        .map(|p| format!("{}={}", p.manifest().id, p.hash()))
        .collect::<Vec<_>>()
        .join(",");
    // The durability settings of this engine (the others are absent from the line).
    let setting = |name: &str| durability[name].as_str();
    tracing::info!(
        packs = app.rules.packs().len(),
        pack_hashes = %hashes,
        database = %app.store.shown,
        engine = app.store.engine(),
        journal_mode = setting("journal_mode"),
        synchronous = setting("synchronous"),
        synchronous_commit = setting("synchronous_commit"),
        fsync = setting("fsync"),
        "shenhe serve: packs loaded; a submission is acknowledged after its commit"
    );
    let operations = Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .with_state(Arc::clone(&app));
    let app_db = app.store.shown.clone();
    let mut router = router(app, &options.www, options.max_body, options.max_batch_body)
        .merge(operations)
        .layer(axum::middleware::from_fn(ops::observe))
        .layer(axum::middleware::from_fn_with_state(hardening, delivery::response_headers));
    if let Some(cors) = cors {
        router = router.layer(cors);
    }
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(options.addr)
            .await
            .with_context(|| format!("cannot listen on {}", options.addr))?;
        eprintln!(
            "shenhe serve: http://{}/  (portal), /playground/, /api/validate, /api/submissions, /api/batches, /api/packs; database {}",
            listener.local_addr()?,
            app_db
        );
        axum::serve(listener, router).with_graceful_shutdown(shutdown_signal()).await?;
        tracing::info!("shenhe serve: stopped; every request it accepted was answered");
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C or SIGTERM: the server then stops accepting, finishes
/// the requests in flight, and exits.
async fn shutdown_signal() {
    let terminate = async {
        #[cfg(unix)]
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM ({e}); Ctrl-C still stops the server");
                std::future::pending::<()>().await;
            }
        }
        #[cfg(not(unix))]
        std::future::pending::<()>().await;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("shenhe serve: shutting down, finishing the requests in flight");
}

/// CORS for the configured portal origins only (`--allow-origin`): a portal
/// on another origin may call the API with its clerk's token.
fn cors(origins: &[String]) -> Result<Option<tower_http::cors::CorsLayer>> {
    if origins.is_empty() {
        return Ok(None);
    }
    let list = origins
        .iter()
        .map(|o| HeaderValue::from_str(o.trim_end_matches('/')).with_context(|| format!("--allow-origin {o:?} is not an origin")))
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(
        tower_http::cors::CorsLayer::new()
            .allow_origin(tower_http::cors::AllowOrigin::list(list))
            .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .max_age(Duration::from_secs(600)),
    ))
}

fn router(app: Arc<App>, www: &Path, max_body: usize, max_batch_body: usize) -> Router {
    Router::new()
        .route(
            "/api/batches",
            post(batch::upload).layer(DefaultBodyLimit::max(max_batch_body)).get(batch::list),
        )
        .route("/api/batches/{id}", get(batch::fetch))
        .route("/api/batches/{id}/summary", get(batch::summary))
        .route("/api/validate", post(validate))
        .route("/api/submissions", post(submit).get(worklist))
        .route("/api/audit", get(audit_log))
        .route("/api/submissions/{id}", get(fetch))
        .route("/api/packs", get(packs))
        .route("/gen/{*path}", get(generated))
        // Static files as a CDN serves them: the `.br`/`.gz` written at build
        // time when the client accepts them, `Last-Modified` and `304`s.
        .fallback_service(ServeDir::new(www).precompressed_br().precompressed_gzip())
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(app)
}

/// The request body as submission JSON, or the 4xx that says what is wrong.
fn read_json(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Value, Response> {
    let body = body.map_err(|r| error(r.status(), "body_rejected", r.body_text()))?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
    {
        return Err(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("send the submission as application/json (got {content_type:?})"),
        ));
    }
    let text = std::str::from_utf8(&body).map_err(|e| error(StatusCode::BAD_REQUEST, "invalid_utf8", e.to_string()))?;
    shenhe::api::parse_submission("request body", text).map_err(|e| {
        let (line, column) = match &e {
            shenhe::Error::Json { line, column, .. } => (*line, *column),
            _ => (0, 0),
        };
        let body = json!({ "error": "invalid_json", "message": e.to_string(), "line": line, "column": column });
        json_response(StatusCode::BAD_REQUEST, body.to_string())
    })
}

/// Runs `f` on the blocking pool, within the per-request time limit.
async fn blocking<T: Send + 'static>(app: &Arc<App>, f: impl FnOnce(&App) -> T + Send + 'static) -> Result<T, Response> {
    blocking_for(app, app.timeout, move |a, _| f(a)).await
}

/// Runs `f` on the blocking pool within `limit` (batches get a longer one).
/// `f` gets the request's [`store::Deadline`] for the transaction that
/// stores: past the limit the answer is `503` and that transaction rolls
/// back, so a retry stores the filing once; if its commit had already begun,
/// the answer waits for it and is what was stored.
async fn blocking_for<T: Send + 'static>(app: &Arc<App>, limit: Duration, f: impl FnOnce(&App, &store::Deadline) -> T + Send + 'static) -> Result<T, Response> {
    let worker = Arc::clone(app);
    let deadline = store::Deadline::default();
    let task_deadline = deadline.clone();
    let mut task = tokio::task::spawn_blocking(move || f(&worker, &task_deadline));
    let joined = match tokio::time::timeout(limit, &mut task).await {
        Ok(joined) => joined,
        Err(_) if deadline.abandon() => {
            return Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                format!("the request took longer than {} ms and nothing was stored; try again", limit.as_millis()),
            ));
        }
        Err(_) => task.await,
    };
    joined.map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))
}

/// `POST /api/validate`: the report, byte for byte what `shenhe check` prints.
async fn validate(State(app): State<Arc<App>>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    let submission = match read_json(&headers, body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    match blocking(&app, move |a| a.rules.evaluate(&submission, None).to_json()).await {
        Ok(report) => json_response(StatusCode::OK, report),
        Err(r) => r,
    }
}

/// The receipt time, in Asia/Shanghai (A4).
pub fn now_shanghai() -> String {
    let offset = UtcOffset::from_hms(8, 0, 0).unwrap_or(UtcOffset::UTC);
    OffsetDateTime::now_utc().to_offset(offset).format(&Rfc3339).unwrap_or_default()
}

/// `POST /api/submissions`: `{"bundle_hash": "sha256:…", "submission": {…}}`
/// (or a bare submission). Stamps, re-validates, compares the client's
/// bundle hash with the server's, stores everything, returns id and report.
async fn submit(State(app): State<Arc<App>>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    let caller = match authorize(&app, &headers, "submission.file", &[access::Role::Submitter]).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let received = match read_json(&headers, body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    // What was received, as stored: also what an idempotency key is checked against.
    let received_text = received.to_string();
    let key = match idempotent::key(&headers, received_text.as_bytes()) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let enveloped = received.get("submission").is_some_and(Value::is_object) && received.get("form").is_none();
    let client_hash = if enveloped {
        received.get("bundle_hash").and_then(Value::as_str).map(str::to_owned)
    } else {
        None
    };
    let mut submission = if enveloped { received["submission"].clone() } else { received.clone() };
    let received_at = now_shanghai();
    crate::batchrun::stamp(&mut submission, &received_at);
    let result = stored(&app, move |a, db| {
        // Judged before the transaction: the store is held only to store.
        let report: Report = a.rules.evaluate(&submission, None);
        if let Some(k) = &key {
            idempotent::lock(db, &caller.who, k)?;
            if let Some(first) = idempotent::prior(db, &caller.who, "submissions", k)? {
                return Ok(Err(first));
            }
        }
        let division = shenhe::api::division_of(&a.rules, &report, &submission);
        if !caller.covers(division.as_deref()) {
            access::audit(db, &received_at, Some(&caller), "submission.file", division.as_deref(), 403, Some("outside the division"));
            return Ok(Err(access::outside_division(&caller, division.as_deref())));
        }
        let report_json = report.to_json();
        let (pack_id, pack_hash) = report.pack.as_ref().map_or((None, None), |p| (Some(p.id.clone()), Some(p.hash.clone())));
        let matches = client_hash.as_ref().map(|h| Some(h) == pack_hash.as_ref());
        let id = access::new_id();
        ops::evaluated(pack_id.as_deref(), report.status.as_str());
        db.execute(
            "INSERT INTO submissions (received_at, status, pack_id, pack_hash, client_bundle_hash, received, submission, report, public_id, division, division_prefix)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            vals![
                &received_at,
                report.status.as_str(),
                &pack_id,
                &pack_hash,
                &client_hash,
                &received_text,
                &submission.to_string(),
                &report_json,
                &id,
                &division,
                division.as_deref().and_then(shenhe::division::prefix)
            ],
        )?;
        access::audit(db, &received_at, Some(&caller), "submission.file", Some(&id), 201, None);
        let report_value: Value = serde_json::from_str(&report_json)?;
        let answer = json!({
            "id": id,
            "received_at": received_at,
            "status": report.status.as_str(),
            "pack_hash": pack_hash,
            "client_bundle_hash": client_hash,
            "bundle_hash_matches": matches,
            "report": report_value,
        })
        .to_string();
        if let Some(k) = &key {
            idempotent::record(db, &caller.who, "submissions", k, StatusCode::CREATED, &answer, &received_at)?;
        }
        Ok(Ok(answer))
    })
    .await;
    match result {
        Ok(Ok(Ok(body))) => json_response(StatusCode::CREATED, body),
        Ok(Ok(Err(refused))) => refused,
        Ok(Err(e)) => store_failed(&e),
        Err(r) => r,
    }
}

/// `503` for a store that failed; the operator's log gets the reason.
fn store_failed(e: &anyhow::Error) -> Response {
    tracing::error!(target: "shenhe::store", "the store failed: {e:#}");
    error(StatusCode::SERVICE_UNAVAILABLE, "store_failed", format!("{e:#}"))
}

/// Runs `f` in one transaction of the store, on the blocking pool, within
/// the per-request time limit (past it, the transaction rolls back).
async fn stored<T: Send + 'static>(
    app: &Arc<App>,
    f: impl FnOnce(&App, &mut dyn Db) -> anyhow::Result<T> + Send + 'static,
) -> Result<anyhow::Result<T>, Response> {
    blocking_for(app, app.timeout, move |a, deadline| a.store.transaction_within(deadline, |db| f(a, db))).await
}

/// `GET /api/submissions/{id}`: what was received, what was judged, and the report.
async fn fetch(State(app): State<Arc<App>>, headers: HeaderMap, UrlPath(id): UrlPath<String>) -> Response {
    let caller = match authorize(&app, &headers, "submission.read", access::READERS).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let shown = id.clone();
    let row = stored(&app, move |_, db| {
        let row = db.query_opt(
            "SELECT received_at, status, pack_id, pack_hash, client_bundle_hash, received, submission, report,
                    (SELECT public_id FROM batches WHERE batches.id = submissions.batch_id), source, division
             FROM submissions WHERE public_id = $1",
            vals![&id],
        )?;
        let parse = |s: String| serde_json::from_str::<Value>(&s).unwrap_or(Value::String(s));
        let row = row.map(|r| {
            (
                r.text(10),
                json!({
                    "id": id,
                    "received_at": r.string(0),
                    "status": r.string(1),
                    "pack_id": r.text(2),
                    "pack_hash": r.text(3),
                    "client_bundle_hash": r.text(4),
                    "received": parse(r.string(5)),
                    "submission": parse(r.string(6)),
                    "report": parse(r.string(7)),
                    "batch_id": r.text(8),
                    "source": r.text(9),
                }),
            )
        });
        // Outside the caller's division reads as missing: its existence does not leak.
        let visible = row.filter(|(division, _)| caller.covers(division.as_deref())).map(|(_, v)| v);
        Ok(access::audited_lookup(db, &caller, "submission.read", &id, visible))
    })
    .await;
    found(row, &format!("no submission {shown}"))
}

#[derive(serde::Deserialize)]
struct ListQuery {
    status: Option<String>,
    pack: Option<String>,
    /// A division inside the caller's (the caller's own when absent).
    division: Option<String>,
    /// 1-based page of 50, newest first.
    page: Option<u32>,
}

const PAGE: u32 = 50;

/// `GET /api/submissions?status=needs_explanation&pack=…&division=…&page=N`:
/// the worklist, newest first, 50 a page, only inside the caller's division.
async fn worklist(State(app): State<Arc<App>>, headers: HeaderMap, axum::extract::Query(q): axum::extract::Query<ListQuery>) -> Response {
    let caller = match authorize(&app, &headers, "submission.list", access::READERS).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let division = q.division.clone().unwrap_or_else(|| caller.division.clone());
    if !shenhe::division::covers(&caller.division, &division) {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("没有区划{division}的数据。 No data for division {division}."),
        );
    }
    let Some(prefix) = shenhe::division::prefix(&division).map(str::to_owned) else {
        return error(StatusCode::BAD_REQUEST, "bad_division", format!("{division:?} is not a division code"));
    };
    let page = q.page.unwrap_or(1).max(1);
    let rows = stored(&app, move |_, db| {
        let rows = db.query(
            "SELECT public_id, received_at, status, pack_id, division, batch_id IS NOT NULL FROM submissions
             WHERE (CAST($1 AS TEXT) IS NULL OR status = $1) AND (CAST($2 AS TEXT) IS NULL OR pack_id = $2)
               AND ($3 = '' OR division_prefix LIKE $3 || '%')
             ORDER BY id DESC LIMIT $4 OFFSET $5",
            vals![&q.status, &q.pack, &prefix, PAGE + 1, (page - 1) * PAGE],
        )?;
        let more = rows.len() > PAGE as usize;
        let items: Vec<Value> = rows
            .iter()
            .take(PAGE as usize)
            .map(|r| {
                json!({
                    "id": r.text(0),
                    "received_at": r.string(1),
                    "status": r.string(2),
                    "pack_id": r.text(3),
                    "division": r.text(4),
                    "from_batch": r.int(5) != 0,
                })
            })
            .collect();
        access::audit(
            db,
            &now_shanghai(),
            Some(&caller),
            "submission.list",
            Some(&division),
            200,
            Some(&format!("page {page}, {} rows", items.len())),
        );
        Ok(Some(
            json!({ "division": division, "page": page, "next_page": more.then_some(page + 1), "submissions": items }),
        ))
    })
    .await;
    found(rows, "no submissions")
}

/// `GET /api/audit?page=N`: the audit log, newest first, 200 a page (admins only).
async fn audit_log(State(app): State<Arc<App>>, headers: HeaderMap, axum::extract::Query(q): axum::extract::Query<ListQuery>) -> Response {
    let caller = match authorize(&app, &headers, "audit.read", &[access::Role::Admin]).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let page = q.page.unwrap_or(1).max(1);
    let rows = stored(&app, move |_, db| {
        access::audit(db, &now_shanghai(), Some(&caller), "audit.read", None, 200, None);
        let rows = db.query(
            "SELECT seq, at, who, role, division, action, target, status, detail FROM audit ORDER BY seq DESC LIMIT 200 OFFSET $1",
            vals![(page - 1) * 200],
        )?;
        let items = rows
            .iter()
            .map(|r| {
                json!({
                    "seq": r.int(0),
                    "at": r.string(1),
                    "who": r.text(2),
                    "role": r.text(3),
                    "division": r.text(4),
                    "action": r.string(5),
                    "target": r.text(6),
                    "status": r.int(7),
                    "detail": r.text(8),
                })
            })
            .collect();
        Ok(Some(Value::Array(items)))
    })
    .await;
    found(rows, "no audit entries")
}

/// Authenticates a request and checks its role; refusals are audited.
async fn authorize(app: &Arc<App>, headers: &HeaderMap, action: &'static str, roles: &'static [access::Role]) -> Result<access::Caller, Response> {
    let headers = headers.clone();
    let answer = stored(app, move |a, db| {
        let now = now_shanghai();
        let caller = match access::authenticate(db, a.jwt.as_ref(), &headers, &now, action) {
            Ok(c) => c,
            Err(refused) => return Ok(Err(refused)),
        };
        if !roles.contains(&caller.role) {
            access::audit(db, &now, Some(&caller), action, None, 403, Some("wrong role"));
            return Ok(Err(access::wrong_role(&caller, roles)));
        }
        Ok(Ok(caller))
    })
    .await?;
    answer.unwrap_or_else(|e| Err(store_failed(&e)))
}

/// The answer to a lookup by id: the row as JSON, 404, or the store's failure.
fn found(row: Result<anyhow::Result<Option<Value>>, Response>, missing: &str) -> Response {
    match row {
        Ok(Ok(Some(v))) => json_response(StatusCode::OK, v.to_string()),
        Ok(Ok(None)) => error(StatusCode::NOT_FOUND, "not_found", missing),
        Ok(Err(e)) => store_failed(&e),
        Err(r) => r,
    }
}

/// `GET /api/packs`: the packs this server judges with, and their hashes.
async fn packs(State(app): State<Arc<App>>) -> Response {
    json_response(StatusCode::OK, app.packs.clone())
}

/// `GET /gen/…`: the bundles and playground sources, built from the packs
/// this server loaded, so the browser's bundle hash is the server's;
/// compressed for clients that accept it, with an `ETag`.
async fn generated(State(app): State<Arc<App>>, UrlPath(path): UrlPath<String>, headers: HeaderMap) -> Response {
    match app.generated.get(&path) {
        Some(asset) => asset.respond(&headers),
        None => error(StatusCode::NOT_FOUND, "not_found", format!("no generated file {path}")),
    }
}
