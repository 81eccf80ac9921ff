//! What the control plane tells the notifier ([`Notice`]) and what goes out
//! ([`Message`]): titles in the style "Claude Ops: Needs human attention - SERVICE",
//! Markdown bodies that always name the site.
//!
//! Pure functions only: no clock (the caller passes `now`), no I/O.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use claudeops_core::session::SessionId;
use claudeops_core::site::SiteName;
use claudeops_core::tier::Tier;

use crate::digest::{self, DigestSummary};
use crate::text::{duration_words, first_line, md, one_line, timestamp};

/// Something worth telling a human. Events of one kind arriving within the
/// grouping window become one message.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// A service failed its probes past the threshold.
    IncidentOpened {
        site: SiteName,
        service: String,
        /// What failed, in a sentence or two (Markdown allowed).
        summary: String,
        session: Option<SessionId>,
    },
    /// The service is healthy again.
    IncidentRecovered {
        site: SiteName,
        service: String,
        /// How long it was down, when known.
        open_for: Option<Duration>,
        detail: Option<String>,
    },
    /// A typed action fixed it, and a re-probe checked the result.
    AutoRemediated {
        site: SiteName,
        service: String,
        /// What was done ("restarted container jellyfin").
        action: String,
        verification: Verification,
        session: Option<SessionId>,
    },
    /// A session handed over to a stronger tier.
    Escalated {
        site: SiteName,
        service: Option<String>,
        tier: Tier,
        reason: String,
        session: Option<SessionId>,
    },
    /// Nothing automatic will happen any more.
    NeedsHumanAttention {
        site: SiteName,
        service: Option<String>,
        reason: HumanReason,
        detail: String,
        session: Option<SessionId>,
    },
    /// A typed action waits for a human's decision. Never grouped: each
    /// carries its own single-use links.
    ApprovalRequested {
        site: SiteName,
        service: String,
        /// What would be done ("redeploy of web").
        action: String,
        /// Why the session wants it, and the action's arguments.
        detail: String,
        session: Option<SessionId>,
        /// Signed, single-use links to a confirmation page (absolute; `None`
        /// without `CLAUDEOPS_PUBLIC_URL`).
        approve_url: Option<String>,
        deny_url: Option<String>,
        /// When it is denied if nobody decides.
        expires_at: SystemTime,
    },
    WorkerOffline {
        site: SiteName,
        worker: String,
        last_seen: Option<SystemTime>,
    },
    WorkerBack {
        site: SiteName,
        worker: String,
    },
    /// Raised by the notifier itself from the open incidents the caller reports;
    /// callers need not send it.
    Reminder {
        site: SiteName,
        service: String,
        opened_at: SystemTime,
        summary: Option<String>,
    },
    DailyDigest(DigestSummary),
    Test,
}

/// The re-probe after a remediation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Healthy again; the text says what was checked.
    Passed(String),
    /// Still failing after the action.
    Failed(String),
    /// No re-probe was possible.
    NotRun,
}

/// Why a human must step in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HumanReason {
    /// The cooldown ledger refused another restart or redeployment.
    CooldownExceeded,
    /// The highest allowed tier could not fix it.
    ChainExhausted,
    /// The session's structured response did not validate.
    InvalidResponse,
    /// The escalation chain reached its dollar cap.
    CostCapHit,
    /// The control plane's database could not be written, or was lost.
    DatabaseFault,
}

impl HumanReason {
    pub fn describe(self) -> &'static str {
        match self {
            HumanReason::CooldownExceeded => "cooldown limit exceeded",
            HumanReason::ChainExhausted => "escalation chain exhausted",
            HumanReason::InvalidResponse => "invalid session response",
            HumanReason::CostCapHit => "cost cap reached",
            HumanReason::DatabaseFault => "the control plane's database failed",
        }
    }
}

