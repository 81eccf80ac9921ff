//! What one session holds while its CLI runs, and the CLI invocation changed
//! to use it: its own action socket, its own read-only Docker filter, its own
//! model-proxy token, and the sandbox around the whole process tree.
//!
//! Why per session: a socket or token shared by all sessions would let one
//! session act as another (of a higher tier). Each of these is valid only for
//! its session and only while it runs: dropping the [`Enclosure`] closes the
//! sockets, revokes the token and removes the session's run dir.
//!
//! What it must not do: put a secret into the CLI's environment (the model key
//! stays in the proxy, the worker's key in the state dir, which the sandbox
//! does not mount), or start a session whose sandbox could not be built.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use claudeops_core::Tier;
use claudeops_docker_filter::{DockerFilter, ExecPolicy, FilterPolicy};
use claudeops_model_proxy::{Grant, ModelProxy, SessionKey};
use tokio::sync::oneshot;
use tracing::Instrument;

use crate::actions::{ActionHandler, ActionReply, ActionRequest, ActionSocket};
use crate::config::WorkerConfig;
use crate::job::Job;
use crate::runner::{self, Invocation};
use crate::sandbox::{self, Sandbox, plan};
use crate::workspace::Workspace;

/// The per-session resources; dropping it ends them all.
pub struct Enclosure {
    run_dir: PathBuf,
    _actions: oneshot::Sender<()>,
    docker: DockerFilter,
    key: SessionKey,
    cap_reason: String,
}

/// Where the session's sockets live on the host: `STATE/run/ID/`.
pub fn run_dir(config: &WorkerConfig, session_id: i64) -> PathBuf {
    config.state_dir.join("run").join(session_id.to_string())
}

/// The action socket path the CLI's MCP server is given: inside the sandbox
/// it is always at [`plan::ACTIONS_SOCKET`].
pub fn actions_socket_for_cli(
    config: &WorkerConfig,
    sandbox: &Sandbox,
    session_id: i64,
) -> PathBuf {
    match sandbox {
        Sandbox::Bwrap { .. } => PathBuf::from(plan::ACTIONS_SOCKET),
        _ => run_dir(config, session_id).join("actions.sock"),
    }
}

/// Everything [`Enclosure::open`] needs from the worker.
pub struct Parts<'a> {
    pub config: &'a WorkerConfig,
    pub sandbox: &'a Sandbox,
    pub proxy: &'a ModelProxy,
    pub actions: Arc<dyn ActionHandler>,
}

