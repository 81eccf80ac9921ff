//! A Docker Engine API socket that forwards only reads.
//!
//! Why it exists: each session's CLI runs in a sandbox that does not contain
//! the real Docker socket: with it, any Bash command could restart, remove or
//! exec into containers whatever the command judge said. The worker gives
//! each session a [`DockerFilter`] instead, a Unix socket speaking the Engine
//! API (`DOCKER_HOST` inside the sandbox), which forwards the reads that
//! [`route`] allows to the real socket and answers everything else with 403
//! and a JSON `message` naming the typed action to use instead (the Docker CLI
//! prints that message). Restarts and redeploys go through the typed actions,
//! where the cooldown ledger is.
//!
//! `docker exec` is refused unless the session's [`ExecPolicy`] judges its
//! command allowed; an exec's start, inspect and resize are forwarded only for
//! execs this filter created. The hijacked stream of an exec start is passed
//! through both ways.
//!
//! What it must not do: buffer a streamed answer (`logs -f`, `events`, `stats`
//! stream live), outlive its session (dropping it closes every connection,
//! open streams included, and removes the socket file), or forward a request
//! it cannot classify.

mod exec;
mod proxy;
mod route;

use std::collections::HashSet;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;

pub use exec::{CheckedExec, check_exec};
pub use proxy::{HIDDEN, hide_env};
pub use route::{REFUSED_BY, Route, route};

/// Largest request body forwarded (exec bodies are a few hundred bytes).
pub const MAX_BODY: usize = 1024 * 1024;

/// How many refusals a filter keeps for the session's report; later ones are
/// only counted.
pub const MAX_REFUSALS_KEPT: usize = 64;

/// Judges an exec's command (its argv, as the exec request carries it);
/// `Err` is the reason to refuse, passed on to the caller.
pub type ExecJudge = Arc<dyn Fn(&[String]) -> Result<(), String> + Send + Sync>;

/// Whether a session may `docker exec` through its filter.
#[derive(Clone)]
pub enum ExecPolicy {
    /// Below `CLAUDEOPS_DOCKER_EXEC_TIER`: every exec is refused.
    Refused,
    /// From that tier: the command is judged as a Bash command of the tier.
    Judged(ExecJudge),
}

/// What a session's filter allows besides reads.
#[derive(Clone)]
pub struct FilterPolicy {
    pub exec: ExecPolicy,
}

/// One refused request, for the session's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub method: String,
    /// The request path without its query, cut to 256 bytes.
    pub path: String,
    /// The status answered: 403, 404 for a hidden object kind, or 413 for an
    /// exec request over [`MAX_BODY`].
    pub status: u16,
}

/// What a filter counted, for the session's report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Requests forwarded to the Engine (whatever it answered).
    pub forwarded: u64,
    /// Requests answered by the filter itself with a refusal.
    pub refused: u64,
    /// The first [`MAX_REFUSALS_KEPT`] refusals, in order.
    pub refusals: Vec<Refusal>,
}

#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("cannot listen on the docker filter socket {path}: {source}")]
    Bind { path: PathBuf, source: io::Error },
    #[error("{path} exists and is not a socket: not replacing it with the docker filter socket")]
    NotASocket { path: PathBuf },
}

/// State the connections share.
struct Shared {
    /// Turns true (or closes) when the filter is dropped: every connection,
    /// upstream connection and hijacked exec stream ends then.
    stopped: watch::Receiver<bool>,
    upstream: PathBuf,
    policy: FilterPolicy,
    /// Ids of the execs created through this filter.
    execs: Mutex<HashSet<String>>,
    forwarded: AtomicU64,
    refused: AtomicU64,
    refusals: Mutex<Vec<Refusal>>,
}

impl Shared {
    fn count_refusal(&self, method: &str, target: &str, status: u16) {
        self.refused.fetch_add(1, Ordering::Relaxed);
        let mut path = target.split_once('?').map_or(target, |(p, _)| p);
        if path.len() > 256 {
            let mut end = 256;
            while !path.is_char_boundary(end) {
                end -= 1;
            }
            path = &path[..end];
        }
        let mut refusals = self.refusals.lock().unwrap_or_else(PoisonError::into_inner);
        if refusals.len() < MAX_REFUSALS_KEPT {
            refusals.push(Refusal {
                method: method.to_owned(),
                path: path.to_owned(),
                status,
            });
        }
    }

    fn remember_exec(&self, id: String) {
        self.execs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id);
    }

    fn knows_exec(&self, id: &str) -> bool {
        self.execs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(id)
    }
}

/// One session's filter socket, served from the moment [`DockerFilter::bind`]
/// returns. Dropping it stops serving, closes every open connection (open
/// `logs -f`, `events` and exec streams included) and removes the socket file.
pub struct DockerFilter {
    path: PathBuf,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
}

impl DockerFilter {
    /// Binds `listen` (mode 0600, bound under a temporary name and renamed,
    /// so it is never reachable with looser permissions; a stale socket at
    /// `listen` is replaced, any other file is not) and serves it on the
    /// current Tokio runtime, forwarding allowed requests to the Engine
    /// socket `upstream`. Panics outside a Tokio runtime.
    pub fn bind(
        listen: &Path,
        upstream: &Path,
        policy: FilterPolicy,
    ) -> Result<DockerFilter, FilterError> {
        let bind_error = |source| FilterError::Bind {
            path: listen.to_path_buf(),
            source,
        };
        if let Ok(meta) = std::fs::symlink_metadata(listen) {
            if !meta.file_type().is_socket() {
                return Err(FilterError::NotASocket {
                    path: listen.to_path_buf(),
                });
            }
            std::fs::remove_file(listen).map_err(bind_error)?;
        }
        let mut temp = listen.as_os_str().to_owned();
        temp.push(format!(".{}.tmp", std::process::id()));
        let temp = PathBuf::from(temp);
        let _ = std::fs::remove_file(&temp);
        let listener = UnixListener::bind(&temp).map_err(bind_error)?;
        let made = std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o600))
            .and_then(|()| std::fs::rename(&temp, listen));
        if let Err(error) = made {
            let _ = std::fs::remove_file(&temp);
            return Err(bind_error(error));
        }
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::new(Shared {
            stopped: stopped.clone(),
            upstream: upstream.to_path_buf(),
            policy,
            execs: Mutex::new(HashSet::new()),
            forwarded: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            refusals: Mutex::new(Vec::new()),
        });
        tokio::spawn(accept(listener, shared.clone(), stopped));
        Ok(DockerFilter {
            path: listen.to_path_buf(),
            shared,
            stop,
        })
    }

    /// The socket's path (what `DOCKER_HOST=unix://...` names).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the filter counted so far.
    pub fn counters(&self) -> Counters {
        Counters {
            forwarded: self.shared.forwarded.load(Ordering::Relaxed),
            refused: self.shared.refused.load(Ordering::Relaxed),
            refusals: self
                .shared
                .refusals
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }
}

impl Drop for DockerFilter {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn accept(listener: UnixListener, shared: Arc<Shared>, mut stopped: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(connection(stream, shared.clone(), stopped.clone()));
                }
                Err(error) => {
                    tracing::warn!(%error, "docker filter: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = stopped.changed() => return,
        }
    }
}

async fn connection(stream: UnixStream, shared: Arc<Shared>, mut stopped: watch::Receiver<bool>) {
    let service = hyper::service::service_fn(move |request| {
        let shared = shared.clone();
        async move { Ok::<_, std::convert::Infallible>(proxy::handle(request, shared).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::select! {
        _ = conn => {}
        _ = stopped.changed() => {}
    }
}