/// The kind of a message, as stored with its deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MessageKind {
    IncidentOpened,
    IncidentRecovered,
    AutoRemediated,
    Escalated,
    NeedsHumanAttention,
    ApprovalRequested,
    WorkerOffline,
    WorkerBack,
    Reminder,
    DailyDigest,
    Test,
    /// A message combining several kinds (only if a caller renders a mixed list).
    Mixed,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::IncidentOpened => "incident_opened",
            MessageKind::IncidentRecovered => "incident_recovered",
            MessageKind::AutoRemediated => "auto_remediated",
            MessageKind::Escalated => "escalated",
            MessageKind::NeedsHumanAttention => "needs_human_attention",
            MessageKind::ApprovalRequested => "approval_requested",
            MessageKind::WorkerOffline => "worker_offline",
            MessageKind::WorkerBack => "worker_back",
            MessageKind::Reminder => "reminder",
            MessageKind::DailyDigest => "daily_digest",
            MessageKind::Test => "test",
            MessageKind::Mixed => "mixed",
        }
    }
}

/// Apprise's notification type (`-n`), which targets show as colour or icon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Info,
    Success,
    Warning,
    Failure,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Success => "success",
            Level::Warning => "warning",
            Level::Failure => "failure",
        }
    }
}

/// A rendered notification: what Apprise sends to every URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub kind: MessageKind,
    pub title: String,
    /// Markdown.
    pub body: String,
    /// Every site the message is about, sorted.
    pub sites: Vec<String>,
    pub level: Level,
}

/// What rendering needs besides the events.
#[derive(Debug, Clone)]
pub struct RenderContext {
    /// Base URL of the dashboard; sessions are linked as `{base}/sessions/{id}`.
    pub dashboard_url: Option<String>,
    pub now: SystemTime,
}

impl Notice {
    pub fn kind(&self) -> MessageKind {
        match self {
            Notice::IncidentOpened { .. } => MessageKind::IncidentOpened,
            Notice::IncidentRecovered { .. } => MessageKind::IncidentRecovered,
            Notice::AutoRemediated { .. } => MessageKind::AutoRemediated,
            Notice::Escalated { .. } => MessageKind::Escalated,
            Notice::NeedsHumanAttention { .. } => MessageKind::NeedsHumanAttention,
            Notice::ApprovalRequested { .. } => MessageKind::ApprovalRequested,
            Notice::WorkerOffline { .. } => MessageKind::WorkerOffline,
            Notice::WorkerBack { .. } => MessageKind::WorkerBack,
            Notice::Reminder { .. } => MessageKind::Reminder,
            Notice::DailyDigest(_) => MessageKind::DailyDigest,
            Notice::Test => MessageKind::Test,
        }
    }

    /// The sites the event is about (empty for a test).
    pub fn sites(&self) -> Vec<&SiteName> {
        match self {
            Notice::IncidentOpened { site, .. }
            | Notice::IncidentRecovered { site, .. }
            | Notice::AutoRemediated { site, .. }
            | Notice::Escalated { site, .. }
            | Notice::NeedsHumanAttention { site, .. }
            | Notice::ApprovalRequested { site, .. }
            | Notice::WorkerOffline { site, .. }
            | Notice::WorkerBack { site, .. }
            | Notice::Reminder { site, .. } => vec![site],
            Notice::DailyDigest(summary) => summary.sites.iter().collect(),
            Notice::Test => Vec::new(),
        }
    }

    /// The service, worker or site the event is about; two events with the same
    /// kind and subject within one grouping window are one line (the later wins).
    pub fn subject(&self) -> Option<(&SiteName, Option<&str>)> {
        match self {
            Notice::IncidentOpened { site, service, .. }
            | Notice::IncidentRecovered { site, service, .. }
            | Notice::AutoRemediated { site, service, .. }
            | Notice::ApprovalRequested { site, service, .. }
            | Notice::Reminder { site, service, .. } => Some((site, Some(service))),
            Notice::Escalated { site, service, .. }
            | Notice::NeedsHumanAttention { site, service, .. } => Some((site, service.as_deref())),
            Notice::WorkerOffline { site, worker, .. } | Notice::WorkerBack { site, worker } => {
                Some((site, Some(worker)))
            }
            Notice::DailyDigest(_) | Notice::Test => None,
        }
    }

