//! Typed remediation actions: the only way a session changes anything.
//!
//! The agent never restarts or redeploys through Bash (the hook denies it). It calls
//! the worker's MCP tools instead (`crate::mcp`), which forward each call over a
//! unix socket (`socket`) to the running worker, where [`run_action`] does it the
//! audited way, in this order:
//!
//! 1. validate the arguments (names are checked against a strict pattern and only
//!    ever passed as single arguments to `docker`, Compose, Ansible or Helm,
//!    never to a shell);
//! 2. check the session's tier, as the worker knows it (not as the environment says);
//! 3. look at the target (a typo, or a tool missing on this host, must not burn a
//!    cooldown slot);
//! 4. in dry run, say what would happen and stop;
//! 5. reserve a slot in the control plane's cooldown ledger ([`Ledger`]); a refusal
//!    is final and passed to the model as needing human attention;
//! 6. act, 7. verify (running and healthy), 8. record the outcome in the ledger.
//!
//! Steps 5 to 8 are one shared flow (`audited`) for every action; a redeployment
//! differs only in its plan (`redeploy`: Compose, Ansible or Helm, each in its
//! own module). Nothing here retries an action, and nothing here runs a shell.

pub mod ansible;
pub mod compose;
pub mod docker;
pub mod helm;
pub mod process;
pub mod redeploy;
pub mod socket;

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use claudeops_core::Tier;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

pub use docker::{Checked, Docker};
pub use redeploy::Programs;
pub use socket::{ActionHandler, ActionSocket};

/// Tool name of the container restart (without the CLI's `mcp__claudeops__` prefix).
pub const RESTART_CONTAINER: &str = "restart_container";
/// Tool name of the service redeployment.
pub const REDEPLOY_SERVICE: &str = "redeploy_service";

/// How long a container gets to stop cleanly on restart (`docker restart --time`).
pub const RESTART_GRACE_SECS: u32 = 10;
/// How long verification waits for running and healthy.
pub const VERIFY_WITHIN: Duration = Duration::from_secs(60);
/// The longest reason accepted, in characters.
const MAX_REASON: usize = 1000;

/// One tool call, as the MCP server forwards it to the worker (one JSON line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRequest {
    pub session_id: i64,
    pub tool: String,
    #[serde(default)]
    pub arguments: Value,
}

/// The worker's answer (one JSON line); `text` is what the model reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionReply {
    pub ok: bool,
    pub text: String,
}

impl ActionReply {
    pub fn ok(text: impl Into<String>) -> ActionReply {
        ActionReply {
            ok: true,
            text: text.into(),
        }
    }

    pub fn failed(text: impl Into<String>) -> ActionReply {
        ActionReply {
            ok: false,
            text: text.into(),
        }
    }
}

/// A slot granted by the cooldown ledger, to be closed with [`Ledger::finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub id: i64,
}

/// The control plane's cooldown ledger, as the actions see it.
#[async_trait]
pub trait Ledger: Send + Sync {
    /// Reserves a slot for one action. `kind` is `"restart"` or `"redeploy"`,
    /// `service` the ledger key. `Err` is a denial (or an unreachable ledger) with
    /// the reason to show the model; nothing is done then.
    async fn reserve(
        &self,
        session_id: i64,
        kind: &str,
        service: &str,
        args: &Value,
    ) -> Result<Reservation, String>;

    /// Records the outcome of a reserved action.
    async fn finish(&self, reservation_id: i64, ok: bool, result: &str, duration_ms: i64);
}

/// What the worker knows about the calling session. Authoritative: the tier here
/// comes from the job, never from the MCP server's environment.
#[derive(Debug, Clone)]
pub struct ActionContext {
    pub tier: Tier,
    pub dry_run: bool,
    pub repos_dir: PathBuf,
    /// The session's span: each action is a span under it, in its trace.
    pub span: tracing::Span,
    /// Lines the worker adds to the session's output (a browser screenshot,
    /// which the operator sees on the session page and the model does not).
    pub notes: Option<tokio::sync::mpsc::Sender<String>>,
}

