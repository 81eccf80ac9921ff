-- Probes an operator added from the dashboard (or the API), per site. The
-- control plane sends each site's set to its workers, which run them beside the
-- probes their repos define. Keep in step with ../postgres/0014_ui_probes.sql.

-- `spec` is the probe's full spec as JSON, in the same form a repo's
-- `.claude-ops/probes/*.yaml` writes it (checked by the control plane before it
-- is stored). `interval_secs` repeats the spec's interval for listings.
CREATE TABLE ui_probes (
    site          TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    spec          TEXT    NOT NULL,
    interval_secs INTEGER NOT NULL,
    paused        INTEGER NOT NULL DEFAULT 0,
    created_by    TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_by    TEXT    NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (site, name)
);
