-- Memories: lasting facts about a site, reported by the agent (`memories[]` of its
-- structured response) or written by an operator, injected into later sessions.
-- Keep in step with ../sqlite/0002_memories.sql: same tables, columns and rules.

CREATE TABLE memories (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site          TEXT             NOT NULL,
    key           TEXT             NOT NULL,
    value         TEXT             NOT NULL,
    confidence    DOUBLE PRECISION NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
    active        BOOLEAN          NOT NULL DEFAULT TRUE,
    session_id    BIGINT REFERENCES sessions (id) ON DELETE SET NULL,
    created_at_ms BIGINT           NOT NULL,
    updated_at_ms BIGINT           NOT NULL
);

-- One memory per site and key, enforced by the database itself.
CREATE UNIQUE INDEX memories_site_key ON memories (site, key);
CREATE INDEX memories_by_rank ON memories (confidence DESC, updated_at_ms DESC, id DESC);
CREATE INDEX memories_by_site ON memories (site, confidence DESC, updated_at_ms DESC, id DESC);
