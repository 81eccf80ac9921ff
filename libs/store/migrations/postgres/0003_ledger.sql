-- The cooldown ledger: every remediation (restart, redeploy) a worker asked to carry
-- out, granted or denied, and how it ended. The limits themselves are decided in code
-- (claudeops_core::ledger); the store counts and inserts in one transaction that holds
-- a transaction-level advisory lock on the (site, service, kind).
-- Keep in step with ../sqlite/0003_ledger.sql: same tables, columns and rules.

CREATE TABLE actions (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site           TEXT    NOT NULL,
    service        TEXT    NOT NULL,
    kind           TEXT    NOT NULL CHECK (kind IN ('restart', 'redeploy')),
    session_id     BIGINT  REFERENCES sessions (id) ON DELETE SET NULL,
    status         TEXT    NOT NULL
        CHECK (status IN ('reserved', 'succeeded', 'failed', 'released', 'denied')),
    args           TEXT    NOT NULL DEFAULT 'null',
    result         TEXT,
    reserved_at_ms BIGINT  NOT NULL,
    finished_at_ms BIGINT,
    duration_ms    BIGINT
);

-- Counting one (site, service, kind) within its window.
CREATE INDEX actions_by_key ON actions (site, service, kind, reserved_at_ms);
-- Listing newest first, and the cooldown scan of the last window.
CREATE INDEX actions_by_time ON actions (reserved_at_ms DESC, id DESC);
CREATE INDEX actions_by_session ON actions (session_id);
-- Reservations left behind by crashed workers.
CREATE INDEX actions_reserved ON actions (reserved_at_ms) WHERE status = 'reserved';