/// The typed actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionKind {
    Restart,
    Redeploy,
}

impl ActionKind {
    pub const ALL: [ActionKind; 2] = [ActionKind::Restart, ActionKind::Redeploy];

    pub fn from_tool(tool: &str) -> Option<ActionKind> {
        match tool {
            RESTART_CONTAINER => Some(ActionKind::Restart),
            REDEPLOY_SERVICE => Some(ActionKind::Redeploy),
            _ => None,
        }
    }

    /// The MCP tool name (without prefix).
    pub fn tool(self) -> &'static str {
        match self {
            ActionKind::Restart => RESTART_CONTAINER,
            ActionKind::Redeploy => REDEPLOY_SERVICE,
        }
    }

    /// The kind recorded in the cooldown ledger.
    pub fn ledger_kind(self) -> &'static str {
        match self {
            ActionKind::Restart => "restart",
            ActionKind::Redeploy => "redeploy",
        }
    }

    /// The lowest tier that may use the action (as `claudeops_core::policy::actions`).
    pub fn min_tier(self) -> Tier {
        match self {
            ActionKind::Restart => Tier::Investigate,
            ActionKind::Redeploy => Tier::Remediate,
        }
    }
}

/// The actions a tier may use.
pub fn actions_for(tier: Tier) -> Vec<ActionKind> {
    ActionKind::ALL
        .into_iter()
        .filter(|k| k.min_tier() <= tier)
        .collect()
}

/// Whether `name` is an acceptable container, service or repo name:
/// `[A-Za-z0-9][A-Za-z0-9_.-]{0,127}`.
pub fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// A validated call.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    Restart {
        container: String,
        service: String,
        reason: String,
    },
    Redeploy {
        service: String,
        repo: Option<String>,
        reason: String,
    },
}

fn parse(kind: ActionKind, arguments: &Value) -> Result<Action, String> {
    let empty = Map::new();
    let args = match arguments {
        Value::Object(map) => map,
        Value::Null => &empty,
        _ => return Err("the arguments must be a JSON object".to_owned()),
    };
    let known: &[&str] = match kind {
        ActionKind::Restart => &["container", "service", "reason"],
        ActionKind::Redeploy => &["service", "repo", "reason"],
    };
    if let Some(extra) = args.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(format!(
            "unknown argument `{extra}`; {} takes {}",
            kind.tool(),
            known.join(", ")
        ));
    }
    let reason = reason(args)?;
    match kind {
        ActionKind::Restart => {
            let container = name(args, "container", "container name")?
                .ok_or_else(|| "`container` is required: the container's name".to_owned())?;
            let service =
                name(args, "service", "service name")?.unwrap_or_else(|| container.clone());
            Ok(Action::Restart {
                container,
                service,
                reason,
            })
        }
        ActionKind::Redeploy => {
            let service = name(args, "service", "service name")?
                .ok_or_else(|| "`service` is required: the service's name".to_owned())?;
            let repo = name(args, "repo", "repo directory name")?;
            Ok(Action::Redeploy {
                service,
                repo,
                reason,
            })
        }
    }
}

fn name(args: &Map<String, Value>, key: &str, what: &str) -> Result<Option<String>, String> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if valid_name(s) => Ok(Some(s.clone())),
        Some(Value::String(s)) => Err(format!(
            "`{key}` {s:?} is not a valid {what}: use 1 to 128 letters, digits, `_`, `.` or `-`, starting with a letter or digit"
        )),
        Some(other) => Err(format!("`{key}` must be a string, not {other}")),
    }
}

fn reason(args: &Map<String, Value>) -> Result<String, String> {
    match args.get("reason") {
        Some(Value::String(s)) if !s.trim().is_empty() => {
            let s = s.trim();
            if s.chars().count() > MAX_REASON {
                Err(format!(
                    "`reason` is too long: one line, at most {MAX_REASON} characters"
                ))
            } else {
                Ok(s.to_owned())
            }
        }
        Some(Value::String(_)) | None | Some(Value::Null) => {
            Err("`reason` is required: one line saying why".to_owned())
        }
        Some(other) => Err(format!("`reason` must be a string, not {other}")),
    }
}

