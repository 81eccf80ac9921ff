//! The statements of the memories page and of staleness decay, shared by both
//! databases: a search by the key's parts and by text, with the tier of the
//! session that wrote each memory, and the decay of stale memories.
//!
//! The rules are `claudeops_core::memory`'s (`split_key`, `decay`); this module only
//! reads and writes. Every function here is portable SQL: `substr`, `length`,
//! `lower` and `LIKE ... ESCAPE` mean the same in SQLite and PostgreSQL.

use claudeops_core::memory::{DecayRule, decay};
use sqlx::{Encode, Executor, FromRow, IntoArguments, Pool, Type};

use super::Dialect;
use crate::StoreError;
use crate::model::{MemoryListing, MemorySearch};
use crate::rows::{MemoryListingRow, MemoryRow};

/// The memory columns of `memories m`, then its session's tier. `$2` service: the
/// key before its first `:`. `$3` category: the key without a service, or the key
/// after `SERVICE:` where SERVICE holds no `:`.
const SEARCH: &str = "SELECT m.id, m.site, m.key, m.value, m.confidence, m.active, m.session_id, \
     m.created_at_ms, m.updated_at_ms, s.tier \
     FROM memories m LEFT JOIN sessions s ON s.id = m.session_id \
     WHERE ($1 IS NULL OR m.site = $1) \
     AND ($2 IS NULL OR substr(m.key, 1, length($2) + 1) = $2 || ':') \
     AND ($3 IS NULL OR m.key = $3 \
          OR (length(m.key) > length($3) + 1 \
              AND substr(m.key, length(m.key) - length($3)) = ':' || $3 \
              AND substr(m.key, 1, length(m.key) - length($3) - 1) NOT LIKE '%:%')) \
     AND ($4 IS NULL OR m.active = $4) \
     AND ($5 IS NULL OR lower(m.key || ' ' || m.value) LIKE $5 ESCAPE '\\') \
     ORDER BY m.confidence DESC, m.updated_at_ms DESC, m.id DESC LIMIT $6 OFFSET $7";

/// The memory statements over one pool.
pub(super) struct Memories<'p, DB: Dialect>(pub(super) &'p Pool<DB>);

impl<DB> Memories<'_, DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'a> i64: Encode<'a, DB> + Type<DB>,
    for<'a> f64: Encode<'a, DB> + Type<DB>,
    for<'a> bool: Encode<'a, DB> + Type<DB>,
    for<'a> Option<bool>: Encode<'a, DB> + Type<DB>,
    for<'a> Option<String>: Encode<'a, DB> + Type<DB>,
    for<'a> Option<&'a str>: Encode<'a, DB> + Type<DB>,
    MemoryRow: for<'r> FromRow<'r, DB::Row>,
    MemoryListingRow: for<'r> FromRow<'r, DB::Row>,
{
    pub(super) async fn search(
        &self,
        search: &MemorySearch,
    ) -> Result<Vec<MemoryListing>, StoreError> {
        let part = |v: &Option<String>| {
            v.as_deref()
                .map(|v| v.trim().to_lowercase())
                .filter(|v| !v.is_empty())
        };
        let text = part(&search.text).map(|t| format!("%{}%", like_escape(&t)));
        let rows: Vec<MemoryListingRow> = sqlx::query_as(SEARCH)
            .bind(search.site.as_ref().map(|s| s.as_str()))
            .bind(part(&search.service))
            .bind(part(&search.category))
            .bind(search.active)
            .bind(text)
            .bind(i64::from(search.limit))
            .bind(i64::from(search.offset))
            .fetch_all(self.0)
            .await?;
        rows.into_iter().map(MemoryListing::try_from).collect()
    }

    /// Reads the active memories with a step due, then writes each one's decay
    /// guarded by the `updated_at_ms` it was computed from, so a confirmation or an
    /// edit in between wins and no step is taken twice.
    pub(super) async fn decay(&self, rule: &DecayRule, now_ms: i64) -> Result<u64, StoreError> {
        let stale: Vec<MemoryRow> = sqlx::query_as(concat!(
            "SELECT ",
            memory_columns!(),
            " FROM memories WHERE active AND updated_at_ms <= $1 ORDER BY id"
        ))
        .bind(rule.due_at_or_before(now_ms))
        .fetch_all(self.0)
        .await?;
        let mut decayed = 0;
        for row in stale {
            let memory = claudeops_core::memory::Memory::try_from(row)?;
            let Some(next) = decay(&memory, rule, now_ms) else {
                continue;
            };
            let done = sqlx::query(
                "UPDATE memories SET confidence = $2, active = $3, updated_at_ms = $4 \
                 WHERE id = $1 AND updated_at_ms = $5 AND active",
            )
            .bind(memory.id)
            .bind(next.confidence)
            .bind(next.active)
            .bind(next.updated_at_ms)
            .bind(memory.updated_at_ms)
            .execute(self.0)
            .await?;
            decayed += DB::rows_affected(&done);
        }
        Ok(decayed)
    }
}

/// `text` as a literal inside a `LIKE` pattern whose escape character is `\`.
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_match_the_text_literally() {
        assert_eq!(like_escape("50%_a\\b"), "50\\%\\_a\\\\b");
        assert_eq!(like_escape("plain"), "plain");
    }
}
