-- Alerts from external monitoring tools (the webhook), each on the incident it
-- opened or joined. Keep in step with ../postgres/0008_alerts.sql.

CREATE TABLE incident_alerts (
    incident_id    INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    -- The same for every repeat of one alert (the source's own, or a hash).
    fingerprint    TEXT    NOT NULL,
    source         TEXT    NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('firing', 'resolved')),
    severity       TEXT    NOT NULL,
    summary        TEXT    NOT NULL,
    -- The alert as the model reads it, wrapped as untrusted data (the first sight's).
    evidence       TEXT    NOT NULL DEFAULT '',
    -- The alert's labels: a JSON object of strings.
    labels         TEXT    NOT NULL DEFAULT '{}',
    -- The tier its session may start at (already capped), NULL for the incident tier.
    tier           INTEGER CHECK (tier BETWEEN 1 AND 3),
    first_seen_ms  INTEGER NOT NULL,
    last_seen_ms   INTEGER NOT NULL,
    resolved_at_ms INTEGER,
    -- How many times the source sent it (repeats are counted, not acted on).
    received       INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (incident_id, fingerprint)
);

-- A firing alert finds the open incident it belongs to by its fingerprint.
CREATE INDEX incident_alerts_by_fingerprint ON incident_alerts (fingerprint, status);
