//! Approval gates: a typed action that `CLAUDEOPS_APPROVAL_TIER` or
//! `CLAUDEOPS_APPROVAL_KINDS` holds waits here for a human.
//!
//! The ledger has already reserved the action's slot; this records the
//! request, tells humans (a notification with signed, single-use approve and
//! deny links), and waits: for a decision (the links, the session page's
//! buttons, the API), for the deadline (`CLAUDEOPS_APPROVAL_TIMEOUT`, then
//! denied), or for the session's end. Meanwhile the session's CLI waits on its
//! tool call and uses no tokens. The decision, who made it and when are the
//! request's record in the store, and an event.
//!
//! The store makes a decision single-use; the waiting task also reads the
//! store every [`POLL`], so a decision made by another replica (or after this
//! one lost its in-memory waiter) is seen too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use claudeops_core::approval::{Approval, ApprovalStatus, Decision, NewApproval};
use claudeops_core::event::EventLevel;
use claudeops_core::ledger::ActionKind;
use claudeops_core::{Session, SessionStatus};
use claudeops_store::StoreError;
use tokio::sync::oneshot;

use crate::clock::{now_ms, time_of_ms};
use crate::context::Context;
use crate::notifications::Notifications;

/// How often a waiting request reads the store and its session's status.
const POLL: Duration = Duration::from_secs(2);

/// The longest name a link's holder may give.
pub const MAX_NAME_CHARS: usize = 64;

