//! Scheduled runs per site, the reaper that ends sessions nobody will finish, and
//! the periodic upkeep (probe history pruned, stale memories decayed).
//!
//! The next scheduled run of a site is decided from the store (the last scheduled
//! start plus the interval), so a restart neither skips nor repeats a run. The
//! decisions are pure functions; the task only applies them, through the peer
//! services (it starts nothing but through `Sessions::start`).

use std::collections::HashMap;
use std::time::Duration;

use claudeops_core::sweep::{self, SweepDecision, SweepMark};
use claudeops_core::{Session, SessionOutcome, SessionStatus, SiteName, Tier, Trigger};
use claudeops_telemetry::names;

use crate::clock::now_ms;
use crate::context::Context;
use crate::incidents::Incidents;
use crate::notifications::Notifications;
use crate::registry::Presence;
use crate::sessions::{Sessions, StartError, StartRequest, failed_outcome};

mod sweeps;

const TICK: Duration = Duration::from_secs(5);
/// How often probe attempts past their retention are deleted.
const PRUNE_EVERY_MS: i64 = 600_000;
/// How long probe rollups are kept: hourly ones 90 days, daily ones two
/// years (the history pages' and status pages' uptime beyond raw attempts).
const ROLLUP_RETENTION: [(claudeops_core::health::RollupPeriod, i64); 2] = [
    (claudeops_core::health::RollupPeriod::Hour, 90 * 86_400_000),
    (claudeops_core::health::RollupPeriod::Day, 730 * 86_400_000),
];
/// How often the notifier hears which incidents are open, and the digest is checked.
const NOTIFY_EVERY_MS: i64 = 30_000;
/// How often stale memories are decayed (`core::memory::decay`: a step is due at
/// most once a week per memory, so this only bounds how late one is taken).
const DECAY_EVERY_MS: i64 = 600_000;

/// How long a session may wait for its worker to come back.
pub const WORKER_GRACE_MS: i64 = 120_000;
/// Extra time past the worker's own timeout before the control plane gives up.
pub const TIMEOUT_GRACE_MS: i64 = 60_000;

/// What to do with a running session, given what we know now.
#[derive(Debug, PartialEq, Eq)]
pub enum Reap {
    Keep,
    TimedOut,
    WorkerLost,
}

pub fn reap_decision(
    session: &Session,
    worker_connected: bool,
    disconnected_since_ms: i64,
    timeout_ms: i64,
    now: i64,
) -> Reap {
    if now > session.started_at_ms + timeout_ms + TIMEOUT_GRACE_MS {
        Reap::TimedOut
    } else if !worker_connected
        && now - disconnected_since_ms.max(session.started_at_ms) > WORKER_GRACE_MS
    {
        Reap::WorkerLost
    } else {
        Reap::Keep
    }
}

/// The services the scheduler drives.
pub struct Scheduler {
    pub ctx: Context,
    pub sessions: Sessions,
    pub incidents: Incidents,
    pub notifications: Notifications,
}

impl Scheduler {
    pub async fn run(self) {
        let mut first_seen: HashMap<SiteName, i64> = HashMap::new();
        let mut marks: HashMap<SiteName, SweepMark> = HashMap::new();
        let mut disconnected_since: HashMap<String, i64> = HashMap::new();
        let mut tick = tokio::time::interval(TICK);
        let mut last_prune = 0;
        let mut last_notify = 0;
        let mut last_decay = 0;
        let mut presence = Presence::default();
        loop {
            tick.tick().await;
            let now = now_ms();
            self.schedule(&mut first_seen, &mut marks, now).await;
            reap(&self.ctx, &self.sessions, &mut disconnected_since, now).await;
            self.incidents.retry_incident_sessions().await;
            let connected: Vec<(String, SiteName)> = self
                .ctx
                .registry
                .list()
                .into_iter()
                .map(|w| (w.worker_id, w.site))
                .collect();
            for change in presence.update(&connected, now) {
                self.notifications.presence_changed(change).await;
            }
            if now - last_notify >= NOTIFY_EVERY_MS {
                last_notify = now;
                if self.notifications.notifier().is_some() {
                    let open = self.incidents.remindable().await;
                    self.notifications.set_open_incidents(open);
                }
                self.notifications.daily_digest(now).await;
            }
            if now - last_prune >= PRUNE_EVERY_MS {
                last_prune = now;
                let retention = i64::try_from(self.ctx.config.probe_retention().as_millis())
                    .unwrap_or(i64::MAX / 2);
                if let Err(error) = self.ctx.store.prune_probe_attempts(now - retention).await {
                    tracing::warn!(%error, "could not prune old probe attempts");
                }
                for (period, keep) in ROLLUP_RETENTION {
                    if let Err(error) = self.ctx.store.prune_probe_rollups(period, now - keep).await
                    {
                        tracing::warn!(%error, "could not prune old probe rollups");
                    }
                }
                prune_output(&self.ctx, now).await;
            }
            if now - last_decay >= DECAY_EVERY_MS {
                last_decay = now;
                decay_memories(&self.ctx, now).await;
            }
        }
    }

