//! The statements of maintenance windows and incident acknowledgements,
//! shared by both databases.

use claudeops_core::health::{IncidentAck, IncidentId, MaintenanceWindow, NewMaintenance};
use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};

use super::{Dialect, SqlStore, begin_write};
use crate::StoreError;
use crate::error::is_foreign_key_violation;
use crate::rows::{AckRow, MaintenanceRow};

impl<DB> SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'a> i64: Encode<'a, DB> + Type<DB>,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
    for<'a> Option<&'a str>: Encode<'a, DB> + Type<DB>,
    MaintenanceRow: for<'r> FromRow<'r, DB::Row>,
    AckRow: for<'r> FromRow<'r, DB::Row>,
    (i64,): for<'r> FromRow<'r, DB::Row>,
{
    pub(super) async fn insert_maintenance(
        &self,
        new: &NewMaintenance,
    ) -> Result<MaintenanceWindow, StoreError> {
        let mut tx = begin_write(&self.pool).await?;
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO maintenance_windows (site, service, starts_at_ms, ends_at_ms, reason, \
             created_by, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(new.site.as_str())
        .bind(new.service.as_deref())
        .bind(new.starts_at_ms)
        .bind(new.ends_at_ms)
        .bind(new.reason.as_str())
        .bind(new.created_by.as_str())
        .bind(new.created_at_ms)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(MaintenanceWindow {
            id,
            site: new.site.clone(),
            service: new.service.clone(),
            starts_at_ms: new.starts_at_ms,
            ends_at_ms: new.ends_at_ms,
            reason: new.reason.clone(),
            created_by: new.created_by.clone(),
            created_at_ms: new.created_at_ms,
        })
    }

    pub(super) async fn maintenance_ending_after(
        &self,
        after_ms: i64,
    ) -> Result<Vec<MaintenanceWindow>, StoreError> {
        let rows: Vec<MaintenanceRow> = sqlx::query_as(
            "SELECT id, site, service, starts_at_ms, ends_at_ms, reason, created_by, created_at_ms \
             FROM maintenance_windows WHERE ends_at_ms > $1 ORDER BY starts_at_ms, id",
        )
        .bind(after_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(MaintenanceWindow::try_from).collect()
    }

    /// An upcoming window is removed; a running one ends at `at_ms`.
    pub(super) async fn stop_maintenance(&self, id: i64, at_ms: i64) -> Result<bool, StoreError> {
        let mut tx = begin_write(&self.pool).await?;
        let removed =
            sqlx::query("DELETE FROM maintenance_windows WHERE id = $1 AND starts_at_ms >= $2")
                .bind(id)
                .bind(at_ms)
                .execute(&mut *tx)
                .await?;
        let ended = sqlx::query(
            "UPDATE maintenance_windows SET ends_at_ms = $2 \
             WHERE id = $1 AND starts_at_ms < $2 AND ends_at_ms > $2",
        )
        .bind(id)
        .bind(at_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(DB::rows_affected(&removed) + DB::rows_affected(&ended) > 0)
    }

    /// True if this acknowledged the incident; false if it already was.
    pub(super) async fn insert_ack(&self, ack: &IncidentAck) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO incident_acks (incident_id, by_whom, at_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (incident_id) DO NOTHING",
        )
        .bind(ack.incident_id)
        .bind(ack.by.as_str())
        .bind(ack.at_ms)
        .execute(&self.pool)
        .await;
        match done {
            Ok(done) => Ok(DB::rows_affected(&done) > 0),
            Err(error) if is_foreign_key_violation(&error) => Err(StoreError::NotFound),
            Err(error) => Err(error.into()),
        }
    }

    pub(super) async fn ack_of(&self, id: IncidentId) -> Result<Option<IncidentAck>, StoreError> {
        let row: Option<AckRow> = sqlx::query_as(
            "SELECT incident_id, by_whom, at_ms FROM incident_acks WHERE incident_id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(IncidentAck::from))
    }

    pub(super) async fn recent_acks(&self, limit: u32) -> Result<Vec<IncidentAck>, StoreError> {
        let rows: Vec<AckRow> = sqlx::query_as(
            "SELECT incident_id, by_whom, at_ms FROM incident_acks \
             ORDER BY incident_id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(IncidentAck::from).collect())
    }
}
