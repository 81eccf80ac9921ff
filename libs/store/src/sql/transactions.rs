//! The read-then-write transactions of memories and the cooldown ledger, shared by
//! both databases.
//!
//! Each reads what it then writes inside one transaction begun by
//! [`begin_write`]; the [`Dialect`] supplies what keeps the read from going stale
//! (SQLite's write lock taken up front, PostgreSQL's `FOR UPDATE` row lock and
//! advisory lock). The decisions themselves are `claudeops_core`'s; this module must
//! not hold business rules beyond what SQL enforces.

use claudeops_core::ledger::{ActionId, CooldownLimits, NewAction, Slot};
use claudeops_core::memory::{Memory, merge};
use claudeops_core::{SessionId, SiteName};
use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};

use super::{Dialect, SqlStore, begin_write};
use crate::rows::MemoryRow;
use crate::{StoreError, ledger, memory};

/// Rewrites a memory (`$1` id) and returns it.
pub(super) const UPDATE_MEMORY: &str = concat!(
    "UPDATE memories SET value = $2, confidence = $3, active = $4, session_id = $5, \
     updated_at_ms = $6 WHERE id = $1 RETURNING ",
    memory_columns!()
);

impl<DB> SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'a> i64: Encode<'a, DB> + Type<DB>,
    for<'a> f64: Encode<'a, DB> + Type<DB>,
    for<'a> bool: Encode<'a, DB> + Type<DB>,
    for<'a> String: Encode<'a, DB> + Type<DB>,
    for<'a> Option<i64>: Encode<'a, DB> + Type<DB>,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
    for<'a> Option<&'a str>: Encode<'a, DB> + Type<DB>,
    (i64,): for<'r> FromRow<'r, DB::Row>,
    MemoryRow: for<'r> FromRow<'r, DB::Row>,
{
    /// `Store::remember`: reads the site's memory with this key and writes what
    /// `merge` decides, in one transaction.
    pub(super) async fn merge_memory(
        &self,
        site: &SiteName,
        key: &str,
        value: &str,
        session_id: Option<SessionId>,
        now_ms: i64,
    ) -> Result<Memory, StoreError> {
        let key = memory::key(key)?;
        let value = memory::value(value)?;
        // SQLite's write lock, taken first, keeps the read below from going stale; on
        // PostgreSQL (READ COMMITTED) the row read is locked until commit, and when there
        // was none and a concurrent report inserts it first, the INSERT below waits for
        // that commit, does nothing, and the next round's read (a new snapshot) sees it.
        let mut tx = begin_write(&self.pool).await?;
        for _ in 0..memory::REMEMBER_ATTEMPTS {
            let existing: Option<MemoryRow> = sqlx::query_as(DB::MEMORY_TO_REWRITE)
                .bind(site.as_str())
                .bind(key.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            let written: Option<MemoryRow> = match existing {
                Some(row) => {
                    let current = Memory::try_from(row)?;
                    let outcome = merge(Some(&current), &value);
                    sqlx::query_as(UPDATE_MEMORY)
                        .bind(current.id)
                        .bind(outcome.value.as_str())
                        .bind(outcome.confidence)
                        .bind(outcome.active)
                        .bind(outcome.session_id(Some(&current), session_id))
                        .bind(now_ms)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(memory::write_error)?
                }
                None => {
                    let outcome = merge(None, &value);
                    sqlx::query_as(concat!(
                        "INSERT INTO memories (site, key, value, confidence, active, \
                     session_id, created_at_ms, updated_at_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
                     ON CONFLICT (site, key) DO NOTHING RETURNING ",
                        memory_columns!()
                    ))
                    .bind(site.as_str())
                    .bind(key.as_str())
                    .bind(outcome.value.as_str())
                    .bind(outcome.confidence)
                    .bind(outcome.active)
                    .bind(outcome.session_id(None, session_id))
                    .bind(now_ms)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(memory::write_error)?
                }
            };
            if let Some(row) = written {
                tx.commit().await?;
                return Memory::try_from(row);
            }
            // The row appeared or vanished between the read and the write: look again.
        }
        Err(StoreError::Conflict("the memory kept changing".into()))
    }

    /// One attempt of `Store::reserve_action`: count the key's entries and insert the
    /// new one, with no other reservation of the key in between.
    pub(super) async fn try_reserve(
        &self,
        new: &NewAction,
        service: &str,
        limits: &CooldownLimits,
    ) -> Result<Slot, StoreError> {
        let mut tx = begin_write(&self.pool).await?;
        if let Some(lock) = DB::LEDGER_KEY_LOCK {
            // Held until commit or rollback: the next reservation of this key waits
            // here and then counts ours.
            sqlx::query(lock)
                .bind(new.site.as_str())
                .bind(service)
                .bind(new.kind.as_str())
                .execute(&mut *tx)
                .await?;
        }
        let counted: Vec<i64> = sqlx::query_scalar(
            "SELECT reserved_at_ms FROM actions WHERE site = $1 AND service = $2 AND kind = $3 \
             AND status IN ('reserved', 'succeeded', 'failed') AND reserved_at_ms > $4",
        )
        .bind(new.site.as_str())
        .bind(service)
        .bind(new.kind.as_str())
        .bind(ledger::window_start(new, limits))
        .fetch_all(&mut *tx)
        .await?;
        let verdict = ledger::judge(new, service, limits, &counted);
        let id: ActionId = sqlx::query_scalar(
            "INSERT INTO actions (site, service, kind, session_id, status, args, result, \
             reserved_at_ms, finished_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             RETURNING id",
        )
        .bind(new.site.as_str())
        .bind(service)
        .bind(new.kind.as_str())
        .bind(new.session_id)
        .bind(verdict.status.as_str())
        .bind(ledger::args_text(&new.args))
        .bind(verdict.result.as_deref())
        .bind(new.now_ms)
        .bind(verdict.finished_at_ms)
        .fetch_one(&mut *tx)
        .await
        .map_err(ledger::write_error)?;
        tx.commit().await?;
        Ok(verdict.decision(id))
    }
}
