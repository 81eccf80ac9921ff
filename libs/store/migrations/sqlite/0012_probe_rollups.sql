-- Downsampled probe history, kept beyond the raw attempts' retention: one row
-- per probe and hour, and per probe and UTC day, updated in the same
-- transaction as the attempts they count. Uptime is successes / attempts;
-- the mean latency is latency_sum_ms / attempts.
-- Keep in step with ../postgres/0012_probe_rollups.sql.

CREATE TABLE probe_rollups (
    site           TEXT    NOT NULL,
    probe          TEXT    NOT NULL,
    period         TEXT    NOT NULL CHECK (period IN ('hour', 'day')),
    -- The period's start (unix milliseconds, a whole hour or UTC day).
    start_ms       INTEGER NOT NULL,
    attempts       INTEGER NOT NULL,
    successes      INTEGER NOT NULL,
    latency_sum_ms INTEGER NOT NULL,
    latency_min_ms INTEGER NOT NULL,
    latency_max_ms INTEGER NOT NULL,
    PRIMARY KEY (site, probe, period, start_ms),
    FOREIGN KEY (site, probe) REFERENCES probes (site, probe) ON DELETE CASCADE
);

-- Pruning by age.
CREATE INDEX probe_rollups_by_time ON probe_rollups (period, start_ms);

-- The attempts recorded before this table existed.
INSERT INTO probe_rollups (site, probe, period, start_ms, attempts, successes,
                           latency_sum_ms, latency_min_ms, latency_max_ms)
SELECT site, probe, 'hour', (at_ms / 3600000) * 3600000, COUNT(*),
       SUM(CASE WHEN ok THEN 1 ELSE 0 END), SUM(latency_ms), MIN(latency_ms), MAX(latency_ms)
FROM probe_attempts GROUP BY site, probe, (at_ms / 3600000) * 3600000;

INSERT INTO probe_rollups (site, probe, period, start_ms, attempts, successes,
                           latency_sum_ms, latency_min_ms, latency_max_ms)
SELECT site, probe, 'day', (at_ms / 86400000) * 86400000, COUNT(*),
       SUM(CASE WHEN ok THEN 1 ELSE 0 END), SUM(latency_ms), MIN(latency_ms), MAX(latency_ms)
FROM probe_attempts GROUP BY site, probe, (at_ms / 86400000) * 86400000;