const NOTHING_DONE: &str = "Nothing was done and no cooldown slot was used.";

/// Runs one action the audited way (see the module docs for the steps).
pub async fn run_action(
    req: ActionRequest,
    ctx: &ActionContext,
    ledger: &dyn Ledger,
    programs: &Programs,
) -> ActionReply {
    let Some(kind) = ActionKind::from_tool(&req.tool) else {
        return ActionReply::failed(format!(
            "unknown action `{}`; the actions are {RESTART_CONTAINER} and {REDEPLOY_SERVICE}. {NOTHING_DONE}",
            req.tool
        ));
    };
    let action = match parse(kind, &req.arguments) {
        Ok(action) => action,
        Err(error) => {
            return ActionReply::failed(format!("{}: {error}. {NOTHING_DONE}", kind.tool()));
        }
    };
    if ctx.tier < kind.min_tier() {
        return ActionReply::failed(format!(
            "{} needs tier {} ({}) or higher; this session runs at tier {} ({}). Report what you found and recommend escalation instead. {NOTHING_DONE}",
            kind.tool(),
            kind.min_tier(),
            kind.min_tier().role(),
            ctx.tier,
            ctx.tier.role()
        ));
    }
    match action {
        Action::Restart {
            container,
            service,
            reason,
        } => {
            restart(
                &req,
                ctx,
                ledger,
                &programs.docker,
                &container,
                &service,
                &reason,
            )
            .await
        }
        Action::Redeploy {
            service,
            repo,
            reason,
        } => {
            redeploy(
                &req,
                ctx,
                ledger,
                programs,
                &service,
                repo.as_deref(),
                &reason,
            )
            .await
        }
    }
}

async fn restart(
    req: &ActionRequest,
    ctx: &ActionContext,
    ledger: &dyn Ledger,
    docker: &Docker,
    container: &str,
    service: &str,
    reason: &str,
) -> ActionReply {
    let before = match docker.inspect(container).await {
        Ok(Some(state)) => state,
        Ok(None) => {
            return ActionReply::failed(format!(
                "there is no container named `{container}` on this host (see `docker ps -a`). {NOTHING_DONE}"
            ));
        }
        Err(error) => {
            return ActionReply::failed(format!(
                "cannot inspect container `{container}`: {error}. {NOTHING_DONE}"
            ));
        }
    };
    // A container made by Compose names its service itself: that label is the
    // cooldown key, whatever the call said, so the key cannot be dodged.
    let service = match before.compose_service.as_deref() {
        Some(label) if valid_name(label) => label,
        _ => service,
    };
    if ctx.dry_run {
        return ActionReply::ok(format!(
            "dry run: would restart container {container} (service {service}; it is {} now). Nothing was done.",
            before.summary()
        ));
    }
    let audit = Audit {
        kind: ActionKind::Restart,
        service,
        args: json!({ "container": container, "service": service, "reason": reason }),
        done: format!("restarted container {container}"),
        attempt: format!("restart of container {container}"),
    };
    let act = async {
        match docker.restart(container, RESTART_GRACE_SECS).await {
            Ok(()) => {
                docker
                    .wait_ready(&[container.to_owned()], VERIFY_WITHIN)
                    .await
            }
            Err(error) => Checked {
                ok: false,
                text: format!("`docker restart` failed: {error}"),
            },
        }
    };
    audited(req, ledger, audit, act).await
}

