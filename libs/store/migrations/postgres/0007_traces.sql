-- Where each session sits in its escalation chain's trace (OpenTelemetry).
-- Keep in step with ../sqlite/0007_traces.sql: same columns and meaning.

-- The W3C traceparent of the session's own span (00-<trace>-<span>-<flags>):
-- sent to the worker with the job, so the worker's spans join the trace.
-- NULL for sessions started while tracing was off.
ALTER TABLE sessions ADD COLUMN traceparent TEXT;
-- The span id of the chain's root span (16 hex digits), the same for every
-- session of one chain: an escalated session inherits it from its parent.
ALTER TABLE sessions ADD COLUMN chain_span_id TEXT;
