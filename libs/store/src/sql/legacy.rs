//! `Store::import_legacy`: writes what `legacy::map` decided for each row of the
//! original's database, shared by both databases.
//!
//! Kinds go in the order their references need: sessions (a parent before its
//! children), then events, memories and cooldown actions, which point at
//! sessions. Rows are written [`CHUNK`] to a transaction, each with its row in
//! `legacy_imports` (site, kind, the original's id), so a run that stops
//! half-way leaves whole rows, every one of them recorded, and the next run
//! skips exactly those. Rows already recorded are skipped before anything is
//! written. This module must not hold business rules beyond what SQL enforces;
//! the translation is `legacy::map`'s.

use std::collections::HashMap;

use claudeops_core::{SessionId, SiteName};
use sqlx::{Encode, Executor, FromRow, IntoArguments, Transaction, Type};

use super::{Dialect, SqlStore, begin_write};
use crate::error::{is_foreign_key_violation, is_unique_violation};
use crate::legacy::map::{self, ActionPlan, EventPlan, MemoryPlan, SessionPlan};
use crate::legacy::{LegacyDatabase, LegacyKind, LegacyReport, SkipReason};
use crate::{StoreError, ledger};

/// Rows per transaction: short enough that a control plane running beside the
/// import waits for SQLite's write lock a moment at most.
const CHUNK: usize = 200;

/// One row of `legacy_imports`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ImportedRow {
    legacy_id: i64,
    our_id: i64,
    legacy_stamp: String,
}

/// What earlier imports into the site wrote of one kind: the original's id to
/// (ours, the original's creation time).
type Imported = HashMap<i64, (i64, String)>;

/// The original's session ids to ours, for the sessions of this database that are
/// here.
type SessionMap = HashMap<i64, SessionId>;

/// Why a row recorded before is skipped: imported already, or another row of
/// another database with the same id.
fn recorded(imported: &Imported, legacy_id: i64, stamp: &str) -> Option<SkipReason> {
    imported.get(&legacy_id).map(|(our_id, was)| {
        if was == stamp {
            SkipReason::AlreadyImported { our_id: *our_id }
        } else {
            SkipReason::OtherDatabase { stamp: was.clone() }
        }
    })
}

/// The plans of the rows of one kind to write now; every other row goes into
/// the report with its reason (recorded before, or unusable).
fn plans<'r, R: 'r, P>(
    kind: LegacyKind,
    rows: impl IntoIterator<Item = &'r R>,
    imported: &Imported,
    report: &mut LegacyReport,
    id_and_stamp: impl Fn(&R) -> (i64, String),
    plan: impl Fn(&R) -> Result<P, String>,
) -> Vec<P> {
    let mut todo = Vec::new();
    for row in rows {
        let (id, stamp) = id_and_stamp(row);
        if let Some(reason) = recorded(imported, id, &stamp) {
            report.skip(kind, id, reason);
            continue;
        }
        match plan(row) {
            Ok(plan) => todo.push(plan),
            Err(why) => report.skip(kind, id, SkipReason::Unusable(why)),
        }
    }
    todo
}

/// A write that met another import, or another writer of the same memory key.
fn write_error(error: sqlx::Error) -> StoreError {
    if is_unique_violation(&error) {
        StoreError::Conflict(
            "another import into this site, or a memory written with the same key, ran at \
             the same time; run the import again"
                .to_owned(),
        )
    } else if is_foreign_key_violation(&error) {
        StoreError::Conflict(
            "a session imported earlier was deleted during the import; run it again".to_owned(),
        )
    } else {
        StoreError::Database(error)
    }
}

fn session_note(session: i64) -> String {
    format!("its session #{session} was not imported: imported without a session")
}

