-- Settings an operator changes while the control plane runs (the config page and
-- PUT /api/v1/config), and the audit trail of every change. Keep in step with
-- ../sqlite/0010_runtime_settings.sql.

-- One row per scope: 'global', or 'site:NAME' for a site's overrides. The
-- overrides are a JSON object of the changed settings only.
CREATE TABLE runtime_settings (
    scope         TEXT   NOT NULL PRIMARY KEY,
    overrides     TEXT   NOT NULL DEFAULT '{}',
    updated_at_ms BIGINT NOT NULL
);

-- Who changed what, from what, to what. A secret's values are recorded as
-- "set" or "not set", never as themselves.
CREATE TABLE config_changes (
    id     BIGSERIAL PRIMARY KEY,
    at_ms  BIGINT NOT NULL,
    actor  TEXT   NOT NULL,
    scope  TEXT   NOT NULL,
    field  TEXT   NOT NULL,
    before TEXT,
    after  TEXT
);

CREATE INDEX config_changes_by_time ON config_changes (at_ms DESC, id DESC);
