//! Who may file and read what: bearer tokens scoped by administrative
//! division (contract §4.3), and the audit trail of every filing, read,
//! refusal and token change.
//!
//! A token is `shk_<id>_<secret>`. Only the SHA-256 of the secret is stored,
//! and it is compared in constant time. Roles: `submitter` files and reads
//! its division's submissions; `reviewer` reads them; `admin` manages tokens
//! and reads the audit log. A division covers every code under it (`CN`
//! covers all).

use std::fmt::Write as _;

use anyhow::{Context, Result, bail};
use axum::{
    http::{HeaderMap, StatusCode, header},
    response::Response,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{
    error,
    store::{Db, vals},
};

/// What a credential may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    Submitter,
    Reviewer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitter => "submitter",
            Self::Reviewer => "reviewer",
            Self::Admin => "admin",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "submitter" => Some(Self::Submitter),
            "reviewer" => Some(Self::Reviewer),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// Every role: who may read stored data inside their division.
pub const READERS: &[Role] = &[Role::Submitter, Role::Reviewer, Role::Admin];

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Token id (`tok_…`), as the audit log names it.
    pub who: String,
    pub role: Role,
    pub division: String,
}

impl Caller {
    /// Whether a submission of division `code` is inside this caller's division.
    pub fn covers(&self, code: Option<&str>) -> bool {
        match code {
            Some(c) => shenhe::division::covers(&self.division, c),
            None => shenhe::division::prefix(&self.division) == Some(""),
        }
    }
}

fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0_u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| anyhow::anyhow!("no system randomness: {e}"))?;
    Ok(buf.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    }))
}

fn sha256(text: &str) -> Vec<u8> {
    Sha256::digest(text.as_bytes()).to_vec()
}

/// `shenhe token add`: stores a new token and returns it (shown once).
pub fn add(db: &mut dyn Db, role: Role, division: &str, name: &str, expires: Option<&str>, now: &str) -> Result<String> {
    if shenhe::division::prefix(division).is_none() {
        bail!("--division {division:?} is not a division code: give CN, a province (14), a prefecture (141000), a county (141029) or a 9/12-digit code");
    }
    if let Some(date) = expires {
        time::Date::parse(date, time::macros::format_description!("[year]-[month]-[day]"))
            .with_context(|| format!("--expires {date:?} is not a date like 2026-12-31"))?;
    }
    let id = format!("tok_{}", random_hex(6)?);
    let secret = random_hex(24)?;
    db.execute(
        "INSERT INTO tokens (id, secret_sha256, role, division, name, created_at, expires) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        vals![&id, sha256(&secret).as_slice(), role.as_str(), division, name, now, expires],
    )?;
    audit(
        db,
        now,
        None,
        "token.add",
        Some(&id),
        200,
        Some(&format!("{} {division} {name}", role.as_str())),
    );
    Ok(format!("shk_{}_{secret}", &id[4..]))
}

/// `shenhe token list`: every token, without secrets.
pub fn list(db: &mut dyn Db) -> Result<Vec<Value>> {
    let rows = db.query(
        "SELECT id, role, division, name, created_at, expires, revoked_at FROM tokens ORDER BY created_at, id",
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|r| {
            json!({
                "id": r.string(0),
                "role": r.string(1),
                "division": r.string(2),
                "name": r.string(3),
                "created_at": r.string(4),
                "expires": r.text(5),
                "revoked_at": r.text(6),
            })
        })
        .collect())
}

/// `shenhe token revoke`: the token stops working at once.
pub fn revoke(db: &mut dyn Db, id: &str, now: &str) -> Result<()> {
    let n = db.execute("UPDATE tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL", vals![id, now])?;
    if n == 0 {
        bail!("no active token {id:?} (see `shenhe token list`)");
    }
    audit(db, now, None, "token.revoke", Some(id), 200, None);
    Ok(())
}