    fn level(&self) -> Level {
        match self {
            Notice::IncidentOpened { .. } | Notice::NeedsHumanAttention { .. } => Level::Failure,
            Notice::AutoRemediated { verification, .. } => match verification {
                Verification::Passed(_) => Level::Success,
                Verification::Failed(_) | Verification::NotRun => Level::Warning,
            },
            Notice::Escalated { .. }
            | Notice::WorkerOffline { .. }
            | Notice::Reminder { .. }
            | Notice::ApprovalRequested { .. } => Level::Warning,
            Notice::IncidentRecovered { .. } | Notice::WorkerBack { .. } => Level::Success,
            Notice::DailyDigest(summary) => {
                if summary.open_incidents.is_empty() {
                    Level::Success
                } else {
                    Level::Warning
                }
            }
            Notice::Test => Level::Info,
        }
    }

    fn session(&self) -> Option<SessionId> {
        match self {
            Notice::IncidentOpened { session, .. }
            | Notice::AutoRemediated { session, .. }
            | Notice::Escalated { session, .. }
            | Notice::NeedsHumanAttention { session, .. }
            | Notice::ApprovalRequested { session, .. } => *session,
            _ => None,
        }
    }
}

/// Renders one message from a group of events (normally all of one kind, as the
/// grouper makes them). `None` for an empty group.
pub fn render(events: &[Notice], ctx: &RenderContext) -> Option<Message> {
    let first = events.first()?;
    let kinds: BTreeSet<MessageKind> = events.iter().map(Notice::kind).collect();
    let kind = if kinds.len() == 1 {
        first.kind()
    } else {
        MessageKind::Mixed
    };
    let sites: BTreeSet<String> = events
        .iter()
        .flat_map(|e| e.sites().into_iter().map(|s| s.to_string()))
        .collect();
    let sites: Vec<String> = sites.into_iter().collect();
    let level = events
        .iter()
        .map(Notice::level)
        .max()
        .unwrap_or(Level::Info);

    let (title, mut body) = match events {
        [one] => (single_title(one), single_body(one, ctx)),
        _ => (
            group_title(kind, events, &sites),
            group_body(events, &sites, ctx),
        ),
    };
    if let Some(base) = &ctx.dashboard_url {
        body.push_str(&format!(
            "\n\n[Open the dashboard]({})",
            base.trim_end_matches('/')
        ));
    }
    Some(Message {
        kind,
        title: one_line(&title),
        body,
        sites,
        level,
    })
}

/// The subject shown in a single event's title: the service, else the worker,
/// else the site.
fn subject_label(event: &Notice) -> String {
    match event.subject() {
        Some((_, Some(name))) => name.to_owned(),
        Some((site, None)) => site.to_string(),
        None => String::new(),
    }
}

fn single_title(event: &Notice) -> String {
    let subject = subject_label(event);
    match event {
        Notice::IncidentOpened { .. } => format!("Claude Ops: Incident opened - {subject}"),
        Notice::IncidentRecovered { .. } => format!("Claude Ops: Recovered {subject}"),
        Notice::AutoRemediated { verification, .. } => match verification {
            Verification::Passed(_) => format!("Claude Ops: Auto-remediated {subject}"),
            _ => format!("Claude Ops: Auto-remediated {subject} (not verified)"),
        },
        Notice::Escalated { tier, .. } => {
            format!(
                "Claude Ops: Escalated to Tier {} - {subject}",
                tier.number()
            )
        }
        Notice::NeedsHumanAttention { .. } => {
            format!("Claude Ops: Needs human attention - {subject}")
        }
        Notice::ApprovalRequested { action, .. } => {
            format!("Claude Ops: Approval needed - {}", one_line(action))
        }
        Notice::WorkerOffline { .. } => format!("Claude Ops: Worker offline - {subject}"),
        Notice::WorkerBack { .. } => format!("Claude Ops: Worker back online - {subject}"),
        Notice::Reminder { .. } => format!("Claude Ops: Still unresolved - {subject}"),
        Notice::DailyDigest(_) => digest::TITLE.to_owned(),
        Notice::Test => "Claude Ops: Test notification".to_owned(),
    }
}

