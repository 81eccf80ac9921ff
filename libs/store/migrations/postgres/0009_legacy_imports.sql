-- What `import-legacy` took from the original Claude Ops's database: one row per
-- imported row, so that importing the same database again adds nothing. Each row
-- is written in the transaction that writes what it maps to.
-- Keep in step with ../sqlite/0009_legacy_imports.sql: same columns and meaning.

CREATE TABLE legacy_imports (
    -- The site the rows were imported into (one original database per site).
    site           TEXT    NOT NULL,
    kind           TEXT    NOT NULL
        CHECK (kind IN ('session', 'event', 'memory', 'cooldown_action')),
    -- The row's id in the original's table.
    legacy_id      BIGINT  NOT NULL,
    -- Its id here: sessions.id, events.id, memories.id or actions.id (no foreign
    -- key: one column for four tables, and a row deleted here stays imported).
    our_id         BIGINT  NOT NULL,
    -- The row's creation time as the original wrote it, to tell a second database
    -- whose ids collide from the one imported before.
    legacy_stamp   TEXT    NOT NULL,
    imported_at_ms BIGINT  NOT NULL,
    PRIMARY KEY (site, kind, legacy_id)
);
