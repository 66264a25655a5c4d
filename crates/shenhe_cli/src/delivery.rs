//! Delivering files as a CDN would: compressed once (brotli, gzip), chosen
//! by the client's `Accept-Encoding`, validated with an `ETag`, and cached
//! for a year when the file name carries its content hash.
//!
//! `shenhe export` writes the `.br` and `.gz` files beside its outputs, so a
//! static server (nginx `brotli_static`/`gzip_static`) serves the same bytes
//! that `shenhe serve` does.

use std::{
    io::Write,
    sync::{Arc, OnceLock},
};

use axum::body::Bytes;

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};

/// `Cache-Control` for a file whose name carries its content hash.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` for every other static file: keep it, but ask first
/// (answered with a `304` while it is unchanged).
pub const REVALIDATE: &str = "no-cache";
/// `Cache-Control` for the API: submissions are personal data.
pub const NO_STORE: &str = "no-store";

/// A content coding this server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Brotli,
    Gzip,
    Identity,
}

impl Coding {
    fn header(self) -> Option<HeaderValue> {
        match self {
            Self::Brotli => Some(HeaderValue::from_static("br")),
            Self::Gzip => Some(HeaderValue::from_static("gzip")),
            Self::Identity => None,
        }
    }
}

/// The coding to send for an `Accept-Encoding` header: brotli, then gzip,
/// when the client accepts them (a `q=0` refuses one; `*` accepts both).
pub fn negotiate(headers: &HeaderMap) -> Coding {
    let Some(accept) = headers.get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()) else {
        return Coding::Identity;
    };
    let mut br = None;
    let mut gzip = None;
    let mut any = None;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let accepted = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .next_back()
            .is_none_or(|q| q.trim().parse::<f32>().is_ok_and(|q| q > 0.0));
        match name.as_str() {
            "br" => br = Some(accepted),
            "gzip" | "x-gzip" => gzip = Some(accepted),
            "*" => any = Some(accepted),
            _ => {}
        }
    }
    if br.or(any) == Some(true) {
        Coding::Brotli
    } else if gzip.or(any) == Some(true) {
        Coding::Gzip
    } else {
        Coding::Identity
    }
}

/// gzip at its best compression (as `gzip -9`).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 3), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// brotli at `quality` (0–11; 11 is what a build step uses).
pub fn brotli(bytes: &[u8], quality: i32) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() / 4);
    let params = brotli::enc::BrotliEncoderParams {
        quality,
        lgwin: 22,
        ..Default::default()
    };
    // Reading from a slice and writing to a Vec cannot fail.
    let _ = brotli::BrotliCompress(&mut &bytes[..], &mut out, &params);
    out
}

/// A strong `ETag` from the content: the first 16 bytes of its SHA-256.
pub fn etag(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// Whether a file name carries a content hash: a dot-separated part of at
/// least 8 hexadecimal digits before the extension, as in
/// `shenhe_wasm_bg.3f9a0c1d2e4b.wasm`.
pub fn is_hashed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let mut parts: Vec<&str> = name.split('.').collect();
    if parts.len() < 3 {
        return false;
    }
    parts.pop();
    parts[1..].iter().any(|p| p.len() >= 8 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// One file served from memory, with its compressed forms made on first use.
pub struct Asset {
    content_type: &'static str,
    body: Bytes,
    etag: String,
    etag_header: HeaderValue,
    brotli: OnceLock<Bytes>,
    gzip: OnceLock<Bytes>,
}

impl Asset {
    pub fn new(content_type: &'static str, body: Vec<u8>) -> Self {
        let etag = etag(&body);
        Self {
            content_type,
            // A quoted hex digest is always a valid header value.
            etag_header: HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\"")),
            etag,
            body: body.into(),
            brotli: OnceLock::new(),
            gzip: OnceLock::new(),
        }
    }

    /// The body in `coding`; `Bytes` clones share the buffer.
    fn encoded(&self, coding: Coding) -> Bytes {
        match coding {
            // Quality 9 is within a few per cent of 11 on JSON and many
            // times faster; it runs once per file and process.
            Coding::Brotli => self.brotli.get_or_init(|| brotli(&self.body, 9).into()).clone(),
            Coding::Gzip => self.gzip.get_or_init(|| gzip(&self.body).into()).clone(),
            Coding::Identity => self.body.clone(),
        }
    }

    /// The answer to a `GET` of this file: `304` when the client's
    /// `If-None-Match` names the current `ETag`, else the body in the best
    /// coding the client accepts.
    pub fn respond(&self, request: &HeaderMap) -> Response {
        let matches = request
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| {
                let t = t.trim();
                t == "*" || t.trim_start_matches("W/") == self.etag
            });
        let mut response = if matches {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let coding = negotiate(request);
            let mut r = Response::new(Body::from(self.encoded(coding)));
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(self.content_type));
            if let Some(h) = coding.header() {
                r.headers_mut().insert(header::CONTENT_ENCODING, h);
            }
            r
        };
        let h = response.headers_mut();
        h.insert(header::ETAG, self.etag_header.clone());
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        response
    }
}