async fn redeploy(
    req: &ActionRequest,
    ctx: &ActionContext,
    ledger: &dyn Ledger,
    programs: &Programs,
    service: &str,
    repo: Option<&str>,
    reason: &str,
) -> ActionReply {
    let plan = match redeploy::plan(programs, &ctx.repos_dir, repo, service).await {
        Ok(plan) => plan,
        Err(error) => return ActionReply::failed(format!("{error}. {NOTHING_DONE}")),
    };
    let from = format!("from repo {} with {}", plan.repo(), plan.method());
    if ctx.dry_run {
        return ActionReply::ok(format!(
            "dry run: would redeploy service {service} {from}: `{}`{}. Nothing was done.",
            plan.command_line(programs),
            plan.scope()
        ));
    }
    let audit = Audit {
        kind: ActionKind::Redeploy,
        service,
        args: plan.ledger_args(programs, service, reason),
        done: format!("redeployed service {service} {from}"),
        attempt: format!("redeploy of service {service} {from}"),
    };
    audited(req, ledger, audit, plan.run(programs, VERIFY_WITHIN)).await
}

/// What the ledger and the model are told about one action.
struct Audit<'a> {
    kind: ActionKind,
    /// The ledger key.
    service: &'a str,
    /// The arguments recorded with the reservation.
    args: Value,
    /// Says what was done, when it worked ("restarted container web").
    done: String,
    /// Names the attempt, when it did not ("restart of container web").
    attempt: String,
}

/// Steps 5 to 8 of every action: reserve a ledger slot (a denial ends it with
/// nothing done), act and verify, then finish the ledger entry with the outcome
/// and how long it took. `act` does not start unless the slot is granted.
async fn audited(
    req: &ActionRequest,
    ledger: &dyn Ledger,
    audit: Audit<'_>,
    act: impl Future<Output = Checked>,
) -> ActionReply {
    let reservation = match ledger
        .reserve(
            req.session_id,
            audit.kind.ledger_kind(),
            audit.service,
            &audit.args,
        )
        .await
    {
        Ok(reservation) => reservation,
        Err(denial) => return refused(audit.kind, audit.service, &denial),
    };
    let started = Instant::now();
    let verdict = act.await;
    let text = if verdict.ok {
        format!("{}: {}", audit.done, verdict.text)
    } else {
        format!(
            "{} did not bring it back: {}. Do not retry; escalate with this result.",
            audit.attempt, verdict.text
        )
    };
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    ledger
        .finish(reservation.id, verdict.ok, &text, duration_ms)
        .await;
    ActionReply {
        ok: verdict.ok,
        text,
    }
}

fn refused(kind: ActionKind, service: &str, denial: &str) -> ActionReply {
    ActionReply::failed(format!(
        "{} of {service} was refused: {denial}. This needs human attention: do not retry and do not fall back to raw commands; escalate with reason \"needs human attention: {denial}\". Nothing was done.",
        kind.ledger_kind()
    ))
}

/// An [`ActionHandler`] for the worker: it knows the running sessions (the lead
/// registers each job's context when it starts and removes it when it ends) and
/// refuses calls from any other session id.
pub struct Dispatcher {
    sessions: Mutex<HashMap<i64, ActionContext>>,
    ledger: Arc<dyn Ledger>,
    programs: Programs,
    browsers: Option<Arc<crate::browser::Browsers>>,
}

impl Dispatcher {
    /// A dispatcher running `docker` as given, and Ansible and Helm from `PATH`.
    pub fn new(ledger: Arc<dyn Ledger>, docker: Docker) -> Dispatcher {
        Dispatcher::with_programs(ledger, Programs::with_docker(docker))
    }

    pub fn with_programs(ledger: Arc<dyn Ledger>, programs: Programs) -> Dispatcher {
        Dispatcher {
            sessions: Mutex::new(HashMap::new()),
            ledger,
            programs,
            browsers: None,
        }
    }

    /// Offers the browser actions (`crate::browser`) to the sessions whose tier has them.
    pub fn with_browsers(mut self, browsers: Arc<crate::browser::Browsers>) -> Dispatcher {
        self.browsers = Some(browsers);
        self
    }

