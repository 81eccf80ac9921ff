-- What the control plane asked of a session's worker and what the worker confirmed,
-- so both outlive a restart of the control plane.
-- Keep in step with ../sqlite/0005_intents.sql: same columns and meaning.

-- When the worker confirmed it holds the job; NULL until then. A session its
-- worker never confirmed did not start (a scheduled run lost that way is tried
-- again rather than counted). Sessions from before this column existed count as
-- confirmed.
ALTER TABLE sessions ADD COLUMN confirmed_at_ms BIGINT;
UPDATE sessions SET confirmed_at_ms = started_at_ms;

-- A stop asked for and not yet carried out: sent again to the worker on every
-- reconnect until the session ends.
ALTER TABLE sessions ADD COLUMN stop_reason TEXT;
