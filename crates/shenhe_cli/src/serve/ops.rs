//! What an operator watches: `/healthz`, `/readyz`, `/metrics`
//! (Prometheus text), one structured log line per request, and the
//! durability settings of the store.
//!
//! Log lines and metric labels carry the route template (`/api/submissions/{id}`),
//! the method, the status and the time taken: no ids, no query strings, no
//! bodies, no tokens, so no personal data.

use std::{sync::Arc, time::Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    http::StatusCode,
    middleware::Next,
    response::{IntoResponse, Response},
};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;

use super::{App, blocking, json_response};

/// How request logs are written (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line (for a log collector).
    Json,
}

/// Starts logging to stdout. `RUST_LOG` filters as usual (default `info`).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: a log file or collector gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .with_target(true)
        .with_ansi(ansi);
    // A second init (tests in one process) keeps the first.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Installs the Prometheus recorder; its handle renders `/metrics`.
pub fn init_metrics() -> anyhow::Result<PrometheusHandle> {
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets(&[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0])?
        .install_recorder()?;
    metrics::describe_counter!("shenhe_http_requests_total", "HTTP requests by route, method and status");
    metrics::describe_histogram!("shenhe_http_request_duration_seconds", "HTTP request latency by route");
    metrics::describe_counter!("shenhe_evaluations_total", "Submissions judged, by pack and status");
    metrics::describe_histogram!("shenhe_batch_submissions", "Submissions per batch upload");
    metrics::describe_histogram!("shenhe_db_wait_seconds", "Time a request waited for the database connection");
    metrics::describe_gauge!(
        "shenhe_db_pool_connections",
        "PostgreSQL connections of this replica's pool, by state (idle, in_use)"
    );
    metrics::describe_gauge!("shenhe_db_pool_max_connections", "The most connections this replica's pool opens");
    metrics::describe_gauge!("shenhe_db_pool_waiting", "Requests waiting for a pool connection");
    Ok(handle)
}

/// Middleware: one log line and the request metrics for every request.
pub async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    // The route template, not the path: ids stay out of logs and labels.
    let route = request.extensions().get::<MatchedPath>().map_or_else(
        || if request.uri().path().starts_with("/api/") { "/api/…" } else { "static" }.to_owned(),
        |m| m.as_str().to_owned(),
    );
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let seconds = started.elapsed().as_secs_f64();
    metrics::counter!("shenhe_http_requests_total", "route" => route.clone(), "method" => method.to_string(), "status" => status.to_string()).increment(1);
    metrics::histogram!("shenhe_http_request_duration_seconds", "route" => route.clone()).record(seconds);
    tracing::info!(target: "shenhe::http", method = %method, route = %route, status, ms = seconds * 1000.0, "request");
    response
}

/// Counts a judged submission (`/api/submissions` and each line of a batch).
pub fn evaluated(pack: Option<&str>, status: &str) {
    metrics::counter!("shenhe_evaluations_total", "pack" => pack.unwrap_or("none").to_owned(), "status" => status.to_owned()).increment(1);
}

/// `GET /healthz`: the process is up.
pub async fn healthz() -> Response {
    json_response(StatusCode::OK, json!({ "status": "up" }).to_string())
}

/// `GET /readyz`: packs loaded and the database answering, with the
/// durability settings in force; `503` when the database does not answer.
pub async fn readyz(State(app): State<Arc<App>>) -> Response {
    let packs = app.rules.packs().len();
    let answer = blocking(&app, |a| a.store.durability()).await;
    match answer {
        Ok(Ok(database)) if packs > 0 => json_response(
            StatusCode::OK,
            json!({
                "status": "ready",
                "packs": packs,
                "pack_hashes": a_pack_hashes(&app),
                "database": database,
            })
            .to_string(),
        ),
        Ok(Ok(_)) => json_response(StatusCode::SERVICE_UNAVAILABLE, json!({ "status": "no packs loaded" }).to_string()),
        Ok(Err(e)) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "status": "database unavailable", "error": format!("{e:#}") }).to_string(),
        ),
        Err(r) => r,
    }
}

/// Each pack this replica judges with, and its hash: during a rolling
/// upgrade, which replica runs which rules.
fn a_pack_hashes(app: &App) -> serde_json::Map<String, serde_json::Value> {
    app.rules.packs().iter().map(|p| (p.manifest().id.clone(), p.hash().into())).collect()
}

/// `GET /metrics`: Prometheus text format, with the pool's state as of now.
pub async fn metrics(State(app): State<Arc<App>>) -> Response {
    if let Some((size, available, waiting, max)) = app.store.pool_status() {
        metrics::gauge!("shenhe_db_pool_connections", "state" => "idle").set(available as f64);
        metrics::gauge!("shenhe_db_pool_connections", "state" => "in_use").set(size.saturating_sub(available) as f64);
        metrics::gauge!("shenhe_db_pool_max_connections").set(max as f64);
        metrics::gauge!("shenhe_db_pool_waiting").set(waiting as f64);
    }
    let handle: &PrometheusHandle = &app.metrics;
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()).into_response()
}