/// The browser hardening every response gets: a Content-Security-Policy
/// that allows this origin's scripts and the wasm module and nothing from
/// elsewhere, `nosniff`, no `Referer`, and the configured `frame-ancestors`.
pub struct Hardening {
    /// For the pages and files (`/`, `/pkg/`, `/gen/`, `/playground/`).
    site: HeaderValue,
    /// For the API, whose only HTML is the batch summary (inline styles, no scripts).
    api: HeaderValue,
}

impl Hardening {
    /// `frame_ancestors`: who may frame the pages (`'self'`, `'none'`, or
    /// origins such as `https://portal.example.gov.cn`).
    pub fn new(frame_ancestors: &str) -> anyhow::Result<Self> {
        let fa = frame_ancestors.trim();
        if fa.is_empty() || fa.chars().any(|c| c == ';' || c == ',' || c.is_control()) {
            anyhow::bail!("--frame-ancestors {frame_ancestors:?}: give 'self', 'none' or space-separated origins");
        }
        let site = format!(
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {fa}"
        );
        let api = format!("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors {fa}");
        Ok(Self {
            site: HeaderValue::from_str(&site)?,
            api: HeaderValue::from_str(&api)?,
        })
    }
}

/// Middleware: the [`Hardening`] headers; `Cache-Control` by route (the
/// API is never stored; hashed static files are immutable; the rest
/// revalidate); and `Vary: Accept-Encoding` on static files, whose coding
/// depends on the client.
pub async fn response_headers(State(hardening): State<Arc<Hardening>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    let api = path.starts_with("/api/");
    let policy = if api {
        NO_STORE
    } else if is_hashed(&path) && response.status().is_success() {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        if api { hardening.api.clone() } else { hardening.site.clone() },
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // The demo passes its token in the URL: never send URLs on.
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static(policy));
    if !api {
        h.entry(header::VARY).or_insert(HeaderValue::from_static("accept-encoding"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn negotiation_prefers_brotli_and_honours_q_zero() {
        assert_eq!(negotiate(&HeaderMap::new()), Coding::Identity);
        assert_eq!(negotiate(&accept("gzip, deflate, br, zstd")), Coding::Brotli);
        assert_eq!(negotiate(&accept("gzip")), Coding::Gzip);
        assert_eq!(negotiate(&accept("br;q=0, gzip;q=0.5")), Coding::Gzip);
        assert_eq!(negotiate(&accept("br;q=0, gzip;q=0")), Coding::Identity);
        assert_eq!(negotiate(&accept("*")), Coding::Brotli);
        assert_eq!(negotiate(&accept("identity")), Coding::Identity);
    }

    #[test]
    fn hashed_names() {
        assert!(is_hashed("/pkg/shenhe_wasm_bg.3f9a0c1d2e4b.wasm"));
        assert!(!is_hashed("/pkg/shenhe_wasm_bg.wasm"));
        assert!(!is_hashed("/gen/bundles/national-medical-team-2024.json"));
        assert!(!is_hashed("/deadbeefcafe.js"));
    }

    #[test]
    fn compressed_forms_round_trip() {
        let text = "{\"a\":1}".repeat(500);
        let gz = gzip(text.as_bytes());
        let mut back = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut back).unwrap();
        assert_eq!(back, text);
        let br = brotli(text.as_bytes(), 11);
        let mut out = Vec::new();
        brotli::BrotliDecompress(&mut &br[..], &mut out).unwrap();
        assert_eq!(out, text.as_bytes());
        assert!(br.len() < text.len() / 10 && gz.len() < text.len() / 10);
    }
}