/// Appends one line to the audit log. A failure to write it is logged, not
/// hidden: the answer has been decided already.
pub fn audit(db: &mut dyn Db, now: &str, caller: Option<&Caller>, action: &str, target: Option<&str>, status: u16, detail: Option<&str>) {
    let who = caller.map(|c| (c.who.as_str(), c.role.as_str(), c.division.as_str()));
    audit_row(db, now, who, action, target, status, detail);
}

/// [`audit`]'s row; `who` is the token id, its role and its division, or
/// only the id the request named when it was refused before a caller was known.
fn audit_row(db: &mut dyn Db, now: &str, who: Option<(&str, &str, &str)>, action: &str, target: Option<&str>, status: u16, detail: Option<&str>) {
    let result = db.execute(
        "INSERT INTO audit (at, who, role, division, action, target, status, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        vals![
            now,
            who.map(|w| w.0),
            who.map(|w| w.1).filter(|r| !r.is_empty()),
            who.map(|w| w.2).filter(|d| !d.is_empty()),
            action,
            target,
            status,
            detail
        ],
    );
    if let Err(e) = result {
        eprintln!("shenhe serve: cannot write the audit log ({action} {target:?}): {e}");
    }
}

/// Audits a lookup by id (`200` when found, `404` when not) and returns it.
pub fn audited_lookup<T>(db: &mut dyn Db, caller: &Caller, action: &str, id: &str, row: Option<T>) -> Option<T> {
    let status = if row.is_some() { 200 } else { 404 };
    audit(db, &super::now_shanghai(), Some(caller), action, Some(id), status, None);
    row
}

/// Why a request is not authenticated (all are `401`).
fn unauthorized(message: &str) -> Response {
    let mut r = error(StatusCode::UNAUTHORIZED, "unauthorized", message);
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer realm=\"shenhe\""));
    r
}

/// How JWTs from a portal's identity provider are verified
/// (`shenhe serve --jwt-key …`): one public key and algorithm, a required
/// issuer and audience, and the claims that carry the role and the division.
pub struct JwtConfig {
    key: jsonwebtoken::DecodingKey,
    validation: jsonwebtoken::Validation,
    role_claim: String,
    division_claim: String,
}

/// The signature algorithms a portal's identity provider may use.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum JwtAlgorithm {
    Rs256,
    Es256,
}

impl JwtConfig {
    /// Reads the PEM public key; every claim named here is checked on each request.
    pub fn new(pem: &[u8], algorithm: JwtAlgorithm, issuer: &str, audience: &str, role_claim: &str, division_claim: &str) -> Result<Self> {
        let (key, alg) = match algorithm {
            JwtAlgorithm::Rs256 => (jsonwebtoken::DecodingKey::from_rsa_pem(pem), jsonwebtoken::Algorithm::RS256),
            JwtAlgorithm::Es256 => (jsonwebtoken::DecodingKey::from_ec_pem(pem), jsonwebtoken::Algorithm::ES256),
        };
        let key = key.context("--jwt-key is not a PEM public key for --jwt-algorithm")?;
        // Only the configured algorithm: `alg: none` and HMAC tricks are refused.
        let mut validation = jsonwebtoken::Validation::new(alg);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = 30;
        Ok(Self {
            key,
            validation,
            role_claim: role_claim.to_owned(),
            division_claim: division_claim.to_owned(),
        })
    }

    fn verify(&self, token: &str) -> Result<Caller, String> {
        let data = jsonwebtoken::decode::<Value>(token, &self.key, &self.validation).map_err(|e| format!("the JWT is refused ({e})."))?;
        let claims = data.claims;
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let role = text(&self.role_claim)
            .as_deref()
            .and_then(Role::parse)
            .ok_or_else(|| format!("the JWT's {:?} claim is not submitter, reviewer or admin.", self.role_claim))?;
        let division = text(&self.division_claim)
            .filter(|d| shenhe::division::prefix(d).is_some())
            .ok_or_else(|| format!("the JWT's {:?} claim is not a division code.", self.division_claim))?;
        let subject = text("sub").unwrap_or_default();
        Ok(Caller {
            who: format!("jwt:{subject}"),
            role,
            division,
        })
    }
}

