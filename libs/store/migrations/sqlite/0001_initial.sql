-- Claude Ops control-plane schema, SQLite flavour.
-- Times are unix milliseconds (INTEGER). JSON is stored as TEXT.
-- Keep in step with ../postgres/0001_initial.sql: same tables, columns and rules.

-- One run of the `claude` CLI at one tier on one site.
CREATE TABLE sessions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    site          TEXT    NOT NULL,
    worker_id     TEXT,
    tier          INTEGER NOT NULL,
    model         TEXT    NOT NULL,
    triggered_by  TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    prompt        TEXT,
    parent_id     INTEGER REFERENCES sessions (id),
    started_at_ms INTEGER NOT NULL,
    ended_at_ms   INTEGER,
    cost_usd      REAL    NOT NULL DEFAULT 0,
    turns         INTEGER NOT NULL DEFAULT 0,
    exit_code     INTEGER,
    response      TEXT,
    structured    TEXT,
    error         TEXT
);

-- At most one running session per site, enforced by the database itself.
CREATE UNIQUE INDEX sessions_one_running_per_site ON sessions (site) WHERE status = 'running';
CREATE INDEX sessions_by_start ON sessions (started_at_ms DESC, id DESC);
CREATE INDEX sessions_by_site ON sessions (site, started_at_ms DESC, id DESC);
CREATE INDEX sessions_by_trigger ON sessions (site, triggered_by, started_at_ms);

-- The CLI's stdout lines, numbered by the worker; (session_id, seq) makes replays harmless.
CREATE TABLE session_output (
    session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    ts_ms      INTEGER NOT NULL,
    line       TEXT    NOT NULL,
    malformed  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;

-- Enrolled workers and their client certificates.
CREATE TABLE workers (
    id                TEXT    PRIMARY KEY,
    site              TEXT    NOT NULL,
    hostname          TEXT    NOT NULL,
    version           TEXT    NOT NULL,
    capabilities      TEXT    NOT NULL DEFAULT '[]',
    cert_serial       TEXT    NOT NULL UNIQUE,
    cert_fingerprint  TEXT    NOT NULL,
    cert_not_after_ms INTEGER NOT NULL,
    enrolled_at_ms    INTEGER NOT NULL,
    last_seen_ms      INTEGER,
    revoked_at_ms     INTEGER
);

CREATE INDEX workers_by_site ON workers (site);

-- One-time enrollment tokens; only a hash of the secret is kept.
CREATE TABLE enroll_tokens (
    id            TEXT    PRIMARY KEY,
    secret_hash   TEXT    NOT NULL,
    site          TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    used_at_ms    INTEGER
);

-- Timestamped facts for the dashboard and escalation.
CREATE TABLE events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ms      INTEGER NOT NULL,
    site       TEXT    NOT NULL,
    session_id INTEGER REFERENCES sessions (id) ON DELETE SET NULL,
    level      TEXT    NOT NULL,
    service    TEXT,
    message    TEXT    NOT NULL
);

CREATE INDEX events_by_time ON events (ts_ms DESC, id DESC);
CREATE INDEX events_by_site ON events (site, ts_ms DESC, id DESC);

-- Runtime settings changed from the dashboard.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