impl Enclosure {
    /// Opens the session's sockets and token and rewrites `invocation` to run
    /// inside the sandbox with them.
    pub fn open(
        parts: &Parts<'_>,
        job: &Job,
        ws: &Workspace,
        invocation: &mut Invocation,
    ) -> Result<Enclosure, String> {
        let Parts {
            config,
            sandbox,
            proxy,
            actions,
        } = parts;
        if let Sandbox::Unavailable(reason) = sandbox {
            return Err(format!(
                "no sandbox works on this worker, so it runs no LLM session: {reason}"
            ));
        }
        if !resolve(&invocation.program).is_file() {
            return Err(runner::not_found(&invocation.program));
        }
        let run_dir = run_dir(config, job.session_id);
        let _ = std::fs::remove_dir_all(&run_dir);
        std::fs::create_dir_all(&run_dir)
            .and_then(|()| {
                std::fs::set_permissions(&run_dir, std::fs::Permissions::from_mode(0o700))
            })
            .map_err(|e| format!("cannot create {}: {e}", run_dir.display()))?;
        let owner = sandbox.owner();
        let give = |path: &Path| -> Result<(), String> {
            match owner {
                Some(owner) => sandbox::give(path, owner, &[]).map_err(|e| {
                    format!("cannot give {} to the sandbox user: {e}", path.display())
                }),
                None => Ok(()),
            }
        };

        // Typed actions: this session's socket answers only for this session.
        let actions_path = run_dir.join("actions.sock");
        let socket = ActionSocket::bind(&actions_path)
            .map_err(|e| format!("cannot open the session's action socket: {e}"))?;
        give(&actions_path)?;
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let bound: Arc<dyn ActionHandler> = Arc::new(OneSession {
            session_id: job.session_id,
            inner: actions.clone(),
        });
        tokio::spawn(
            socket
                .serve_until(bound, async move {
                    let _ = stop_rx.await;
                })
                .in_current_span(),
        );

        // Docker: reads only; exec from the configured tier, judged.
        let docker_path = run_dir.join("docker.sock");
        let docker = DockerFilter::bind(
            &docker_path,
            &config.docker_socket,
            filter_policy(config, job),
        )
        .map_err(|e| format!("cannot open the session's Docker filter: {e}"))?;
        give(&docker_path)?;

        // The model: a token for this session instead of the key.
        let cap_reason = cap_reason(job);
        let key = proxy.open(Grant {
            session_id: job.session_id,
            models: job.models.clone(),
            max_cost_usd: cost_cap(job),
            cap_reason: cap_reason.clone(),
        });

        let inside = matches!(sandbox, Sandbox::Bwrap { .. });
        let docker_host = if inside {
            PathBuf::from(plan::DOCKER_SOCKET)
        } else {
            docker_path.clone()
        };
        set_env(invocation, "ANTHROPIC_BASE_URL", proxy.base_url().into());
        set_env(invocation, "ANTHROPIC_API_KEY", key.token().into());
        remove_env(invocation, "ANTHROPIC_AUTH_TOKEN");
        let mut host = OsString::from("unix://");
        host.push(docker_host.as_os_str());
        set_env(invocation, "DOCKER_HOST", host);
        if inside {
            set_env(invocation, "HOME", plan::HOME.into());
            set_env(invocation, "TMPDIR", "/tmp".into());
        }

        if let Some(owner) = owner {
            // The workspace is the session's to write; the CLI's settings (the
            // hook) and MCP config stay the worker's, and read-only inside.
            let keep = [ws.settings.clone(), ws.mcp_config.clone()];
            sandbox::give(&ws.dir, owner, &keep)
                .map_err(|e| format!("cannot give the workspace to the sandbox user: {e}"))?;
        }
        let session = plan::Session {
            workspace: ws.dir.clone(),
            frozen: vec![ws.settings.clone(), ws.mcp_config.clone()],
            repos: config.repos_dir.is_dir().then(|| config.repos_dir.clone()),
            programs: programs(invocation),
            docker_socket: Some(docker_path),
            actions_socket: Some(actions_path),
            masked: config.protected(),
        };
        if let Some((program, args)) = sandbox.wrap(&session, &invocation.program, &invocation.args)
        {
            invocation.program = program;
            invocation.args = args;
        }
        Ok(Enclosure {
            run_dir,
            _actions: stop_tx,
            docker,
            key,
            cap_reason,
        })
    }

    /// Resolves when the model proxy stopped the session at a cost cap, with
    /// the reason.
    pub async fn capped(&self) -> String {
        self.key.capped().await;
        format!(
            "the model proxy stopped the session: its cost reached {}",
            self.cap_reason
        )
    }

    /// What the proxy and the filter counted.
    pub fn metering(&self) -> claudeops_core::link::Metering {
        let m = self.key.meter();
        let d = self.docker.counters();
        claudeops_core::link::Metering {
            requests: m.requests,
            refused: m.refused,
            input_tokens: m.input_tokens,
            output_tokens: m.output_tokens,
            cache_creation_input_tokens: m.cache_creation_input_tokens,
            cache_read_input_tokens: m.cache_read_input_tokens,
            cost_usd: m.cost_usd,
            request_bytes_total: m.request_bytes_total,
            request_bytes_max: m.request_bytes_max,
            docker_forwarded: d.forwarded,
            docker_refused: d.refused,
            capped: self.key.is_capped().then(|| self.cap_reason.clone()),
        }
    }
}

impl Drop for Enclosure {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.run_dir);
    }
}

/// The programs the sandbox must contain: the CLI and the worker binary
/// (hook, MCP server, privilege drop), by their real paths.
fn programs(invocation: &Invocation) -> Vec<PathBuf> {
    let mut programs = Vec::new();
    for path in [
        Some(&invocation.program),
        invocation.guard.as_ref().map(|g| &g.helper),
    ]
    .into_iter()
    .flatten()
    {
        let real = resolve(path);
        if !programs.contains(&real) {
            programs.push(real);
        }
    }
    programs
}