    /// Starts the scheduled run of each connected site that is due, at the
    /// site's interval in effect now (runtime changes apply at the next tick),
    /// unless `CLAUDEOPS_SWEEP=auto` finds the site healthy and unchanged
    /// (`core::sweep`).
    async fn schedule(
        &self,
        first_seen: &mut HashMap<SiteName, i64>,
        marks: &mut HashMap<SiteName, SweepMark>,
        now: i64,
    ) {
        for site in self.ctx.registry.sites() {
            let seen = *first_seen.entry(site.clone()).or_insert(now);
            let config = self.ctx.runtime.site(&site);
            let Some(interval) = config.interval() else {
                continue;
            };
            let interval_ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
            let last = match self.sessions.last_started(&site, Trigger::Scheduled).await {
                Ok(last) => last,
                Err(error) => {
                    tracing::error!(%error, "scheduler cannot read the store");
                    return;
                }
            };
            let mark = match marks.get(&site) {
                Some(mark) => mark.clone(),
                None => {
                    let mark = sweeps::load(&self.ctx, &site).await;
                    marks.insert(site.clone(), mark.clone());
                    mark
                }
            };
            if now < sweep::next_due(last, &mark, seen, interval_ms) {
                continue;
            }
            let snapshot = match sweeps::snapshot(&self.ctx, &site, &mark).await {
                Ok(snapshot) => snapshot,
                Err(error) => {
                    tracing::error!(%error, %site, "scheduler cannot read the site's state");
                    continue;
                }
            };
            let max_skip_ms = i64::try_from(config.sweep_max_skip.as_millis()).unwrap_or(i64::MAX);
            let decision = sweep::decide(config.sweep, &mark, &snapshot, now, max_skip_ms);
            if let SweepDecision::Skip(reason) = &decision {
                let mark = SweepMark {
                    considered_at_ms: Some(now),
                    skipped: mark.skipped.saturating_add(1),
                    ..mark
                };
                tracing::info!(%site, skipped = mark.skipped, "scheduled sweep skipped: {reason}");
                metrics::counter!(names::SWEEPS, "site" => site.to_string(), "decision" => "skipped")
                    .increment(1);
                sweeps::save(&self.ctx, &site, &mark).await;
                marks.insert(site, mark);
                continue;
            }
            let request = StartRequest {
                site: site.clone(),
                tier: Tier::Observe,
                trigger: Trigger::Scheduled,
                prompt: None,
                handoff: None,
                parent_id: None,
            };
            match self.sessions.start(request).await {
                Ok(session) => {
                    tracing::info!(%site, session = session.id, "scheduled sweep: {}", decision.reason());
                    metrics::counter!(names::SWEEPS, "site" => site.to_string(), "decision" => "ran")
                        .increment(1);
                    let mark = SweepMark {
                        ran_at_ms: Some(now),
                        session_id: Some(session.id),
                        fingerprint: Some(snapshot.fingerprint),
                        considered_at_ms: Some(now),
                        skipped: 0,
                    };
                    sweeps::save(&self.ctx, &site, &mark).await;
                    marks.insert(site, mark);
                }
                // Busy: the next tick tries again once the running session ends.
                Err(
                    StartError::Busy { .. }
                    | StartError::NoWorker(_)
                    | StartError::LlmOff(_)
                    | StartError::ShuttingDown,
                ) => {}
                Err(error) => tracing::warn!(%site, %error, "scheduled run did not start"),
            }
        }
    }
}

/// Stale memories lose confidence (`CLAUDEOPS_MEMORY_DECAY`; nothing when off).
async fn decay_memories(ctx: &Context, now: i64) {
    let Some(rule) = ctx.config.memory_decay() else {
        return;
    };
    match ctx.store.decay_memories(&rule, now).await {
        Ok(0) => {}
        Ok(count) => tracing::info!(count, "stale memories lost confidence"),
        Err(error) => tracing::warn!(%error, "could not decay stale memories"),
    }
}