/// The caller of a request from its `Authorization: Bearer` token (a
/// shenhe token, or a JWT when `jwt` is configured), or the `401` (logged
/// in the audit table) that says what is wrong.
pub fn authenticate(db: &mut dyn Db, jwt: Option<&JwtConfig>, headers: &HeaderMap, now: &str, action: &str) -> Result<Caller, Response> {
    // Takes the store as an argument, so the lookup below can use it too.
    let refuse = |db: &mut dyn Db, why: &str, who: Option<&str>| {
        audit_row(db, now, who.map(|id| (id, "", "")), action, None, 401, Some(why));
        unauthorized(&format!("{why} 需要有效的访问令牌（Authorization: Bearer …）"))
    };
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return Err(refuse(db, "no credential.", None));
    };
    let Some(token) = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).map(str::trim) else {
        return Err(refuse(db, "the Authorization header is not a Bearer token.", None));
    };
    let Some((id, secret)) = token.strip_prefix("shk_").and_then(|t| t.split_once('_')) else {
        return match jwt {
            Some(config) if token.split('.').count() == 3 => config.verify(token).map_err(|why| refuse(db, &why, None)),
            _ => Err(refuse(db, "the token is not a shenhe token (shk_…).", None)),
        };
    };
    let id = format!("tok_{id}");
    let row = db
        .query_opt(
            "SELECT secret_sha256, role, division, expires, revoked_at FROM tokens WHERE id = $1",
            vals![&id],
        )
        .map_err(|e| error(StatusCode::SERVICE_UNAVAILABLE, "store_failed", e.to_string()))?;
    // The presented secret is hashed whether or not the id exists; a hash
    // that is stored is compared in constant time.
    let presented = sha256(secret);
    let Some(row) = row else {
        return Err(refuse(db, "unknown token.", None));
    };
    let (stored, role, division, expires, revoked) = (row.bytes(0), row.string(1), row.string(2), row.text(3), row.text(4));
    if !bool::from(presented.ct_eq(&stored)) {
        return Err(refuse(db, "unknown token.", Some(&id)));
    }
    if revoked.is_some() {
        return Err(refuse(db, "the token was revoked.", Some(&id)));
    }
    // `expires` is a date (the token works through that day, Asia/Shanghai);
    // `now` is RFC 3339 in Asia/Shanghai, so the date prefixes compare.
    if expires.as_deref().is_some_and(|day| now.get(..10).is_some_and(|today| today > day)) {
        return Err(refuse(db, "the token has expired.", Some(&id)));
    }
    let Some(role) = Role::parse(&role) else {
        return Err(refuse(db, "the token has an unknown role.", Some(&id)));
    };
    Ok(Caller { who: id, role, division })
}

/// `403` for filing outside one's division: nothing was stored.
pub fn outside_division(caller: &Caller, code: Option<&str>) -> Response {
    let code = code.unwrap_or("（未填写）");
    error(
        StatusCode::FORBIDDEN,
        "outside_division",
        format!(
            "该报表属于区划{code}，不在您的辖区{}（{}）内，未予保存。 This submission belongs to division {code}, which is outside your division {}; nothing was stored.",
            caller.division,
            shenhe::division::level_zh(&caller.division),
            caller.division
        ),
    )
}

/// `403` for a role that may not do this.
pub fn wrong_role(caller: &Caller, allowed: &[Role]) -> Response {
    let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
    error(
        StatusCode::FORBIDDEN,
        "wrong_role",
        format!(
            "您的令牌角色为{}，无权执行此操作（需要：{}）。 Your token's role is {}; this needs {}.",
            caller.role.as_str(),
            names.join("/"),
            caller.role.as_str(),
            names.join(" or ")
        ),
    )
}

/// An opaque id for a stored row: a UUIDv7 (time-ordered, not guessable).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
