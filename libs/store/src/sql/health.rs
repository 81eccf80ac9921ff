//! The statements of probes, incidents, inventories and notification deliveries,
//! shared by both databases; the `Store` impl calls them through a [`Health`] over
//! its pool.
//!
//! `record_probe_attempts` writes a report in one write transaction, touching the
//! probes' latest rows in one order (by probe name) so that concurrent reports cannot
//! deadlock. `open_incident` inserts with `ON CONFLICT DO NOTHING` against the partial
//! unique index of open incidents; when another call opened one first, it reads that
//! row the [`Dialect`]'s way (under SQLite's write lock, or `FOR UPDATE` on
//! PostgreSQL) and merges its probes into it in the same transaction, looking again
//! when the row was resolved in between. This module must not hold business rules
//! beyond what SQL enforces.

use claudeops_core::health::{
    Incident, IncidentId, InventoryRecord, NewIncident, ProbeAttempt, ProbeRecord, ProbeRollup,
    Resolution, RollupPeriod,
};
use claudeops_core::notification::DeliveryRecord;
use claudeops_core::{SessionId, SiteName};
use sqlx::{Encode, Executor, FromRow, IntoArguments, Pool, Type};

use super::{Dialect, begin_write, retry_when_busy};
use crate::StoreError;
use crate::health;
use crate::model::{DeliveryFilter, IncidentFilter};
use crate::rows::{self, DeliveryRow, HistoryRow, IncidentRow, InventoryRow, ProbeRow, RollupRow};

/// The health statements over one pool.
pub(super) struct Health<'p, DB: Dialect>(pub(super) &'p Pool<DB>);

