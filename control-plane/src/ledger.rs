//! The control plane's side of the cooldown ledger: a worker's typed action asks
//! for a slot, and gets it only if the session may do that kind of action and the
//! service is within its limits. The store makes the reservation atomic across
//! the fleet; this module checks who is asking and raises the alarm once per
//! service per window when a limit is hit.

use claudeops_telemetry::{SpanRecord, TraceContext, names};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use claudeops_core::SessionStatus;
use claudeops_core::event::EventLevel;
use claudeops_core::ledger::{ActionKind, ActionStatus, NewAction, Slot};
use claudeops_core::link::{ActionDone, LedgerAnswer, LedgerRequest};

use crate::approvals::Approvals;
use crate::clock::now_ms;
use crate::context::Context;
use crate::notifications::Notifications;

/// (site, service, kind) of a ledger entry.
type AlertKey = (String, String, String);

/// When the last "needs human attention" alert went out per (site, service, kind).
#[derive(Clone, Default)]
pub struct Alerts {
    last: Arc<Mutex<HashMap<AlertKey, i64>>>,
}

impl Alerts {
    /// True if no alert went out for this key within `window_ms`; records now.
    fn first_in_window(&self, key: AlertKey, window_ms: i64, now: i64) -> bool {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match last.get(&key) {
            Some(t) if now - t < window_ms => false,
            _ => {
                last.insert(key, now);
                true
            }
        }
    }
}

fn answer(
    request_id: u64,
    granted: bool,
    action_id: i64,
    reason: String,
    next: Option<i64>,
) -> LedgerAnswer {
    LedgerAnswer {
        request_id,
        granted,
        action_id,
        reason,
        next_allowed_ms: next,
    }
}

/// Answers a worker's reservation request; counted, and a span in the
/// session's trace.
pub async fn reserve(
    ctx: &Context,
    notifications: &Notifications,
    alerts: &Alerts,
    approvals: &Approvals,
    worker_id: &str,
    req: LedgerRequest,
) -> LedgerAnswer {
    let started = std::time::SystemTime::now();
    let kind = req
        .kind
        .parse::<ActionKind>()
        .map_or("unknown", |k| k.as_str());
    let service = req.service.clone();
    let session_id = req.session_id;
    let asked_by = req
        .traceparent
        .as_deref()
        .and_then(|t| TraceContext::parse(t).ok());
    let answer = decide(ctx, notifications, alerts, approvals, worker_id, req).await;
    let result = if answer.granted { "granted" } else { "refused" };
    metrics::counter!(names::LEDGER_DECISIONS, "kind" => kind, "result" => result).increment(1);
    // Under the worker's action that asked, else under the session.
    let parent = match asked_by {
        Some(parent) => Some(parent),
        None if claudeops_telemetry::trace::enabled() => ctx
            .store
            .get_session(session_id)
            .await
            .ok()
            .flatten()
            .and_then(|s| s.trace)
            .and_then(|t| TraceContext::parse(&t.traceparent).ok()),
        None => None,
    };
    if let Some(parent) = parent {
        let mut span = SpanRecord::new(
            "ledger reserve",
            parent.child(),
            Some(parent.span_id),
            started,
            std::time::SystemTime::now(),
        )
        .attr("claudeops.action.kind", kind)
        .attr("claudeops.service", service)
        .attr("claudeops.ledger.result", result)
        .attr("claudeops.action.id", answer.action_id);
        if !answer.granted {
            span = span.attr("claudeops.ledger.reason", answer.reason.clone());
        }
        span.record();
    }
    answer
}

async fn decide(
    ctx: &Context,
    notifications: &Notifications,
    alerts: &Alerts,
    approvals: &Approvals,
    worker_id: &str,
    req: LedgerRequest,
) -> LedgerAnswer {
    let deny = |reason: String| answer(req.request_id, false, 0, reason, None);
    let Ok(kind) = req.kind.parse::<ActionKind>() else {
        return deny(format!("unknown action kind {:?}", req.kind));
    };
    let session = match ctx.store.get_session(req.session_id).await {
        Ok(Some(s)) => s,
        Ok(None) => return deny(format!("unknown session #{}", req.session_id)),
        Err(e) => return deny(format!("the ledger is unavailable: {e}")),
    };
    if session.worker_id.as_deref() != Some(worker_id) || session.status != SessionStatus::Running {
        return deny(format!(
            "session #{} is not running on this worker",
            session.id
        ));
    }
    if session.tier < kind.tier() {
        return deny(format!(
            "a {} needs tier {} or higher; this is a tier {} session",
            kind.as_str(),
            kind.tier(),
            session.tier
        ));
    }
    if let Some(scope) = scope(ctx, &session).await
        && !scope.allows(&req.service)
    {
        let reason = scope.refusal(kind, &req.service);
        ctx.event_for(
            &session.site,
            Some(session.id),
            EventLevel::Warning,
            Some(req.service.clone()),
            format!("out of scope: {reason}"),
        )
        .await;
        return deny(reason);
    }
    if approvals.needed(kind)
        && let Some(reason) = approvals
            .refused_before(session.id, kind, &req.service)
            .await
    {
        return deny(reason);
    }
    let args = serde_json::from_str(&req.args_json).unwrap_or(serde_json::Value::Null);
    let limits = ctx.config.cooldown_limits();
    let now = now_ms();
    let new = NewAction {
        site: session.site.clone(),
        service: req.service.clone(),
        kind,
        session_id: Some(session.id),
        args,
        now_ms: now,
    };
    match ctx.store.reserve_action(&new, &limits).await {
        Ok(Slot::Granted { id }) => {
            // Held while a human decides, so a concurrent request counts it.
            if approvals.needed(kind)
                && let Err(refused) = approvals
                    .wait_for_decision(&session, id, kind, &req.service)
                    .await
            {
                if refused.release {
                    release(ctx, id, &refused.reason).await;
                }
                return deny(refused.reason);
            }
            tracing::info!(session = session.id, service = %req.service, kind = kind.as_str(), action = id, "ledger slot granted");
            answer(req.request_id, true, id, String::new(), None)
        }
        Ok(Slot::Denied {
            reason,
            next_allowed_ms,
            ..
        }) => {
            let (_, window) = limits.limit_for(kind);
            let key = (
                session.site.to_string(),
                req.service.to_lowercase(),
                kind.as_str().to_owned(),
            );
            ctx.event(
                &session.site,
                Some(session.id),
                EventLevel::Warning,
                format!(
                    "cooldown: {} of {} refused: {reason}",
                    kind.as_str(),
                    req.service
                ),
            )
            .await;
            if alerts.first_in_window(key, window, now) {
                let message = format!(
                    "needs human attention: {} of {} refused by the cooldown ledger: {reason}",
                    kind.as_str(),
                    req.service
                );
                ctx.event_for(
                    &session.site,
                    Some(session.id),
                    EventLevel::Critical,
                    Some(req.service.clone()),
                    message,
                )
                .await;
                notifications.cooldown(&session, &req.service, &reason);
            }
            answer(req.request_id, false, 0, reason, Some(next_allowed_ms))
        }
        Err(e) => deny(format!("the ledger refused: {e}")),
    }
}

