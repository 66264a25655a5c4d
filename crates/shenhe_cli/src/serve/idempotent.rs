//! `Idempotency-Key` for `POST /api/submissions` and `POST /api/batches`: a
//! repeat with the same key and body gets the original answer and stores
//! nothing new; the same key with another body is `409`.
//!
//! The answer is recorded in the same transaction as the rows it stored, so a
//! crash between the commit and the answer, or a `503` after a slow commit,
//! leaves a key whose retry returns the first answer instead of a second row.
//! Keys belong to the caller (token or JWT subject) that used them.

use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};

use super::{
    error,
    store::{Db, vals},
};

/// A request's key: its `Idempotency-Key` header, if any (1–200 visible ASCII characters).
pub struct Key {
    key: String,
    body_sha256: Vec<u8>,
}

/// The key of a request with this body, `None` without the header, or the `400` for a bad one.
pub fn key(headers: &HeaderMap, body: &[u8]) -> Result<Option<Key>, Response> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value.to_str().unwrap_or("").trim();
    if key.is_empty() || key.len() > 200 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "bad_idempotency_key",
            "Idempotency-Key must be 1 to 200 visible ASCII characters (a UUID is usual)",
        ));
    }
    Ok(Some(Key {
        key: key.to_owned(),
        body_sha256: Sha256::digest(body).to_vec(),
    }))
}

/// Holds this caller's key until the transaction ends: a repeat that arrives
/// at another replica while the first is being stored waits, then finds it.
pub fn lock(db: &mut dyn Db, who: &str, k: &Key) -> anyhow::Result<()> {
    db.lock(&format!("idempotency {who} {}", k.key))
}

/// The answer given the first time this key was used, or `409` when it came
/// with another body or on another route; `None` when the key is new.
pub fn prior(db: &mut dyn Db, who: &str, route: &str, k: &Key) -> anyhow::Result<Option<Response>> {
    let row = db.query_opt(
        "SELECT route, body_sha256, status, answer FROM idempotency WHERE who = $1 AND key = $2",
        vals![who, &k.key],
    )?;
    Ok(row.map(|r| {
        let (first_route, body, status, answer) = (r.string(0), r.bytes(1), r.int(2), r.string(3));
        if first_route == route && body == k.body_sha256 {
            let status = u16::try_from(status).ok().and_then(|s| StatusCode::from_u16(s).ok()).unwrap_or(StatusCode::OK);
            let mut r = (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], answer).into_response();
            r.headers_mut().insert("idempotent-replay", HeaderValue::from_static("true"));
            r
        } else {
            error(
                StatusCode::CONFLICT,
                "idempotency_key_reused",
                format!(
                    "幂等键{:?}已用于另一份内容，未予保存。 Idempotency-Key {:?} was already used with a different request; nothing was stored.",
                    k.key, k.key
                ),
            )
        }
    }))
}

/// Records the answer under the key, in the caller's transaction.
pub fn record(db: &mut dyn Db, who: &str, route: &str, k: &Key, status: StatusCode, answer: &str, now: &str) -> anyhow::Result<()> {
    db.execute(
        "INSERT INTO idempotency (who, key, route, body_sha256, status, answer, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        vals![who, &k.key, route, &k.body_sha256, status.as_u16(), answer, now],
    )?;
    Ok(())
}