impl<DB> Health<'_, DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'a> i64: Encode<'a, DB> + Type<DB>,
    for<'a> bool: Encode<'a, DB> + Type<DB>,
    for<'a> String: Encode<'a, DB> + Type<DB>,
    for<'a> Option<i64>: Encode<'a, DB> + Type<DB>,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
    for<'a> Option<&'a str>: Encode<'a, DB> + Type<DB>,
    ProbeRow: for<'r> FromRow<'r, DB::Row>,
    HistoryRow: for<'r> FromRow<'r, DB::Row>,
    RollupRow: for<'r> FromRow<'r, DB::Row>,
    IncidentRow: for<'r> FromRow<'r, DB::Row>,
    InventoryRow: for<'r> FromRow<'r, DB::Row>,
    DeliveryRow: for<'r> FromRow<'r, DB::Row>,
{
    pub(super) async fn record_probe_attempts(
        &self,
        site: &SiteName,
        attempts: &[ProbeAttempt],
    ) -> Result<(), StoreError> {
        if attempts.is_empty() {
            return Ok(());
        }
        let mut tx = begin_write(self.0).await?;
        for attempt in health::lock_order(attempts) {
            // The SET expressions read the stored row: `since_ms` moves only when the
            // state changes, and an older attempt leaves the row alone.
            sqlx::query(
                "INSERT INTO probes (site, probe, service, kind, state, ok, latency_ms, message, \
                 last_at_ms, since_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) \
                 ON CONFLICT (site, probe) DO UPDATE SET service = excluded.service, \
                 kind = excluded.kind, state = excluded.state, ok = excluded.ok, \
                 latency_ms = excluded.latency_ms, message = excluded.message, \
                 last_at_ms = excluded.last_at_ms, since_ms = CASE \
                 WHEN probes.state = excluded.state THEN probes.since_ms \
                 ELSE excluded.last_at_ms END \
                 WHERE excluded.last_at_ms >= probes.last_at_ms",
            )
            .bind(site.as_str())
            .bind(attempt.probe.as_str())
            .bind(attempt.service.as_str())
            .bind(attempt.kind.as_str())
            .bind(attempt.state.as_str())
            .bind(attempt.ok)
            .bind(attempt.latency_ms)
            .bind(attempt.message.as_str())
            .bind(attempt.at_ms)
            .execute(&mut *tx)
            .await?;
        }
        DB::insert_probe_attempts(&mut tx, site, attempts).await?;
        // The rollups count what was just inserted, in the same transaction:
        // both hold the attempt or neither does.
        for attempt in health::lock_order(attempts) {
            for period in RollupPeriod::ALL {
                sqlx::query(
                    "INSERT INTO probe_rollups (site, probe, period, start_ms, attempts, \
                     successes, latency_sum_ms, latency_min_ms, latency_max_ms) \
                     VALUES ($1, $2, $3, $4, 1, $5, $6, $6, $6) \
                     ON CONFLICT (site, probe, period, start_ms) DO UPDATE SET \
                     attempts = probe_rollups.attempts + 1, \
                     successes = probe_rollups.successes + excluded.successes, \
                     latency_sum_ms = probe_rollups.latency_sum_ms + excluded.latency_sum_ms, \
                     latency_min_ms = CASE WHEN excluded.latency_min_ms < probe_rollups.latency_min_ms \
                     THEN excluded.latency_min_ms ELSE probe_rollups.latency_min_ms END, \
                     latency_max_ms = CASE WHEN excluded.latency_max_ms > probe_rollups.latency_max_ms \
                     THEN excluded.latency_max_ms ELSE probe_rollups.latency_max_ms END",
                )
                .bind(site.as_str())
                .bind(attempt.probe.as_str())
                .bind(period.as_str())
                .bind(period.start_of(attempt.at_ms))
                .bind(i64::from(attempt.ok))
                .bind(attempt.latency_ms)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn probe_rollups(
        &self,
        site: &SiteName,
        probe: &str,
        period: RollupPeriod,
        since_ms: i64,
    ) -> Result<Vec<ProbeRollup>, StoreError> {
        let rows: Vec<RollupRow> = sqlx::query_as(
            "SELECT start_ms, attempts, successes, latency_sum_ms, latency_min_ms, latency_max_ms \
             FROM probe_rollups WHERE site = $1 AND probe = $2 AND period = $3 AND start_ms >= $4 \
             ORDER BY start_ms",
        )
        .bind(site.as_str())
        .bind(probe)
        .bind(period.as_str())
        .bind(since_ms)
        .fetch_all(self.0)
        .await?;
        Ok(rows.into_iter().map(ProbeRollup::from).collect())
    }

    pub(super) async fn prune_probe_rollups(
        &self,
        period: RollupPeriod,
        before_ms: i64,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM probe_rollups WHERE period = $1 AND start_ms < $2")
            .bind(period.as_str())
            .bind(before_ms)
            .execute(self.0)
            .await?;
        Ok(DB::rows_affected(&done))
    }

    pub(super) async fn list_probes(
        &self,
        site: Option<&SiteName>,
        history: u32,
    ) -> Result<Vec<ProbeRecord>, StoreError> {
        let site = site.map(SiteName::as_str);
        let found: Vec<ProbeRow> = sqlx::query_as(concat!(
            "SELECT ",
            probe_columns!(),
            " FROM probes WHERE ($1 IS NULL OR site = $1)"
        ))
        .bind(site)
        .fetch_all(self.0)
        .await?;
        let points: Vec<HistoryRow> = if history == 0 {
            Vec::new()
        } else {
            sqlx::query_as(
                "SELECT site, probe, at_ms, latency_ms, ok FROM ( \
                 SELECT site, probe, at_ms, latency_ms, ok, id, ROW_NUMBER() OVER \
                 (PARTITION BY site, probe ORDER BY at_ms DESC, id DESC) AS newest \
                 FROM probe_attempts WHERE ($1 IS NULL OR site = $1)) AS recent \
                 WHERE newest <= $2 ORDER BY site, probe, at_ms, id",
            )
            .bind(site)
            .bind(i64::from(history))
            .fetch_all(self.0)
            .await?
        };
        rows::probes(found, points)
    }

    pub(super) async fn prune_probe_attempts(&self, before_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM probe_attempts WHERE at_ms < $1")
            .bind(before_ms)
            .execute(self.0)
            .await?;
        Ok(DB::rows_affected(&done))
    }

    pub(super) async fn open_incident(
        &self,
        new: &NewIncident,
    ) -> Result<(Incident, bool), StoreError> {
        let probes = health::probe_list(&new.probes);
        retry_when_busy::<DB, _, _>(health::OPEN_BUSY_ATTEMPTS, || {
            self.try_open_incident(new, &probes)
        })
        .await
    }

    /// One attempt of `open_incident`: insert, or merge into the open one, in one
    /// transaction.
    async fn try_open_incident(
        &self,
        new: &NewIncident,
        probes: &[String],
    ) -> Result<(Incident, bool), StoreError> {
        let mut tx = begin_write(self.0).await?;
        for _ in 0..health::OPEN_ATTEMPTS {
            // The partial unique index decides: no row back means one is open already
            // (on PostgreSQL an uncommitted one makes the insert wait for its transaction).
            let inserted: Option<IncidentRow> = sqlx::query_as(concat!(
                "INSERT INTO incidents (site, service, status, probes, evidence, opened_at_ms) \
                 VALUES ($1, $2, 'open', $3, $4, $5) \
                 ON CONFLICT (site, service) WHERE status = 'open' DO NOTHING RETURNING ",
                incident_columns!()
            ))
            .bind(new.site.as_str())
            .bind(new.service.as_str())
            .bind(health::names_text(probes))
            .bind(new.evidence.as_str())
            .bind(new.opened_at_ms)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = inserted {
                tx.commit().await?;
                return Ok((Incident::try_from(row)?, true));
            }
            let open: Option<IncidentRow> = sqlx::query_as(DB::OPEN_INCIDENT_TO_MERGE)
                .bind(new.site.as_str())
                .bind(new.service.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(row) = open {
                let current = Incident::try_from(row)?;
                let merged = health::merge_probes(&current.probes, probes);
                let row: IncidentRow = sqlx::query_as(concat!(
                    "UPDATE incidents SET probes = $2 WHERE id = $1 RETURNING ",
                    incident_columns!()
                ))
                .bind(current.id)
                .bind(health::names_text(&merged))
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                return Ok((Incident::try_from(row)?, false));
            }
            // The open incident was resolved between the insert and the read: try again.
        }
        Err(StoreError::Conflict(
            "the service's open incident kept changing".into(),
        ))
    }

    pub(super) async fn get_incident(
        &self,
        id: IncidentId,
    ) -> Result<Option<Incident>, StoreError> {
        let row: Option<IncidentRow> = sqlx::query_as(concat!(
            "SELECT ",
            incident_columns!(),
            " FROM incidents WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.0)
        .await?;
        row.map(Incident::try_from).transpose()
    }

    pub(super) async fn list_incidents(
        &self,
        filter: &IncidentFilter,
    ) -> Result<Vec<Incident>, StoreError> {
        let found: Vec<IncidentRow> = sqlx::query_as(concat!(
            "SELECT ",
            incident_columns!(),
            " FROM incidents WHERE ($1 IS NULL OR site = $1) AND ($2 IS NULL OR service = $2) \
             AND ($3 IS NULL OR status = $3) AND ($4 IS NULL OR session_id = $4) \
             ORDER BY opened_at_ms DESC, id DESC LIMIT $5 OFFSET $6"
        ))
        .bind(filter.site.as_ref().map(SiteName::as_str))
        .bind(filter.service.as_deref())
        .bind(filter.status.map(|status| status.as_str()))
        .bind(filter.session_id)
        .bind(i64::from(filter.limit))
        .bind(i64::from(filter.offset))
        .fetch_all(self.0)
        .await?;
        rows::incidents(found)
    }

    pub(super) async fn set_incident_session(
        &self,
        id: IncidentId,
        session_id: SessionId,
    ) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE incidents SET session_id = $2 WHERE id = $1")
            .bind(id)
            .bind(session_id)
            .execute(self.0)
            .await
            .map_err(health::session_link_error)?;
        if DB::rows_affected(&done) == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub(super) async fn resolve_incident(
        &self,
        id: IncidentId,
        resolution: Resolution,
        now_ms: i64,
    ) -> Result<Option<Incident>, StoreError> {
        let updated: Option<IncidentRow> = sqlx::query_as(concat!(
            "UPDATE incidents SET status = 'resolved', resolved_at_ms = $2, resolution = $3 \
             WHERE id = $1 AND status = 'open' RETURNING ",
            incident_columns!()
        ))
        .bind(id)
        .bind(now_ms)
        .bind(resolution.as_str())
        .fetch_optional(self.0)
        .await?;
        match updated {
            Some(row) => Ok(Some(Incident::try_from(row)?)),
            None if self.get_incident(id).await?.is_some() => Ok(None),
            None => Err(StoreError::NotFound),
        }
    }

    pub(super) async fn put_inventory(&self, record: &InventoryRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO inventories (site, worker_id, inventory, reported_at_ms) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (site, worker_id) DO UPDATE SET \
             inventory = excluded.inventory, reported_at_ms = excluded.reported_at_ms",
        )
        .bind(record.site.as_str())
        .bind(record.worker_id.as_str())
        .bind(record.inventory.to_string())
        .bind(record.reported_at_ms)
        .execute(self.0)
        .await?;
        Ok(())
    }

    pub(super) async fn inventories(
        &self,
        site: &SiteName,
    ) -> Result<Vec<InventoryRecord>, StoreError> {
        let found: Vec<InventoryRow> = sqlx::query_as(
            "SELECT site, worker_id, inventory, reported_at_ms FROM inventories WHERE site = $1",
        )
        .bind(site.as_str())
        .fetch_all(self.0)
        .await?;
        rows::inventories(found)
    }

    pub(super) async fn record_delivery(&self, record: &DeliveryRecord) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO deliveries (",
            delivery_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(record.notification_id.as_str())
        .bind(record.kind.as_str())
        .bind(record.title.as_str())
        .bind(health::names_text(&record.sites))
        .bind(i64::from(record.url_index))
        .bind(i64::from(record.attempt))
        .bind(record.ok)
        .bind(record.error.as_deref())
        .bind(record.at_ms)
        .execute(self.0)
        .await?;
        Ok(())
    }

    pub(super) async fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let found: Vec<DeliveryRow> = sqlx::query_as(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM deliveries WHERE ($1 IS NULL OR notification_id = $1) \
             ORDER BY at_ms DESC, id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(filter.notification_id.as_deref())
        .bind(i64::from(filter.limit))
        .bind(i64::from(filter.offset))
        .fetch_all(self.0)
        .await?;
        rows::deliveries(found)
    }
}