/// Why a decision was not taken.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error("no approval request #{0}")]
    NotFound(i64),
    /// Already decided or expired: links and buttons work once.
    #[error("approval request #{} was already {}", .0.id, .0.status.as_str())]
    Settled(Box<Approval>),
    /// Its deadline passed: it is denied, whatever comes now.
    #[error("approval request #{} is past its deadline", .0.id)]
    TooLate(Box<Approval>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The approval gates (cloneable handle).
#[derive(Clone)]
pub struct Approvals {
    inner: Arc<Inner>,
}

struct Inner {
    ctx: Context,
    notifications: Notifications,
    signer: Signer,
    waiters: Mutex<HashMap<i64, oneshot::Sender<Approval>>>,
}

impl Approvals {
    /// `secret` signs the links; it never leaves the control plane.
    pub fn new(ctx: Context, notifications: Notifications, secret: &[u8]) -> Approvals {
        Approvals {
            inner: Arc::new(Inner {
                ctx,
                notifications,
                signer: Signer::new(secret),
                waiters: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn ctx(&self) -> &Context {
        &self.inner.ctx
    }

    /// Whether this kind of action waits for a human now (runtime settings
    /// included).
    pub fn needed(&self, kind: ActionKind) -> bool {
        self.ctx()
            .runtime
            .global()
            .approval_gate()
            .needs_approval(kind)
    }

    /// True if `signature` is this control plane's for that decision.
    pub fn verify(&self, approval: &Approval, decision: Decision, signature: &str) -> bool {
        self.inner.signer.verify(approval, decision, signature)
    }

    /// The path of a signed link (`/approval/ID?decision=...&sig=...`).
    pub fn link_path(&self, approval: &Approval, decision: Decision) -> String {
        format!(
            "/approval/{}?decision={}&sig={}",
            approval.id,
            decision.as_str(),
            self.inner.signer.sign(approval, decision)
        )
    }

    /// The absolute link, when `CLAUDEOPS_PUBLIC_URL` says where the
    /// dashboard is.
    fn link(&self, approval: &Approval, decision: Decision) -> Option<String> {
        let config = self.ctx().runtime.global();
        let base = config.public_url.as_deref()?.trim_end_matches('/');
        Some(format!("{base}{}", self.link_path(approval, decision)))
    }

    /// Records the request for the reserved entry `action_id`, tells humans,
    /// and waits for the outcome: `Ok` when approved, else the reason to give
    /// the model, and whether the slot is still held for the ledger (its
    /// owner) to give back. Whatever happens, the request ends decided.
    pub async fn wait_for_decision(
        &self,
        session: &Session,
        action_id: i64,
        kind: ActionKind,
        service: &str,
    ) -> Result<Approval, Refusal> {
        let ctx = self.ctx();
        let config = ctx.runtime.global();
        let timeout_ms = i64::try_from(config.approval_timeout.as_millis()).unwrap_or(i64::MAX / 2);
        let now = now_ms();
        let new = NewApproval {
            action_id,
            session_id: session.id,
            site: session.site.clone(),
            service: service.to_owned(),
            kind,
            requested_at_ms: now,
            expires_at_ms: now.saturating_add(timeout_ms.max(1)),
        };
        let approval = match ctx.store.request_approval(&new).await {
            Ok(approval) => approval,
            Err(error) => {
                let reason = format!(
                    "a {} of {service} needs a human's approval, and the request could not be recorded ({error}); nothing was done",
                    kind.as_str()
                );
                return Err(Refusal {
                    reason,
                    release: true,
                });
            }
        };
        let (tx, mut rx) = oneshot::channel();
        self.waiters().insert(approval.id, tx);
        metrics::counter!(claudeops_telemetry::names::APPROVALS, "result" => "requested")
            .increment(1);
        ctx.event_for(
            &session.site,
            Some(session.id),
            EventLevel::Warning,
            Some(service.to_owned()),
            format!(
                "approval requested (#{}): {}; denied at {} unless a human approves",
                approval.id,
                approval.what(),
                crate::clock::rfc3339(approval.expires_at_ms)
            ),
        )
        .await;
        self.inner.notifications.approval_requested(
            &approval,
            self.link(&approval, Decision::Approve),
            self.link(&approval, Decision::Deny),
            time_of_ms(approval.expires_at_ms),
        );
        tracing::info!(
            approval = approval.id,
            session = session.id,
            service,
            kind = kind.as_str(),
            "an action waits for approval"
        );

        let mut waiter_gone = false;
        let settled = loop {
            tokio::select! {
                decided = &mut rx, if !waiter_gone => match decided {
                    Ok(done) => break done,
                    // The sender went away (a decision made elsewhere): the
                    // store says, at the next tick.
                    Err(_) => waiter_gone = true,
                },
                () = tokio::time::sleep(POLL) => {
                    if let Some(done) = self.settled_in_store(approval.id).await {
                        break done;
                    }
                    let reason = if !self.session_running(session.id).await {
                        Some("the session ended before a decision".to_owned())
                    } else if now_ms() >= approval.expires_at_ms {
                        Some(format!(
                            "no decision within {}",
                            humantime::format_duration(config.approval_timeout)
                        ))
                    } else {
                        None
                    };
                    if let Some(reason) = reason {
                        match self.settle(approval.id, ApprovalStatus::Expired, None, &reason).await {
                            Ok(done) => break done,
                            // Decided just now: the checks below still hold.
                            Err(DecideError::Settled(done)) => break *done,
                            // Kept pending in the store: try again at the next
                            // tick rather than leave a live link behind.
                            Err(error) => tracing::error!(%error, approval = approval.id, "could not expire an approval request; trying again"),
                        }
                    }
                }
            }
        };
        self.waiters().remove(&approval.id);
        if settled.status != ApprovalStatus::Approved {
            // The store turned the slot `denied` with the outcome.
            return Err(Refusal {
                reason: refusal(&settled),
                release: false,
            });
        }
        // Approved, but a session that ended or is being stopped meanwhile
        // must not act: its slot is given back.
        if !self.session_running(session.id).await {
            let reason =
                "approved, but the session had ended or was being stopped; nothing was done";
            return Err(Refusal {
                reason: refusal(&Approval {
                    reason: Some(reason.to_owned()),
                    ..settled
                }),
                release: true,
            });
        }
        Ok(settled)
    }

    /// Why an action of this session must not be asked about again: a person
    /// already refused it (or let it expire) in this session.
    pub async fn refused_before(
        &self,
        session_id: i64,
        kind: ActionKind,
        service: &str,
    ) -> Option<String> {
        let earlier = self.list(Some(session_id), None, 200).await.ok()?;
        let wanted = service.trim().to_lowercase();
        earlier
            .iter()
            .find(|a| {
                a.kind == kind
                    && a.service.trim().to_lowercase() == wanted
                    && matches!(a.status, ApprovalStatus::Denied | ApprovalStatus::Expired)
            })
            .map(|a| {
                format!(
                    "the {} was not approved earlier in this session (request #{}: {}); it is not asked again",
                    a.what(),
                    a.id,
                    a.reason.as_deref().unwrap_or(a.status.as_str())
                )
            })
    }

    fn waiters(&self) -> std::sync::MutexGuard<'_, HashMap<i64, oneshot::Sender<Approval>>> {
        self.inner
            .waiters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn settled_in_store(&self, id: i64) -> Option<Approval> {
        match self.ctx().store.get_approval(id).await {
            Ok(Some(a)) if a.status != ApprovalStatus::Pending => Some(a),
            _ => None,
        }
    }

    /// Running and not being stopped.
    async fn session_running(&self, id: i64) -> bool {
        let store = &self.ctx().store;
        match store.get_session(id).await {
            Ok(Some(s)) if s.status == SessionStatus::Running => {
                !matches!(store.stop_requested(id).await, Ok(Some(_)))
            }
            Ok(_) => false,
            // The store is away: keep waiting, the deadline still holds.
            Err(_) => true,
        }
    }

    /// A human's decision, by `by` (a user, the token, or a link's holder).
    pub async fn decide(
        &self,
        id: i64,
        decision: Decision,
        by: &str,
    ) -> Result<Approval, DecideError> {
        let reason = match decision {
            Decision::Approve => format!("approved by {by}"),
            Decision::Deny => format!("denied by {by}"),
        };
        self.settle(id, decision.status(), Some(by), &reason).await
    }

    async fn settle(
        &self,
        id: i64,
        status: ApprovalStatus,
        by: Option<&str>,
        reason: &str,
    ) -> Result<Approval, DecideError> {
        let ctx = self.ctx();
        match ctx
            .store
            .settle_approval(id, status, by, reason, now_ms())
            .await
        {
            Ok(Some(approval)) => {
                let result = approval.status.as_str();
                metrics::counter!(claudeops_telemetry::names::APPROVALS, "result" => result)
                    .increment(1);
                let level = if approval.status == ApprovalStatus::Approved {
                    EventLevel::Info
                } else {
                    EventLevel::Warning
                };
                ctx.event_for(
                    &approval.site,
                    Some(approval.session_id),
                    level,
                    Some(approval.service.clone()),
                    format!(
                        "approval #{} {}: {} ({reason})",
                        approval.id,
                        approval.status.as_str(),
                        approval.what()
                    ),
                )
                .await;
                tracing::info!(
                    approval = approval.id,
                    status = result,
                    by,
                    "approval request decided"
                );
                if let Some(waiter) = self.waiters().remove(&id) {
                    let _ = waiter.send(approval.clone());
                }
                Ok(approval)
            }
            Ok(None) => match ctx.store.get_approval(id).await? {
                Some(approval) if approval.status == ApprovalStatus::Pending => {
                    Err(DecideError::TooLate(Box::new(approval)))
                }
                Some(approval) => Err(DecideError::Settled(Box::new(approval))),
                None => Err(DecideError::NotFound(id)),
            },
            Err(StoreError::NotFound) => Err(DecideError::NotFound(id)),
            Err(error) => Err(error.into()),
        }
    }

    pub async fn get(&self, id: i64) -> Result<Option<Approval>, StoreError> {
        self.ctx().store.get_approval(id).await
    }

    pub async fn list(
        &self,
        session_id: Option<i64>,
        status: Option<ApprovalStatus>,
        limit: u32,
    ) -> Result<Vec<Approval>, StoreError> {
        self.ctx()
            .store
            .list_approvals(session_id, status, limit)
            .await
    }

    /// At start: requests left pending by an earlier run of the control plane
    /// have no one waiting (the worker's link closed with it, and its action
    /// was refused there), so they are closed and their slots given back.
    pub async fn close_leftovers(&self) {
        let pending = match self
            .ctx()
            .store
            .list_approvals(None, Some(ApprovalStatus::Pending), 10_000)
            .await
        {
            Ok(pending) => pending,
            Err(error) => {
                tracing::warn!(%error, "could not read the pending approval requests");
                return;
            }
        };
        for approval in pending {
            let reason = "the control plane restarted while it waited; nothing was done";
            if let Err(error) = self
                .settle(approval.id, ApprovalStatus::Expired, None, reason)
                .await
            {
                tracing::warn!(%error, approval = approval.id, "could not close a pending approval request");
            }
        }
    }
}

/// Signs and checks the links: HMAC-SHA256 over the request's id, the
/// decision and the deadline, so a link cannot be turned into the other
/// decision, another request, or a later one. Single use is the store's.
struct Signer(ring::hmac::Key);

impl Signer {
    fn new(secret: &[u8]) -> Signer {
        Signer(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret))
    }

    fn message(approval: &Approval, decision: Decision) -> String {
        format!(
            "claudeops approval:{}:{}:{}",
            approval.id,
            decision.as_str(),
            approval.expires_at_ms
        )
    }

    fn sign(&self, approval: &Approval, decision: Decision) -> String {
        let tag = ring::hmac::sign(&self.0, Self::message(approval, decision).as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
    }

    fn verify(&self, approval: &Approval, decision: Decision, signature: &str) -> bool {
        let Ok(tag) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature.trim())
        else {
            return false;
        };
        ring::hmac::verify(&self.0, Self::message(approval, decision).as_bytes(), &tag).is_ok()
    }
}

/// An action that was not approved: what the model is told, and whether its
/// slot is still `reserved`, to be given back by the ledger.
#[derive(Debug)]
pub struct Refusal {
    pub reason: String,
    pub release: bool,
}

/// What the model is told when its action was not approved.
fn refusal(approval: &Approval) -> String {
    let why = approval.reason.as_deref().unwrap_or("not approved");
    format!(
        "the {} needed a human's approval and was not approved ({why}); nothing was done. \
         Do not try it again: report what you found and what you would do, and end",
        approval.what()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approval() -> Approval {
        Approval {
            id: 3,
            action_id: 9,
            session_id: 4,
            site: claudeops_core::SiteName::new("home").unwrap_or_else(|e| panic!("{e}")),
            service: "web".into(),
            kind: ActionKind::Redeploy,
            args: serde_json::Value::Null,
            status: ApprovalStatus::Denied,
            requested_at_ms: 1,
            expires_at_ms: 2,
            decided_at_ms: Some(2),
            decided_by: Some("alice".into()),
            reason: Some("denied by alice".into()),
        }
    }

    #[test]
    fn a_refusal_tells_the_model_not_to_try_again() {
        let text = refusal(&approval());
        assert!(text.contains("redeploy of web"), "{text}");
        assert!(text.contains("denied by alice"), "{text}");
        assert!(text.contains("Do not try it again"), "{text}");
    }

    #[test]
    fn a_link_signs_one_decision_on_one_request_until_its_deadline() {
        let signer = Signer::new(b"secret one");
        let a = approval();
        let approve = signer.sign(&a, Decision::Approve);
        assert!(signer.verify(&a, Decision::Approve, &approve));
        // Not the other decision, another request, a later deadline, or
        // another control plane's key; nor a damaged signature.
        assert!(!signer.verify(&a, Decision::Deny, &approve));
        let other = Approval { id: 4, ..a.clone() };
        assert!(!signer.verify(&other, Decision::Approve, &approve));
        let later = Approval {
            expires_at_ms: a.expires_at_ms + 1,
            ..a.clone()
        };
        assert!(!signer.verify(&later, Decision::Approve, &approve));
        assert!(!Signer::new(b"secret two").verify(&a, Decision::Approve, &approve));
        assert!(!signer.verify(&a, Decision::Approve, &approve[1..]));
        assert!(!signer.verify(&a, Decision::Approve, "not base64!"));
        assert!(!signer.verify(&a, Decision::Approve, ""));
    }
}