/// What a session started for an incident may act on: the incident's service
/// and the services it depends on (a fault in a dependency is fixed there).
/// A session an operator started (manual, scheduled, chat) has no scope here:
/// its tier and the ledger bound it.
struct Scope {
    incident: i64,
    service: String,
    services: Vec<String>,
}

impl Scope {
    fn allows(&self, service: &str) -> bool {
        let wanted = crate::dependencies::key(service);
        self.services
            .iter()
            .any(|s| crate::dependencies::key(s) == wanted)
    }

    fn refusal(&self, kind: ActionKind, service: &str) -> String {
        let others: Vec<&str> = self
            .services
            .iter()
            .map(String::as_str)
            .filter(|s| *s != self.service)
            .collect();
        let deps = if others.is_empty() {
            String::new()
        } else {
            format!(" or what it depends on ({})", others.join(", "))
        };
        format!(
            "a {} of {service} is outside this session's incident #{} ({}{deps}); \
             do not act on other services: report what you saw and escalate",
            kind.as_str(),
            self.incident,
            self.service
        )
    }
}

/// The scope of a session's chain, if an incident started it.
async fn scope(ctx: &Context, session: &claudeops_core::Session) -> Option<Scope> {
    use claudeops_store::IncidentFilter;
    let mut id = Some(session.id);
    let mut hops = 0;
    while let Some(current) = id {
        let filter = IncidentFilter {
            session_id: Some(current),
            ..IncidentFilter::default()
        };
        if let Some(incident) = ctx
            .store
            .list_incidents(&filter)
            .await
            .ok()?
            .into_iter()
            .next()
        {
            let graph = crate::dependencies::Graph::of_site(ctx, &incident.site).await;
            let mut services = vec![incident.service.clone()];
            services.extend(graph.dependencies(&incident.service));
            return Some(Scope {
                incident: incident.id,
                service: incident.service,
                services,
            });
        }
        hops += 1;
        if hops > 16 {
            return None;
        }
        id = ctx.store.get_session(current).await.ok()??.parent_id;
    }
    None
}

/// Gives back a granted slot that will not be used: nothing was done.
pub async fn release(ctx: &Context, action_id: i64, reason: &str) {
    if let Err(error) = ctx
        .store
        .finish_action(action_id, ActionStatus::Released, reason, now_ms())
        .await
    {
        tracing::warn!(%error, action = action_id, "could not give back an unused ledger slot");
    }
}

/// Records how a granted action ended.
pub async fn finish(ctx: &Context, finish: ActionDone) {
    let status = if finish.ok {
        ActionStatus::Succeeded
    } else {
        ActionStatus::Failed
    };
    match ctx
        .store
        .finish_action(finish.action_id, status, &finish.result, now_ms())
        .await
    {
        Ok(Some(record)) => {
            let result = if finish.ok { "succeeded" } else { "failed" };
            metrics::counter!(names::ACTIONS, "kind" => record.kind.as_str(), "result" => result)
                .increment(1);
            let level = if finish.ok {
                EventLevel::Info
            } else {
                EventLevel::Warning
            };
            let message = format!(
                "{} of {}: {}",
                record.kind.as_str(),
                record.service,
                finish.result
            );
            ctx.event_for(
                &record.site,
                record.session_id,
                level,
                Some(record.service.clone()),
                message,
            )
            .await;
        }
        Ok(None) => tracing::warn!(
            action = finish.action_id,
            "a ledger entry was finished twice or never reserved"
        ),
        Err(error) => tracing::error!(%error, "could not record an action's outcome"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_holds_the_incident_and_its_dependencies() {
        let scope = Scope {
            incident: 7,
            service: "web".into(),
            services: vec!["web".into(), "Home Assistant".into()],
        };
        assert!(scope.allows("web"));
        assert!(scope.allows("WEB"));
        assert!(scope.allows("home-assistant"));
        assert!(!scope.allows("cache"));
        assert!(!scope.allows("web2"));
        let refusal = scope.refusal(ActionKind::Restart, "cache");
        assert!(
            refusal.contains("incident #7 (web or what it depends on (Home Assistant))"),
            "{refusal}"
        );
        assert!(refusal.contains("escalate"), "{refusal}");
    }
}