    /// Whether a session at `tier` is offered the browser actions.
    pub fn browser_for(&self, tier: Tier) -> bool {
        self.browsers.as_ref().is_some_and(|b| b.offered(tier))
    }

    /// Lets `session_id` call actions with this context.
    pub fn register(&self, session_id: i64, ctx: ActionContext) {
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.insert(session_id, ctx);
        }
    }

    /// Stops accepting calls from `session_id`, and closes its browser (its
    /// profile is deleted).
    pub fn unregister(&self, session_id: i64) {
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.remove(&session_id);
        }
        if let Some(browsers) = self.browsers.clone() {
            tokio::spawn(async move { browsers.end(session_id).await });
        }
    }

    fn context(&self, session_id: i64) -> Option<ActionContext> {
        self.sessions
            .lock()
            .ok()
            .and_then(|s| s.get(&session_id).cloned())
    }
}

#[async_trait]
impl ActionHandler for Dispatcher {
    async fn handle(&self, request: ActionRequest) -> ActionReply {
        match self.context(request.session_id) {
            Some(ctx) => {
                let span = tracing::info_span!(parent: &ctx.span, "action", tool = %request.tool);
                let reply = if crate::browser::is_tool(&request.tool) {
                    match &self.browsers {
                        Some(browsers) => {
                            browsers
                                .handle(&request, &ctx)
                                .instrument(span.clone())
                                .await
                        }
                        None => ActionReply::failed(format!(
                            "{} is off on this worker: the operator has not set CLAUDEOPS_BROWSER_ALLOWED_ORIGINS. {NOTHING_DONE}",
                            request.tool
                        )),
                    }
                } else {
                    run_action(request, &ctx, self.ledger.as_ref(), &self.programs)
                        .instrument(span.clone())
                        .await
                };
                span.set_attribute("claudeops.action.ok", reply.ok);
                span.in_scope(|| tracing::info!(ok = reply.ok, "action ended"));
                reply
            }
            None => ActionReply::failed(format!(
                "session {} is not running on this worker, so it may not act. {NOTHING_DONE}",
                request.session_id
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_strict() {
        for good in ["web", "Web_1", "a", "my.app-2", &"a".repeat(128)] {
            assert!(valid_name(good), "{good}");
        }
        for bad in [
            "",
            "-rm",
            ".hidden",
            "..",
            "a b",
            "a;b",
            "a/b",
            "$(x)",
            "ä",
            &"a".repeat(129),
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn tiers_match_the_policy() {
        for tier in Tier::ALL {
            let ours: Vec<String> = actions_for(tier)
                .into_iter()
                .map(|k| {
                    format!(
                        "mcp__{}__{}",
                        claudeops_core::policy::ACTIONS_SERVER,
                        k.tool()
                    )
                })
                .collect();
            assert_eq!(ours, claudeops_core::policy::actions(tier), "tier {tier}");
        }
    }

    #[test]
    fn parses_arguments() {
        let restart = parse(
            ActionKind::Restart,
            &json!({"container": "web-1", "reason": " down "}),
        );
        assert_eq!(
            restart,
            Ok(Action::Restart {
                container: "web-1".into(),
                service: "web-1".into(),
                reason: "down".into()
            })
        );
        assert!(parse(ActionKind::Restart, &json!({"container": "web"})).is_err());
        assert!(parse(ActionKind::Restart, &json!({"reason": "x"})).is_err());
        assert!(
            parse(
                ActionKind::Restart,
                &json!({"container": "web", "reason": "x", "force": true})
            )
            .is_err()
        );
        assert!(parse(ActionKind::Restart, &json!("web")).is_err());
        assert!(
            parse(
                ActionKind::Redeploy,
                &json!({"service": "web", "repo": "../etc", "reason": "x"})
            )
            .is_err()
        );
        let redeploy = parse(
            ActionKind::Redeploy,
            &json!({"service": "web", "repo": "app", "reason": "x"}),
        );
        assert!(matches!(redeploy, Ok(Action::Redeploy { repo: Some(r), .. }) if r == "app"));
    }
}
