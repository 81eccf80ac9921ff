-- One row the readiness check writes: a store that answers reads but cannot
-- write is not ready. Keep in step with ../sqlite/0006_readiness.sql.
CREATE TABLE readiness (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at_ms BIGINT NOT NULL
);
