//! The statements of the probes added from the dashboard, shared by both
//! databases: one row per (site, name).

use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};

use super::{Dialect, SqlStore};
use crate::error::conflict_on_duplicate;
use crate::rows::UiProbeRow;
use crate::{StoreError, UiProbe};

macro_rules! ui_probe_columns {
    () => {
        "site, name, kind, spec, interval_secs, paused, created_by, created_at_ms, \
         updated_by, updated_at_ms"
    };
}

impl<DB> SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'a> i64: Encode<'a, DB> + Type<DB>,
    for<'a> bool: Encode<'a, DB> + Type<DB>,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
    for<'a> Option<&'a str>: Encode<'a, DB> + Type<DB>,
    UiProbeRow: for<'r> FromRow<'r, DB::Row>,
{
    pub(super) async fn list_ui_probes(
        &self,
        site: Option<&str>,
    ) -> Result<Vec<UiProbe>, StoreError> {
        let rows: Vec<UiProbeRow> = sqlx::query_as(concat!(
            "SELECT ",
            ui_probe_columns!(),
            " FROM ui_probes WHERE ($1 IS NULL OR site = $1) ORDER BY site, name"
        ))
        .bind(site)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(UiProbe::from).collect())
    }

    pub(super) async fn add_ui_probe(&self, probe: &UiProbe) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO ui_probes (",
            ui_probe_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(probe.site.as_str())
        .bind(probe.name.as_str())
        .bind(probe.kind.as_str())
        .bind(probe.spec.as_str())
        .bind(probe.interval_secs)
        .bind(probe.paused)
        .bind(probe.created_by.as_str())
        .bind(probe.created_at_ms)
        .bind(probe.updated_by.as_str())
        .bind(probe.updated_at_ms)
        .execute(&self.pool)
        .await
        .map_err(conflict_on_duplicate(
            "the site already has a dashboard probe of that name",
        ))?;
        Ok(())
    }

    pub(super) async fn change_ui_probe(&self, probe: &UiProbe) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE ui_probes SET kind = $3, spec = $4, interval_secs = $5, paused = $6, \
             updated_by = $7, updated_at_ms = $8 WHERE site = $1 AND name = $2",
        )
        .bind(probe.site.as_str())
        .bind(probe.name.as_str())
        .bind(probe.kind.as_str())
        .bind(probe.spec.as_str())
        .bind(probe.interval_secs)
        .bind(probe.paused)
        .bind(probe.updated_by.as_str())
        .bind(probe.updated_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(DB::rows_affected(&done) > 0)
    }

    pub(super) async fn remove_ui_probe(&self, site: &str, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM ui_probes WHERE site = $1 AND name = $2")
            .bind(site)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(DB::rows_affected(&done) > 0)
    }
}