async fn reap(
    ctx: &Context,
    sessions: &Sessions,
    disconnected_since: &mut HashMap<String, i64>,
    now: i64,
) {
    let Ok(running) = ctx.store.running_sessions().await else {
        return;
    };
    let timeout_ms = i64::try_from(ctx.config.session_timeout.as_millis()).unwrap_or(i64::MAX / 2);
    // A ledger slot reserved by a session that can no longer be running was
    // abandoned by a crashed worker; it keeps counting, but stops being "reserved".
    let stale_before = now - timeout_ms - TIMEOUT_GRACE_MS;
    match ctx.store.release_stale_reservations(stale_before).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            count = n,
            "ledger reservations abandoned by a worker marked failed"
        ),
        Err(error) => tracing::error!(%error, "could not release stale ledger reservations"),
    }
    for session in running {
        let worker = session.worker_id.clone().unwrap_or_default();
        let connected = ctx.registry.is_connected(&worker);
        let since = if connected {
            disconnected_since.remove(&worker);
            now
        } else {
            *disconnected_since.entry(worker.clone()).or_insert(now)
        };
        let outcome = match reap_decision(&session, connected, since, timeout_ms, now) {
            Reap::Keep => continue,
            Reap::TimedOut => {
                let _ = sessions
                    .stop(session.id, "timed out on the control plane")
                    .await;
                SessionOutcome {
                    status: SessionStatus::TimedOut,
                    ..failed_outcome("no result within the session timeout")
                }
            }
            Reap::WorkerLost => failed_outcome("the worker disconnected and did not come back"),
        };
        if let Err(error) = sessions.finish(session.id, outcome).await {
            tracing::error!(%error, "reaper could not end a session");
        }
    }
}

/// Output retention (`CLAUDEOPS_OUTPUT_RETENTION`): the stored output of
/// sessions that ended longer ago, and run logs last written before then.
/// The sessions and their summaries stay. Zero keeps everything.
pub async fn prune_output(ctx: &crate::context::Context, now: i64) {
    let retention = ctx.config.output_retention;
    if retention.is_zero() {
        return;
    }
    let cut = now - i64::try_from(retention.as_millis()).unwrap_or(i64::MAX / 2);
    match ctx.store.prune_output(cut).await {
        Ok(0) => {}
        Ok(lines) => tracing::info!(lines, "pruned stored output past its retention"),
        Err(error) => tracing::warn!(%error, "could not prune old session output"),
    }
    let dir = ctx.config.results_dir.clone();
    let pruned = tokio::task::spawn_blocking(move || {
        crate::run_logs::prune(&dir, retention, crate::clock::time_of_ms(now))
    })
    .await;
    match pruned {
        Ok(Ok(0)) => {}
        Ok(Ok(files)) => tracing::info!(files, "pruned run logs past their retention"),
        Ok(Err(error)) => tracing::warn!(%error, "could not prune old run logs"),
        Err(error) => tracing::warn!(%error, "the run log pruning task failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(started: i64) -> Session {
        Session {
            id: 1,
            site: SiteName::new("s").unwrap_or_else(|e| panic!("{e}")),
            worker_id: Some("w".into()),
            tier: Tier::Observe,
            model: "haiku".into(),
            trigger: Trigger::Manual,
            status: SessionStatus::Running,
            prompt: None,
            parent_id: None,
            started_at_ms: started,
            ended_at_ms: None,
            cost_usd: 0.0,
            turns: 0,
            exit_code: None,
            response: None,
            structured: None,
            error: None,
            trace: None,
        }
    }

    #[test]
    fn reaps_what_cannot_finish() {
        let s = session(0);
        let timeout = 1_800_000;
        let cases = [
            (true, 0, 10_000, Reap::Keep),
            (true, 0, timeout + TIMEOUT_GRACE_MS + 1, Reap::TimedOut),
            (false, 0, WORKER_GRACE_MS - 1, Reap::Keep),
            (false, 0, WORKER_GRACE_MS + 1, Reap::WorkerLost),
            (false, 50_000, WORKER_GRACE_MS + 1, Reap::Keep),
        ];
        for (connected, since, now, want) in cases {
            assert_eq!(
                reap_decision(&s, connected, since, timeout, now),
                want,
                "{connected} {since} {now}"
            );
        }
    }
}
