-- Approval gates: a typed action that waits for a human, and the decision.
-- Keep in step with ../sqlite/0015_approvals.sql.

-- One row per request. The ledger entry (actions) is reserved when the
-- request is made and held until the decision; a denial or an expiry turns it
-- 'denied', which never counts toward a limit.
CREATE TABLE approvals (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    action_id       BIGINT NOT NULL UNIQUE REFERENCES actions (id) ON DELETE CASCADE,
    session_id      BIGINT NOT NULL,
    site            TEXT    NOT NULL,
    service         TEXT    NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN ('restart', 'redeploy')),
    status          TEXT    NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'approved', 'denied', 'expired')),
    requested_at_ms BIGINT NOT NULL,
    expires_at_ms   BIGINT NOT NULL,
    decided_at_ms   BIGINT,
    -- Who decided; NULL while pending and for an expiry.
    decided_by      TEXT,
    reason          TEXT,
    CHECK (expires_at_ms > requested_at_ms),
    CHECK ((status = 'pending') = (decided_at_ms IS NULL))
);

CREATE INDEX approvals_by_session ON approvals (session_id);
CREATE INDEX approvals_pending ON approvals (expires_at_ms) WHERE status = 'pending';
