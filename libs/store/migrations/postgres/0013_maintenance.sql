-- Maintenance windows (silences) and incident acknowledgements.
-- Keep in step with ../sqlite/0013_maintenance.sql.

-- A window during which a site's services (or one of them) are silenced:
-- probes keep running and are recorded, but no incident is opened, no session
-- starts for one and no reminder is sent.
CREATE TABLE maintenance_windows (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site          TEXT    NOT NULL,
    -- NULL: every service of the site.
    service       TEXT,
    starts_at_ms  BIGINT NOT NULL,
    ends_at_ms    BIGINT NOT NULL,
    reason        TEXT    NOT NULL,
    created_by    TEXT    NOT NULL,
    created_at_ms BIGINT NOT NULL,
    CHECK (ends_at_ms > starts_at_ms)
);

CREATE INDEX maintenance_windows_by_end ON maintenance_windows (ends_at_ms);

-- Who acknowledged an incident, and when: its reminders stop.
CREATE TABLE incident_acks (
    incident_id BIGINT NOT NULL PRIMARY KEY REFERENCES incidents (id) ON DELETE CASCADE,
    by_whom     TEXT   NOT NULL,
    at_ms       BIGINT NOT NULL
);
