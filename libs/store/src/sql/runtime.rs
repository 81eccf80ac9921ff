//! The statements of runtime settings, shared by both databases: one row of
//! overrides per scope, and an append-only audit trail written in the same
//! transaction as the change it records.

use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};

use super::{Dialect, SqlStore, begin_write};
use crate::rows::{ConfigChangeRow, RuntimeRow};
use crate::{ConfigChange, RuntimeSettings, StoreError};

impl<DB> SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'a> i64: Encode<'a, DB> + Type<DB>,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
    for<'a> Option<&'a str>: Encode<'a, DB> + Type<DB>,
    RuntimeRow: for<'r> FromRow<'r, DB::Row>,
    ConfigChangeRow: for<'r> FromRow<'r, DB::Row>,
{
    pub(super) async fn all_runtime_settings(&self) -> Result<Vec<RuntimeSettings>, StoreError> {
        let rows: Vec<RuntimeRow> = sqlx::query_as(
            "SELECT scope, overrides, updated_at_ms FROM runtime_settings ORDER BY scope",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(RuntimeSettings::from).collect())
    }

    pub(super) async fn replace_runtime_settings(
        &self,
        settings: &RuntimeSettings,
        changes: &[ConfigChange],
    ) -> Result<(), StoreError> {
        let mut tx = begin_write(&self.pool).await?;
        sqlx::query(
            "INSERT INTO runtime_settings (scope, overrides, updated_at_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (scope) DO UPDATE SET overrides = excluded.overrides, \
             updated_at_ms = excluded.updated_at_ms",
        )
        .bind(settings.scope.as_str())
        .bind(settings.overrides.as_str())
        .bind(settings.updated_at_ms)
        .execute(&mut *tx)
        .await?;
        for change in changes {
            sqlx::query(
                "INSERT INTO config_changes (at_ms, actor, scope, field, before, after) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(change.at_ms)
            .bind(change.actor.as_str())
            .bind(change.scope.as_str())
            .bind(change.field.as_str())
            .bind(change.before.as_deref())
            .bind(change.after.as_deref())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn list_config_changes(
        &self,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<ConfigChange>, StoreError> {
        let rows: Vec<ConfigChangeRow> = sqlx::query_as(
            "SELECT id, at_ms, actor, scope, field, before, after FROM config_changes \
             ORDER BY at_ms DESC, id DESC LIMIT $1 OFFSET $2",
        )
        .bind(i64::from(limit))
        .bind(i64::from(offset))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(ConfigChange::from).collect())
    }
}
