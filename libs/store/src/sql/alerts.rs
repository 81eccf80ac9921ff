//! The statements of webhook alerts, shared by both databases: each alert sits on
//! the incident it opened or joined, keyed by (incident, fingerprint), so a
//! repeat is one `INSERT ... ON CONFLICT DO UPDATE` that counts it, and of many
//! concurrent copies of one alert exactly one sees `received = 1`.

use claudeops_core::SiteName;
use claudeops_core::alert::{Alert, AlertRecord};
use claudeops_core::health::IncidentId;
use sqlx::{Encode, Executor, FromRow, IntoArguments, Pool, Type};

use super::Dialect;
use crate::StoreError;
use crate::rows::AlertRow;

macro_rules! alert_columns {
    () => {
        "incident_id, fingerprint, source, status, severity, summary, evidence, labels, tier, \
         first_seen_ms, last_seen_ms, resolved_at_ms, received"
    };
}

/// The alert statements over one pool.
pub(super) struct Alerts<'p, DB: Dialect>(pub(super) &'p Pool<DB>);

impl<DB> Alerts<'_, DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'a> i64: Encode<'a, DB> + Type<DB>,
    for<'a> String: Encode<'a, DB> + Type<DB>,
    for<'a> Option<i64>: Encode<'a, DB> + Type<DB>,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
    (i64,): for<'r> FromRow<'r, DB::Row>,
    AlertRow: for<'r> FromRow<'r, DB::Row>,
{
    pub(super) async fn alert_incident(
        &self,
        site: &SiteName,
        fingerprint: &str,
    ) -> Result<Option<IncidentId>, StoreError> {
        let found: Option<(i64,)> = sqlx::query_as(
            "SELECT a.incident_id FROM incident_alerts a JOIN incidents i ON i.id = a.incident_id \
             WHERE a.fingerprint = $1 AND i.site = $2 AND i.status = 'open' \
             ORDER BY a.incident_id DESC LIMIT 1",
        )
        .bind(fingerprint)
        .bind(site.as_str())
        .fetch_optional(self.0)
        .await?;
        Ok(found.map(|(id,)| id))
    }

    pub(super) async fn record_alert(
        &self,
        incident: IncidentId,
        alert: &Alert,
        tier: Option<i64>,
        at_ms: i64,
    ) -> Result<AlertRecord, StoreError> {
        let labels = serde_json::to_string(&alert.labels)
            .map_err(|e| StoreError::Corrupt(format!("alert labels: {e}")))?;
        let row: AlertRow = sqlx::query_as(concat!(
            "INSERT INTO incident_alerts (incident_id, fingerprint, source, status, severity, \
             summary, evidence, labels, tier, first_seen_ms, last_seen_ms, received) \
             VALUES ($1, $2, $3, 'firing', $4, $5, $6, $7, $8, $9, $9, 1) \
             ON CONFLICT (incident_id, fingerprint) DO UPDATE SET \
             status = 'firing', resolved_at_ms = NULL, last_seen_ms = CASE WHEN \
             excluded.last_seen_ms > incident_alerts.last_seen_ms THEN excluded.last_seen_ms \
             ELSE incident_alerts.last_seen_ms END, \
             severity = excluded.severity, summary = excluded.summary, \
             received = incident_alerts.received + 1 RETURNING ",
            alert_columns!()
        ))
        .bind(incident)
        .bind(alert.fingerprint.as_str())
        .bind(alert.source.as_str())
        .bind(alert.severity.as_str())
        .bind(alert.summary.as_str())
        .bind(alert.evidence())
        .bind(labels)
        .bind(tier)
        .bind(at_ms)
        .fetch_one(self.0)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
            _ => StoreError::from(e),
        })?;
        AlertRecord::try_from(row)
    }

    pub(super) async fn resolve_alert(
        &self,
        incident: IncidentId,
        fingerprint: &str,
        at_ms: i64,
    ) -> Result<Option<AlertRecord>, StoreError> {
        let row: Option<AlertRow> = sqlx::query_as(concat!(
            "UPDATE incident_alerts SET status = 'resolved', resolved_at_ms = $3, \
             last_seen_ms = $3, received = received + 1 \
             WHERE incident_id = $1 AND fingerprint = $2 RETURNING ",
            alert_columns!()
        ))
        .bind(incident)
        .bind(fingerprint)
        .bind(at_ms)
        .fetch_optional(self.0)
        .await?;
        row.map(AlertRecord::try_from).transpose()
    }

    pub(super) async fn incident_alerts(
        &self,
        incident: IncidentId,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        let rows: Vec<AlertRow> = sqlx::query_as(concat!(
            "SELECT ",
            alert_columns!(),
            " FROM incident_alerts WHERE incident_id = $1 ORDER BY first_seen_ms, fingerprint"
        ))
        .bind(incident)
        .fetch_all(self.0)
        .await?;
        rows.into_iter().map(AlertRecord::try_from).collect()
    }
}