impl<DB> SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'a> i32: Encode<'a, DB> + Type<DB>,
    for<'a> i64: Encode<'a, DB> + Type<DB>,
    for<'a> f64: Encode<'a, DB> + Type<DB>,
    for<'a> bool: Encode<'a, DB> + Type<DB>,
    for<'a> String: Encode<'a, DB> + Type<DB>,
    for<'a> Option<i32>: Encode<'a, DB> + Type<DB>,
    for<'a> Option<i64>: Encode<'a, DB> + Type<DB>,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
    for<'a> Option<&'a str>: Encode<'a, DB> + Type<DB>,
    (i64,): for<'r> FromRow<'r, DB::Row>,
    ImportedRow: for<'r> FromRow<'r, DB::Row>,
{
    /// `Store::import_legacy`.
    pub(super) async fn import_legacy_rows(
        &self,
        db: &LegacyDatabase,
        site: &SiteName,
        now_ms: i64,
    ) -> Result<LegacyReport, StoreError> {
        let mut report = LegacyReport::new(db, site);
        let mut sessions = self.sessions_here(db, site).await?;
        self.import_sessions(db, site, now_ms, &mut sessions, &mut report)
            .await?;
        self.import_events(db, site, now_ms, &sessions, &mut report)
            .await?;
        self.import_memories(db, site, now_ms, &sessions, &mut report)
            .await?;
        self.import_actions(db, site, now_ms, &sessions, &mut report)
            .await?;
        Ok(report)
    }

    async fn imported(&self, site: &SiteName, kind: LegacyKind) -> Result<Imported, StoreError> {
        let rows: Vec<ImportedRow> = sqlx::query_as(
            "SELECT legacy_id, our_id, legacy_stamp FROM legacy_imports \
             WHERE site = $1 AND kind = $2",
        )
        .bind(site.as_str())
        .bind(kind.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.legacy_id, (r.our_id, r.legacy_stamp)))
            .collect())
    }

    /// The sessions of this database imported before and still here.
    async fn sessions_here(
        &self,
        db: &LegacyDatabase,
        site: &SiteName,
    ) -> Result<SessionMap, StoreError> {
        let rows: Vec<ImportedRow> = sqlx::query_as(
            "SELECT m.legacy_id, m.our_id, m.legacy_stamp FROM legacy_imports m \
             JOIN sessions s ON s.id = m.our_id WHERE m.site = $1 AND m.kind = 'session'",
        )
        .bind(site.as_str())
        .fetch_all(&self.pool)
        .await?;
        let stamps: HashMap<i64, String> = db
            .sessions
            .iter()
            .map(|s| (s.id, map::stamp(&s.started_at)))
            .collect();
        Ok(rows
            .into_iter()
            .filter(|r| stamps.get(&r.legacy_id) == Some(&r.legacy_stamp))
            .map(|r| (r.legacy_id, r.our_id))
            .collect())
    }

    /// Records a written row in `legacy_imports`, in its transaction.
    async fn record(
        tx: &mut Transaction<'static, DB>,
        site: &SiteName,
        kind: LegacyKind,
        legacy_id: i64,
        our_id: i64,
        stamp: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO legacy_imports (site, kind, legacy_id, our_id, legacy_stamp, \
             imported_at_ms) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(site.as_str())
        .bind(kind.as_str())
        .bind(legacy_id)
        .bind(our_id)
        .bind(stamp)
        .bind(now_ms)
        .execute(&mut **tx)
        .await
        .map_err(write_error)?;
        Ok(())
    }

    async fn import_sessions(
        &self,
        db: &LegacyDatabase,
        site: &SiteName,
        now_ms: i64,
        sessions: &mut SessionMap,
        report: &mut LegacyReport,
    ) -> Result<(), StoreError> {
        let kind = LegacyKind::Session;
        let imported = self.imported(site, kind).await?;
        let todo: Vec<SessionPlan> = plans(
            kind,
            map::parent_first(&db.sessions),
            &imported,
            report,
            |s| (s.id, map::stamp(&s.started_at)),
            map::session,
        );
        for chunk in todo.chunks(CHUNK) {
            let mut tx = begin_write(&self.pool).await?;
            for plan in chunk {
                let parent = plan.parent.and_then(|p| sessions.get(&p).copied());
                let id = Self::insert_session(&mut tx, site, plan, parent).await?;
                Self::record(&mut tx, site, kind, plan.legacy_id, id, &plan.stamp, now_ms).await?;
                sessions.insert(plan.legacy_id, id);
                for note in &plan.notes {
                    report.note(kind, plan.legacy_id, note.clone());
                }
                if let (Some(p), None) = (plan.parent, parent) {
                    report.note(
                        kind,
                        plan.legacy_id,
                        format!(
                            "its parent session #{p} was not imported: imported without its \
                             escalation link"
                        ),
                    );
                }
            }
            tx.commit().await?;
            report.took(kind, chunk.len());
        }
        Ok(())
    }

    async fn insert_session(
        tx: &mut Transaction<'static, DB>,
        site: &SiteName,
        plan: &SessionPlan,
        parent: Option<SessionId>,
    ) -> Result<SessionId, StoreError> {
        // Confirmed when started: the original ran it.
        sqlx::query_scalar(
            "INSERT INTO sessions (site, tier, model, triggered_by, status, prompt, parent_id, \
             started_at_ms, ended_at_ms, cost_usd, turns, exit_code, response, structured, \
             error, confirmed_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $8) \
             RETURNING id",
        )
        .bind(site.as_str())
        .bind(i32::from(plan.tier.number()))
        .bind(plan.model.as_str())
        .bind(plan.trigger.as_str())
        .bind(plan.status.as_str())
        .bind(plan.prompt.as_deref())
        .bind(parent)
        .bind(plan.started_at_ms)
        .bind(Some(plan.ended_at_ms))
        .bind(plan.cost_usd)
        .bind(plan.turns)
        .bind(plan.exit_code)
        .bind(plan.response.as_deref())
        .bind(plan.structured.to_string())
        .bind(plan.error.as_deref())
        .fetch_one(&mut **tx)
        .await
        .map_err(write_error)
    }

    async fn import_events(
        &self,
        db: &LegacyDatabase,
        site: &SiteName,
        now_ms: i64,
        sessions: &SessionMap,
        report: &mut LegacyReport,
    ) -> Result<(), StoreError> {
        let kind = LegacyKind::Event;
        let imported = self.imported(site, kind).await?;
        let todo: Vec<EventPlan> = plans(
            kind,
            &db.events,
            &imported,
            report,
            |e| (e.id, map::stamp(&e.created_at)),
            map::event,
        );
        for chunk in todo.chunks(CHUNK) {
            let mut tx = begin_write(&self.pool).await?;
            for plan in chunk {
                let session = plan.session.and_then(|s| sessions.get(&s).copied());
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO events (ts_ms, site, session_id, level, service, message) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(plan.ts_ms)
                .bind(site.as_str())
                .bind(session)
                .bind(plan.level.as_str())
                .bind(plan.service.as_deref())
                .bind(plan.message.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(write_error)?;
                Self::record(&mut tx, site, kind, plan.legacy_id, id, &plan.stamp, now_ms).await?;
                for note in &plan.notes {
                    report.note(kind, plan.legacy_id, note.clone());
                }
                if let (Some(s), None) = (plan.session, session) {
                    report.note(kind, plan.legacy_id, session_note(s));
                }
            }
            tx.commit().await?;
            report.took(kind, chunk.len());
        }
        Ok(())
    }

    async fn import_memories(
        &self,
        db: &LegacyDatabase,
        site: &SiteName,
        now_ms: i64,
        sessions: &SessionMap,
        report: &mut LegacyReport,
    ) -> Result<(), StoreError> {
        let kind = LegacyKind::Memory;
        let imported = self.imported(site, kind).await?;
        let mut todo: Vec<MemoryPlan> = plans(
            kind,
            &db.memories,
            &imported,
            report,
            |m| (m.id, map::stamp(&m.created_at)),
            map::memory,
        );
        // Of several observations of one service and category, the one the
        // original trusted most keeps the plain key.
        todo.sort_by(|a, b| {
            a.key
                .cmp(&b.key)
                .then(b.confidence.total_cmp(&a.confidence))
                .then(b.updated_at_ms.cmp(&a.updated_at_ms))
                .then(a.legacy_id.cmp(&b.legacy_id))
        });
        for chunk in todo.chunks(CHUNK) {
            let mut tx = begin_write(&self.pool).await?;
            for plan in chunk {
                let key = Self::free_key(&mut tx, site, &plan.key).await?;
                let session = plan.session.and_then(|s| sessions.get(&s).copied());
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO memories (site, key, value, confidence, active, session_id, \
                     created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     RETURNING id",
                )
                .bind(site.as_str())
                .bind(key.as_str())
                .bind(plan.value.as_str())
                .bind(plan.confidence)
                .bind(plan.active)
                .bind(session)
                .bind(plan.created_at_ms)
                .bind(plan.updated_at_ms)
                .fetch_one(&mut *tx)
                .await
                .map_err(write_error)?;
                Self::record(&mut tx, site, kind, plan.legacy_id, id, &plan.stamp, now_ms).await?;
                for note in &plan.notes {
                    report.note(kind, plan.legacy_id, note.clone());
                }
                if key != plan.key {
                    report.note(
                        kind,
                        plan.legacy_id,
                        format!(
                            "kept as {key:?}: the site has a memory {:?} already (the original \
                             keeps several observations of one service and category)",
                            plan.key
                        ),
                    );
                }
                if let (Some(s), None) = (plan.session, session) {
                    report.note(kind, plan.legacy_id, session_note(s));
                }
            }
            tx.commit().await?;
            report.took(kind, chunk.len());
        }
        Ok(())
    }

    /// The first of `key`, `key.2`, `key.3`, ... the site has no memory with.
    async fn free_key(
        tx: &mut Transaction<'static, DB>,
        site: &SiteName,
        key: &str,
    ) -> Result<String, StoreError> {
        let mut n = 1;
        loop {
            let candidate = map::numbered_key(key, n);
            let taken: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM memories WHERE site = $1 AND key = $2")
                    .bind(site.as_str())
                    .bind(candidate.as_str())
                    .fetch_one(&mut **tx)
                    .await?;
            if taken == 0 {
                return Ok(candidate);
            }
            n += 1;
        }
    }

    async fn import_actions(
        &self,
        db: &LegacyDatabase,
        site: &SiteName,
        now_ms: i64,
        sessions: &SessionMap,
        report: &mut LegacyReport,
    ) -> Result<(), StoreError> {
        let kind = LegacyKind::CooldownAction;
        let imported = self.imported(site, kind).await?;
        let todo: Vec<ActionPlan> = plans(
            kind,
            &db.cooldowns,
            &imported,
            report,
            |c| (c.id, map::stamp(&c.timestamp)),
            map::cooldown,
        );
        for chunk in todo.chunks(CHUNK) {
            let mut tx = begin_write(&self.pool).await?;
            for plan in chunk {
                let session = plan.session.and_then(|s| sessions.get(&s).copied());
                // A past action: finished when it was taken (how long it took is
                // unknown), and counted by the cooldown rules like any other.
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO actions (site, service, kind, session_id, status, args, result, \
                     reserved_at_ms, finished_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
                     RETURNING id",
                )
                .bind(site.as_str())
                .bind(plan.service.as_str())
                .bind(plan.kind.as_str())
                .bind(session)
                .bind(plan.status.as_str())
                .bind(ledger::args_text(&plan.args))
                .bind(plan.result.as_deref())
                .bind(plan.at_ms)
                .fetch_one(&mut *tx)
                .await
                .map_err(write_error)?;
                Self::record(&mut tx, site, kind, plan.legacy_id, id, &plan.stamp, now_ms).await?;
                for note in &plan.notes {
                    report.note(kind, plan.legacy_id, note.clone());
                }
                if let (Some(s), None) = (plan.session, session) {
                    report.note(kind, plan.legacy_id, session_note(s));
                }
            }
            tx.commit().await?;
            report.took(kind, chunk.len());
        }
        Ok(())
    }
}
