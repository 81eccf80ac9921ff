-- Native probes and what follows from them: each probe's latest state and its recent
-- attempts (reported by workers), incidents (a service whose probes went down; at
-- most one open per site and service, enforced by a partial unique index), what each
-- worker found on its host, and every notification delivery attempt.
-- Times are unix milliseconds (INTEGER). JSON is stored as TEXT.
-- Keep in step with ../postgres/0004_health.sql: same tables, columns and rules.

-- The latest attempt of every probe, and since when its state holds.
CREATE TABLE probes (
    site       TEXT    NOT NULL,
    probe      TEXT    NOT NULL,
    service    TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    state      TEXT    NOT NULL CHECK (state IN ('unknown', 'up', 'down')),
    ok         INTEGER NOT NULL,
    latency_ms INTEGER NOT NULL,
    message    TEXT    NOT NULL,
    last_at_ms INTEGER NOT NULL,
    since_ms   INTEGER NOT NULL,
    PRIMARY KEY (site, probe)
) WITHOUT ROWID;

-- Every reported attempt; forgetting a probe forgets its history.
CREATE TABLE probe_attempts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    site       TEXT    NOT NULL,
    probe      TEXT    NOT NULL,
    ok         INTEGER NOT NULL,
    latency_ms INTEGER NOT NULL,
    message    TEXT    NOT NULL,
    at_ms      INTEGER NOT NULL,
    FOREIGN KEY (site, probe) REFERENCES probes (site, probe) ON DELETE CASCADE
);

-- The latest attempts of one probe (and the cascade from `probes`).
CREATE INDEX probe_attempts_by_probe ON probe_attempts (site, probe, at_ms DESC, id DESC);
-- Pruning old attempts.
CREATE INDEX probe_attempts_by_time ON probe_attempts (at_ms);

-- A service of a site whose probes went down, from opening to resolution.
CREATE TABLE incidents (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    site           TEXT    NOT NULL,
    service        TEXT    NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('open', 'resolved')),
    -- The failing probes: a sorted JSON array of names.
    probes         TEXT    NOT NULL DEFAULT '[]',
    evidence       TEXT    NOT NULL,
    opened_at_ms   INTEGER NOT NULL,
    resolved_at_ms INTEGER,
    resolution     TEXT
        CHECK (resolution IN ('recovered', 'verified_fixed', 'dismissed')),
    session_id     INTEGER REFERENCES sessions (id) ON DELETE SET NULL,
    CHECK ((status = 'open' AND resolved_at_ms IS NULL AND resolution IS NULL)
        OR (status = 'resolved' AND resolved_at_ms IS NOT NULL AND resolution IS NOT NULL))
);

-- At most one open incident per site and service, enforced by the database itself.
CREATE UNIQUE INDEX incidents_one_open_per_service ON incidents (site, service)
    WHERE status = 'open';
CREATE INDEX incidents_by_time ON incidents (opened_at_ms DESC, id DESC);
CREATE INDEX incidents_by_site ON incidents (site, opened_at_ms DESC, id DESC);
CREATE INDEX incidents_by_session ON incidents (session_id);

-- The latest inventory report of each worker (JSON).
CREATE TABLE inventories (
    site           TEXT    NOT NULL,
    worker_id      TEXT    NOT NULL,
    inventory      TEXT    NOT NULL,
    reported_at_ms INTEGER NOT NULL,
    PRIMARY KEY (site, worker_id)
) WITHOUT ROWID;

-- Notification delivery attempts; the URL is known only by its position in the list.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    title           TEXT    NOT NULL,
    -- The sites the message is about: a JSON array of names.
    sites           TEXT    NOT NULL DEFAULT '[]',
    url_index       INTEGER NOT NULL,
    attempt         INTEGER NOT NULL,
    ok              INTEGER NOT NULL,
    error           TEXT,
    at_ms           INTEGER NOT NULL
);

CREATE INDEX deliveries_by_time ON deliveries (at_ms DESC, id DESC);
CREATE INDEX deliveries_by_notification ON deliveries (notification_id, at_ms DESC, id DESC);
