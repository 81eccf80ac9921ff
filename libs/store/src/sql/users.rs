//! The statements of named dashboard users, shared by both databases.

use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};

use super::{Dialect, SqlStore};
use crate::rows::UserRow;
use crate::{StoreError, UserRecord};

impl<DB> SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'a> i64: Encode<'a, DB> + Type<DB>,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
    UserRow: for<'r> FromRow<'r, DB::Row>,
{
    pub(super) async fn upsert_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO users (name, role, password_hash, created_at_ms, updated_at_ms) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (name) DO UPDATE SET role = excluded.role, \
             password_hash = excluded.password_hash, updated_at_ms = excluded.updated_at_ms",
        )
        .bind(user.name.as_str())
        .bind(user.role.as_str())
        .bind(user.password_hash.as_str())
        .bind(user.created_at_ms)
        .bind(user.updated_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn user_named(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as(
            "SELECT name, role, password_hash, created_at_ms, updated_at_ms FROM users \
             WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(UserRecord::from))
    }

    pub(super) async fn all_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let rows: Vec<UserRow> = sqlx::query_as(
            "SELECT name, role, password_hash, created_at_ms, updated_at_ms FROM users \
             ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(UserRecord::from).collect())
    }

    pub(super) async fn remove_user(&self, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM users WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(DB::rows_affected(&done) > 0)
    }
}
