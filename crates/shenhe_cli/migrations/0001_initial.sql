-- The tables of shenhe serve, for SQLite and PostgreSQL alike. The store
-- fills in the words in braces: serial (a generated row id), bytes (BLOB
-- or BYTEA) and prefix_ops (PostgreSQL's operator class for LIKE 'prefix%').
-- IF NOT EXISTS: a SQLite file from before versioned migrations already holds
-- these tables (the columns it lacks are added before this runs).
CREATE TABLE IF NOT EXISTS submissions (
    id {serial},
    received_at TEXT NOT NULL,
    status TEXT NOT NULL,
    pack_id TEXT,
    pack_hash TEXT,
    client_bundle_hash TEXT,
    received TEXT NOT NULL,
    submission TEXT NOT NULL,
    report TEXT NOT NULL,
    batch_id BIGINT,
    source TEXT,
    public_id TEXT,
    division TEXT,
    division_prefix TEXT
);
CREATE INDEX IF NOT EXISTS submissions_status ON submissions(status);
CREATE INDEX IF NOT EXISTS submissions_batch ON submissions(batch_id);
CREATE UNIQUE INDEX IF NOT EXISTS submissions_public_id ON submissions(public_id);
-- The worklist's prefix search (LIKE 'prefix%').
CREATE INDEX IF NOT EXISTS submissions_division_prefix ON submissions(division_prefix{prefix_ops});
CREATE TABLE IF NOT EXISTS batches (
    id {serial},
    received_at TEXT NOT NULL,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    received {bytes} NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    report TEXT,
    summary_html TEXT,
    public_id TEXT,
    uploader TEXT,
    division_prefix TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS batches_public_id ON batches(public_id);
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    secret_sha256 {bytes} NOT NULL,
    role TEXT NOT NULL,
    division TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires TEXT,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS audit (
    seq {serial},
    at TEXT NOT NULL,
    who TEXT,
    role TEXT,
    division TEXT,
    action TEXT NOT NULL,
    target TEXT,
    status BIGINT NOT NULL,
    detail TEXT
);
CREATE TABLE IF NOT EXISTS idempotency (
    who TEXT NOT NULL,
    key TEXT NOT NULL,
    route TEXT NOT NULL,
    body_sha256 {bytes} NOT NULL,
    status BIGINT NOT NULL,
    answer TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (who, key)
);