fn group_title(kind: MessageKind, events: &[Notice], sites: &[String]) -> String {
    let n = events.len();
    let on_sites = match sites {
        [one] => format!("on {one}"),
        _ => format!("on {} sites", sites.len()),
    };
    let all_services = events
        .iter()
        .all(|e| matches!(e.subject(), Some((_, Some(_)))));
    let things = if all_services { "services" } else { "issues" };
    match kind {
        MessageKind::IncidentOpened => {
            format!("Claude Ops: Incident opened - {n} services {on_sites}")
        }
        MessageKind::IncidentRecovered => format!("Claude Ops: Recovered {n} services {on_sites}"),
        MessageKind::AutoRemediated => {
            format!("Claude Ops: Auto-remediated {n} services {on_sites}")
        }
        MessageKind::Escalated => {
            let tier = events.iter().find_map(|e| match e {
                Notice::Escalated { tier, .. } => Some(tier.number()),
                _ => None,
            });
            let tier = tier.map_or_else(String::new, |t| format!(" to Tier {t}"));
            format!("Claude Ops: Escalated{tier} - {n} {things} {on_sites}")
        }
        MessageKind::NeedsHumanAttention => {
            format!("Claude Ops: Needs human attention - {n} {things} {on_sites}")
        }
        MessageKind::ApprovalRequested => {
            format!("Claude Ops: Approval needed - {n} actions {on_sites}")
        }
        MessageKind::WorkerOffline => {
            format!("Claude Ops: Worker offline - {n} workers {on_sites}")
        }
        MessageKind::WorkerBack => {
            format!("Claude Ops: Worker back online - {n} workers {on_sites}")
        }
        MessageKind::Reminder => format!("Claude Ops: Still unresolved - {n} incidents {on_sites}"),
        MessageKind::DailyDigest => digest::TITLE.to_owned(),
        MessageKind::Test => "Claude Ops: Test notification".to_owned(),
        MessageKind::Mixed => format!("Claude Ops: {n} updates {on_sites}"),
    }
}

fn session_link(event: &Notice, ctx: &RenderContext) -> Option<String> {
    let id = event.session()?;
    let base = ctx.dashboard_url.as_deref()?.trim_end_matches('/');
    Some(format!("[session {id}]({base}/sessions/{id})"))
}

fn single_body(event: &Notice, ctx: &RenderContext) -> String {
    let mut lines: Vec<String> = Vec::new();
    if let Some((site, _)) = event.subject() {
        lines.push(format!("**Site:** {}", md(site.as_str())));
    }
    let mut text: Option<String> = None;
    match event {
        Notice::IncidentOpened {
            service, summary, ..
        } => {
            lines.push(format!("**Service:** {}", md(service)));
            text = Some(summary.clone());
        }
        Notice::IncidentRecovered {
            service,
            open_for,
            detail,
            ..
        } => {
            lines.push(format!("**Service:** {}", md(service)));
            if let Some(d) = open_for {
                lines.push(format!("**Down for:** {}", duration_words(*d)));
            }
            text = detail.clone();
        }
        Notice::AutoRemediated {
            service,
            action,
            verification,
            ..
        } => {
            lines.push(format!("**Service:** {}", md(service)));
            lines.push(format!("**Action:** {}", md(&one_line(action))));
            lines.push(format!(
                "**Verification:** {}",
                verification_words(verification)
            ));
        }
        Notice::Escalated {
            service,
            tier,
            reason,
            ..
        } => {
            if let Some(s) = service {
                lines.push(format!("**Service:** {}", md(s)));
            }
            lines.push(format!(
                "**Now at:** Tier {} ({})",
                tier.number(),
                tier.role()
            ));
            text = Some(reason.clone());
        }
        Notice::NeedsHumanAttention {
            service,
            reason,
            detail,
            ..
        } => {
            if let Some(s) = service {
                lines.push(format!("**Service:** {}", md(s)));
            }
            lines.push(format!("**Reason:** {}", reason.describe()));
            text = Some(detail.clone());
        }
        Notice::ApprovalRequested {
            service,
            action,
            detail,
            approve_url,
            deny_url,
            expires_at,
            ..
        } => {
            lines.push(format!("**Service:** {}", md(service)));
            lines.push(format!("**Action:** {}", md(&one_line(action))));
            lines.push(format!(
                "**Denied unless approved by:** {}",
                timestamp(*expires_at)
            ));
            match (approve_url, deny_url) {
                (Some(approve), Some(deny)) => lines.push(format!(
                    "**Decide:** [Approve]({approve}) · [Deny]({deny}) (each link works once)"
                )),
                _ => lines.push(
                    "**Decide:** on the session's page (set CLAUDEOPS_PUBLIC_URL for links here)"
                        .to_owned(),
                ),
            }
            text = Some(detail.clone());
        }
        Notice::WorkerOffline {
            worker, last_seen, ..
        } => {
            lines.push(format!("**Worker:** {}", md(worker)));
            if let Some(t) = last_seen {
                lines.push(format!("**Last seen:** {}", timestamp(*t)));
            }
            text = Some("Its probes and sessions are paused until it reconnects.".to_owned());
        }
        Notice::WorkerBack { worker, .. } => {
            lines.push(format!("**Worker:** {}", md(worker)));
        }
        Notice::Reminder {
            service,
            opened_at,
            summary,
            ..
        } => {
            lines.push(format!("**Service:** {}", md(service)));
            lines.push(format!(
                "**Open for:** {} (since {})",
                open_for(*opened_at, ctx.now),
                timestamp(*opened_at)
            ));
            text = summary.clone();
        }
        Notice::DailyDigest(summary) => return digest::render_body(summary),
        Notice::Test => {
            return "**Site:** all sites\n\nThis is a test notification from Claude Ops. \
                    If you can read it, delivery to this destination works."
                .to_owned();
        }
    }
    if let Some(link) = session_link(event, ctx) {
        lines.push(format!("**Session:** {link}"));
    }
    let mut body = lines.join("  \n");
    if let Some(t) = text.filter(|t| !t.trim().is_empty()) {
        body.push_str("\n\n");
        body.push_str(t.trim());
    }
    body
}

