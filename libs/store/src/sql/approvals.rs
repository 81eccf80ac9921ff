//! The statements of approval gates, shared by both databases: a request holds
//! its ledger entry, and the one decision it may take is made atomically
//! (single use), giving the entry back when it is not an approval.

use claudeops_core::approval::{Approval, ApprovalStatus, NewApproval};
use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};

use super::{Dialect, SqlStore, begin_write};
use crate::StoreError;
use crate::rows::ApprovalRow;

macro_rules! approval_select {
    () => {
        "SELECT p.id, p.action_id, p.session_id, p.site, p.service, p.kind, a.args, p.status, \
         p.requested_at_ms, p.expires_at_ms, p.decided_at_ms, p.decided_by, p.reason \
         FROM approvals p JOIN actions a ON a.id = p.action_id "
    };
}

impl<DB> SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'a> i64: Encode<'a, DB> + Type<DB>,
    for<'a> Option<i64>: Encode<'a, DB> + Type<DB>,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
    for<'a> Option<&'a str>: Encode<'a, DB> + Type<DB>,
    ApprovalRow: for<'r> FromRow<'r, DB::Row>,
    (i64,): for<'r> FromRow<'r, DB::Row>,
{
    pub(super) async fn insert_approval(&self, new: &NewApproval) -> Result<Approval, StoreError> {
        let mut tx = begin_write(&self.pool).await?;
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO approvals (action_id, session_id, site, service, kind, status, \
             requested_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7) \
             RETURNING id",
        )
        .bind(new.action_id)
        .bind(new.session_id)
        .bind(new.site.as_str())
        .bind(new.service.as_str())
        .bind(new.kind.as_str())
        .bind(new.requested_at_ms)
        .bind(new.expires_at_ms)
        .fetch_one(&mut *tx)
        .await?;
        let row: ApprovalRow = sqlx::query_as(concat!(approval_select!(), "WHERE p.id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Approval::try_from(row)
    }

    pub(super) async fn approval(&self, id: i64) -> Result<Option<Approval>, StoreError> {
        let row: Option<ApprovalRow> =
            sqlx::query_as(concat!(approval_select!(), "WHERE p.id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(Approval::try_from).transpose()
    }

    pub(super) async fn approvals(
        &self,
        session_id: Option<i64>,
        status: Option<ApprovalStatus>,
        limit: u32,
    ) -> Result<Vec<Approval>, StoreError> {
        let rows: Vec<ApprovalRow> = sqlx::query_as(concat!(
            approval_select!(),
            "WHERE ($1 IS NULL OR p.session_id = $1) AND ($2 IS NULL OR p.status = $2) \
             ORDER BY p.id DESC LIMIT $3"
        ))
        .bind(session_id)
        .bind(status.map(ApprovalStatus::as_str))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(Approval::try_from).collect()
    }

    /// Takes a pending request to `status`, once. `None` when it was no longer
    /// pending, or for an approval past the deadline; `NotFound` without it.
    pub(super) async fn settle_approval(
        &self,
        id: i64,
        status: ApprovalStatus,
        by: Option<&str>,
        reason: &str,
        now_ms: i64,
    ) -> Result<Option<Approval>, StoreError> {
        if status == ApprovalStatus::Pending {
            return Err(StoreError::Conflict(
                "a decision cannot make a request pending again".to_owned(),
            ));
        }
        let mut tx = begin_write(&self.pool).await?;
        let settled: Option<(i64,)> = sqlx::query_as(
            "UPDATE approvals SET status = $2, decided_at_ms = $3, decided_by = $4, reason = $5 \
             WHERE id = $1 AND status = 'pending' \
             AND ($2 <> 'approved' OR expires_at_ms > $3) RETURNING action_id",
        )
        .bind(id)
        .bind(status.as_str())
        .bind(now_ms)
        .bind(by)
        .bind(reason)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((action_id,)) = settled else {
            let found: Option<(i64,)> = sqlx::query_as("SELECT id FROM approvals WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            return found.map(|_| None).ok_or(StoreError::NotFound);
        };
        if status != ApprovalStatus::Approved {
            // The slot held for the decision is given back: nothing was done.
            sqlx::query(
                "UPDATE actions SET status = 'denied', result = $2, finished_at_ms = $3, \
                 duration_ms = $3 - reserved_at_ms WHERE id = $1 AND status = 'reserved'",
            )
            .bind(action_id)
            .bind(reason)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.approval(id).await
    }
}