/// A program's real path: looked up on `PATH` when bare, symlinks resolved.
fn resolve(program: &Path) -> PathBuf {
    let found = if program.components().count() == 1 {
        std::env::var_os("PATH")
            .into_iter()
            .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    } else {
        None
    };
    let path = found.unwrap_or_else(|| program.to_path_buf());
    std::fs::canonicalize(&path).unwrap_or(path)
}

fn filter_policy(config: &WorkerConfig, job: &Job) -> FilterPolicy {
    if job.tier < config.docker_exec_tier {
        return FilterPolicy {
            exec: ExecPolicy::Refused,
        };
    }
    let tier = job.tier;
    let env = crate::hook::HookEnv {
        tier: Some(tier),
        repos_dir: config.repos_dir.to_string_lossy().into_owned(),
        dry_run: job.dry_run,
        protected: crate::job::protected(config),
        workspace: None,
        mcp_servers: Vec::new(),
    };
    FilterPolicy {
        exec: ExecPolicy::Judged(Arc::new(move |argv: &[String]| {
            judge_exec(argv, tier, &env)
        })),
    }
}

/// An exec's argv judged as the Bash command of the tier it would be.
fn judge_exec(argv: &[String], tier: Tier, env: &crate::hook::HookEnv) -> Result<(), String> {
    let line = argv
        .iter()
        .map(|w| crate::workspace::shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ");
    crate::hook::judge_command(&line, tier, env)
}

/// The session's cost cap: the smaller of its own and what is left of the day.
fn cost_cap(job: &Job) -> Option<f64> {
    let own = (job.max_budget_usd > 0.0).then_some(job.max_budget_usd);
    match (own, job.daily_left_usd) {
        (Some(a), Some(b)) => Some(a.min(b.max(0.0))),
        (a, b) => a.or(b.map(|b| b.max(0.0))),
    }
}

fn cap_reason(job: &Job) -> String {
    let own = (job.max_budget_usd > 0.0).then_some(job.max_budget_usd);
    match (own, job.daily_left_usd) {
        (Some(a), Some(b)) if b < a => {
            format!("the fleet's daily cap CLAUDEOPS_MAX_DAILY_COST_USD (${b:.2} was left today)")
        }
        (Some(a), _) => format!("the session cap CLAUDEOPS_MAX_SESSION_COST_USD=${a:.2}"),
        (None, Some(b)) => {
            format!("the fleet's daily cap CLAUDEOPS_MAX_DAILY_COST_USD (${b:.2} was left today)")
        }
        (None, None) => String::new(),
    }
}

fn set_env(invocation: &mut Invocation, name: &str, value: OsString) {
    remove_env(invocation, name);
    invocation.env.push((name.into(), value));
}

fn remove_env(invocation: &mut Invocation, name: &str) {
    invocation.env.retain(|(k, _)| k != name);
}

/// The worker's action handler, answering only for one session.
struct OneSession {
    session_id: i64,
    inner: Arc<dyn ActionHandler>,
}

#[async_trait::async_trait]
impl ActionHandler for OneSession {
    async fn handle(&self, request: ActionRequest) -> ActionReply {
        if request.session_id != self.session_id {
            return ActionReply::failed(format!(
                "this action socket belongs to session {}, not {}; nothing was done",
                self.session_id, request.session_id
            ));
        }
        self.inner.handle(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(max: f64, left: Option<f64>) -> Job {
        Job {
            session_id: 1,
            tier: Tier::Observe,
            model: "haiku".into(),
            prompt: None,
            handoff: None,
            max_budget_usd: max,
            timeout_secs: 0,
            dry_run: false,
            extra_allowed_tools: vec![],
            extra_disallowed_tools: vec![],
            memories: None,
            models: vec![],
            daily_left_usd: left,
            trace: None,
        }
    }

    #[test]
    fn the_cap_is_the_smaller_of_the_session_and_the_day() {
        assert_eq!(cost_cap(&job(0.0, None)), None);
        assert_eq!(cost_cap(&job(0.5, None)), Some(0.5));
        assert_eq!(cost_cap(&job(0.5, Some(0.2))), Some(0.2));
        assert_eq!(cost_cap(&job(0.0, Some(3.0))), Some(3.0));
        assert_eq!(cost_cap(&job(0.0, Some(-1.0))), Some(0.0));
        assert!(cap_reason(&job(0.5, Some(0.2))).contains("DAILY"));
        assert!(cap_reason(&job(0.5, Some(2.0))).contains("SESSION"));
    }
}