fn group_body(events: &[Notice], sites: &[String], ctx: &RenderContext) -> String {
    let sites_md: Vec<String> = sites.iter().map(|s| md(s)).collect();
    let mut body = format!("**Sites:** {}\n", sites_md.join(", "));
    for event in events {
        body.push('\n');
        body.push_str(&group_line(event, ctx));
    }
    body
}

fn group_line(event: &Notice, ctx: &RenderContext) -> String {
    let who = match event.subject() {
        Some((site, Some(name))) => format!("**{}** / {}", md(site.as_str()), md(name)),
        Some((site, None)) => format!("**{}**", md(site.as_str())),
        None => String::new(),
    };
    let what = match event {
        Notice::IncidentOpened { summary, .. } => first_line(summary),
        Notice::IncidentRecovered { open_for, .. } => match open_for {
            Some(d) => format!("recovered after {}", duration_words(*d)),
            None => "recovered".to_owned(),
        },
        Notice::AutoRemediated {
            action,
            verification,
            ..
        } => format!(
            "{}; verification {}",
            md(&first_line(action)),
            verification_words(verification)
        ),
        Notice::Escalated { tier, reason, .. } => {
            format!("to Tier {}: {}", tier.number(), first_line(reason))
        }
        Notice::NeedsHumanAttention { reason, detail, .. } => {
            format!("{}: {}", reason.describe(), first_line(detail))
        }
        Notice::WorkerOffline { last_seen, .. } => match last_seen {
            Some(t) => format!("offline, last seen {}", timestamp(*t)),
            None => "offline".to_owned(),
        },
        Notice::WorkerBack { .. } => "back online".to_owned(),
        Notice::ApprovalRequested { action, .. } => {
            format!("{} waits for approval", md(&first_line(action)))
        }
        Notice::Reminder { opened_at, .. } => {
            format!("open for {}", open_for(*opened_at, ctx.now))
        }
        Notice::DailyDigest(_) => digest::TITLE.to_owned(),
        Notice::Test => "test notification".to_owned(),
    };
    let mut line = format!("- {who}: {what}");
    if let Some(link) = session_link(event, ctx) {
        line.push_str(&format!(" ({link})"));
    }
    line
}

fn verification_words(v: &Verification) -> String {
    match v {
        Verification::Passed(detail) => format!("passed ({})", md(&first_line(detail))),
        Verification::Failed(detail) => format!("failed ({})", md(&first_line(detail))),
        Verification::NotRun => "not run".to_owned(),
    }
}

fn open_for(opened_at: SystemTime, now: SystemTime) -> String {
    duration_words(now.duration_since(opened_at).unwrap_or_default())
}

#[cfg(test)]
mod tests;
