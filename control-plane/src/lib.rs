//! The control plane: one per organisation. It owns scheduling, every durable
//! record (sessions, output, workers, events), the decisions about what runs next,
//! and the dashboard. Workers dial in over mutual TLS; nothing here runs the CLI.
//!
//! `main.rs` only parses arguments; [`serve`] and the operator commands live here so
//! tests can drive them in-process.

pub mod after_session;
pub mod app;
pub mod approvals;
pub mod auth;
pub mod changes;
pub mod clock;
pub mod config;
pub mod context;
pub mod dependencies;
pub mod escalation;
pub mod evidence;
pub mod grpc;
pub mod history;
pub mod http;
pub mod hub;
pub mod incidents;
pub mod ledger;
pub mod legacy_import;
pub mod local_worker;
pub mod maintenance;
pub mod notifications;
pub mod queries;
pub mod registry;
pub mod run_logs;
pub mod runtime;
pub mod scheduler;
pub mod sessions;
pub mod store_watch;
pub mod telemetry;
pub mod ui_probes;
pub mod upstream;
pub mod users;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use claudeops_core::SiteName;
use claudeops_pki::{Ca, EnrollToken, RevocationSet, hash_secret, tls};
use claudeops_store::{EnrollTokenRecord, Store};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::after_session::AfterSession;
use crate::app::{App, AppState};
use crate::clock::now_ms;
use crate::config::Config;
use crate::context::Context as ServiceContext;
use crate::incidents::Incidents;
use crate::queries::Queries;
use crate::sessions::Sessions;

pub use config::Config as ControlPlaneConfig;

/// The site a `--local-worker` serves.
pub const LOCAL_SITE: &str = "local";
const REVOCATION_SYNC: Duration = Duration::from_secs(5);

/// Where the listeners ended up (ports may be 0 in the configuration).
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub dashboard: SocketAddr,
    pub grpc: SocketAddr,
    pub enroll: SocketAddr,
}

/// The SQLite database in the state dir, when no `CLAUDEOPS_DATABASE_URL` is set.
pub const DEFAULT_DATABASE_FILE: &str = "claudeops.db";

pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    std::fs::create_dir_all(&config.state_dir)
        .with_context(|| format!("creating the state dir {:?}", config.state_dir))?;
    refuse_a_lost_database(config)?;
    claudeops_store::open(&config.database_url())
        .await
        .context("opening the database")
}

/// A state dir that holds the built-in CA of an earlier run but not its
/// SQLite database lost the database: starting on a new, empty one would
/// forget every worker, session and cooldown without a word.
fn refuse_a_lost_database(config: &Config) -> anyhow::Result<()> {
    if config.database_url.is_some() || config.ca_cert_file.is_some() {
        return Ok(());
    }
    let database = config.state_dir.join(DEFAULT_DATABASE_FILE);
    let ca = config.state_dir.join(claudeops_pki::CA_CERT_FILE);
    if ca.exists() && !database.exists() {
        anyhow::bail!(
            "the database {} is missing, but {} is the CA of an earlier run of this control plane: \
             restore the database from a backup, or, to start afresh on purpose (every worker \
             enrolls again), remove {} and {} from the state dir",
            database.display(),
            ca.display(),
            claudeops_pki::CA_CERT_FILE,
            claudeops_pki::CA_KEY_FILE,
        );
    }
    Ok(())
}

pub fn load_ca(config: &Config) -> anyhow::Result<Ca> {
    match (&config.ca_cert_file, &config.ca_key_file) {
        (Some(cert), Some(key)) => {
            let cert =
                std::fs::read_to_string(cert).with_context(|| format!("reading {cert:?}"))?;
            let key = std::fs::read_to_string(key).with_context(|| format!("reading {key:?}"))?;
            Ca::from_pem(&cert, &key).context("the operator-supplied CA")
        }
        _ => Ca::load_or_create(&config.state_dir).context("the built-in CA"),
    }
}

/// Creates a one-time enrollment token for a site and returns it encoded.
pub async fn create_enroll_token(
    store: &dyn Store,
    ca: &Ca,
    site: &SiteName,
    enroll_port: u16,
    ttl: Duration,
) -> anyhow::Result<String> {
    let token = EnrollToken::generate(&ca.fingerprint(), enroll_port)?;
    let now = now_ms();
    store
        .insert_enroll_token(&EnrollTokenRecord {
            id: token.id.clone(),
            secret_hash: hash_secret(&token.secret),
            site: site.clone(),
            created_at_ms: now,
            expires_at_ms: now + i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2),
        })
        .await?;
    Ok(token.encode())
}

/// Picks up revocations made by `claudeops-control-plane revoke` in another process.
async fn sync_revocations(state: AppState) {
    let mut tick = tokio::time::interval(REVOCATION_SYNC);
    loop {
        tick.tick().await;
        state.sync_revocations().await;
        state.sync_users().await;
        if let Err(error) = state.maintenance.refresh(clock::now_ms()).await {
            tracing::debug!(%error, "could not read the maintenance windows");
        }
    }
}

async fn bind(config: &Config, port: u16, what: &str) -> anyhow::Result<TcpListener> {
    let addr = SocketAddr::new(config.listen_addr, port);
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the {what} listener on {addr}"))
}

/// The control plane assembled but not yet listening: what `serve` runs, and
/// what in-process tests drive (the router with `oneshot`, the link on a
/// loopback listener).
pub struct Built {
    pub state: AppState,
    pub config: Arc<Config>,
    /// A worker link silent this long is closed (three heartbeat intervals;
    /// tests shorten it before serving).
    pub link_silence_limit: Duration,
    grpc_tls: Arc<rustls::ServerConfig>,
    enroll_tls: Arc<rustls::ServerConfig>,
}

/// Opens the store, loads or creates the CA, and assembles every service.
pub async fn build(config: Config) -> anyhow::Result<Built> {
    let config = Arc::new(config);
    let store = open_store(&config).await?;
    let ca = Arc::new(load_ca(&config)?);
    let revocations = Arc::new(RevocationSet::from_entries(store.revoked_serials().await?));
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), hostname()];
    names.extend(config.public_names());
    let server_pair = ca.issue_server(&names)?;
    let grpc_tls = tls::grpc_server_config(ca.cert_pem(), &server_pair, revocations.clone())?;
    let enroll_tls = tls::enroll_server_config(&server_pair)?;
    let (auth, token_path) =
        auth::Auth::load_or_create(config.api_token.as_deref(), &config.state_dir)
            .context("the API token")?;
    let auth = auth.with_secure_cookies(
        config
            .public_url
            .as_deref()
            .is_some_and(|url| url.starts_with("https://")),
    );
    let validator = escalation::ResponseValidator::new(&config.schema()?)?;
    let ui = claudeops_web_ui::Ui::new()?;
    let (context, facts) = ServiceContext::new(store, config.clone());
    // The operator's runtime changes, kept across restarts, over the environment.
    context
        .runtime
        .load(context.store.as_ref())
        .await
        .context("reading the runtime settings")?;
    let notifications = notifications::start(context.clone())?;
    let sessions = Sessions::new(context.clone()).with_run_logs(run_logs::RunLogs::spawn(
        context.store.clone(),
        config.results_dir.clone(),
    ));
    let incidents = Incidents::new(context.clone(), sessions.clone(), notifications.clone());
    let approvals = approvals::Approvals::new(
        context.clone(),
        notifications.clone(),
        &auth.derive_key("approval links"),
    );
    approvals.close_leftovers().await;
    // The one consumer of the facts bus: what follows each finished session.
    // Spawned last, once nothing above can fail.
    let after_session = AfterSession {
        ctx: context.clone(),
        sessions: sessions.clone(),
        incidents: incidents.clone(),
        notifications: notifications.clone(),
        validator: Arc::new(validator),
    };
    let store_health = store_watch::StoreHealth::default();
    let context_store = context.store.clone();
    let state: AppState = Arc::new(App {
        queries: Queries::new(context.clone()),
        history: history::History::new(context.clone()),
        maintenance: incidents.maintenance().clone(),
        upstream: upstream::Upstream::new(&config),
        context,
        sessions,
        incidents,
        notifications,
        approvals,
        auth,
        users: users::Users::new(context_store),
        public_reads: config.public_reads,
        ui,
        ca,
        revocations,
        token_path,
        store_health: store_health.clone(),
    });
    if let Err(error) = state.maintenance.refresh(clock::now_ms()).await {
        tracing::warn!(%error, "could not read the maintenance windows");
    }
    tokio::spawn(after_session.run(facts));
    tokio::spawn(store_watch::watch(
        state.context.clone(),
        state.notifications.clone(),
        store_health,
    ));
    Ok(Built {
        state,
        config,
        link_silence_limit: grpc::link::SILENCE_LIMIT,
        grpc_tls,
        enroll_tls,
    })
}

impl Built {
    /// Serves the worker link (mutual TLS) on `listener` until `stopped`.
    pub async fn run_link(
        &self,
        listener: TcpListener,
        stopped: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let state = &self.state;
        let link = grpc::link::LinkService {
            peers: grpc::link::Peers {
                ctx: state.context.clone(),
                sessions: state.sessions.clone(),
                incidents: state.incidents.clone(),
                notifications: state.notifications.clone(),
                alerts: ledger::Alerts::default(),
                approvals: state.approvals.clone(),
            },
            revocations: state.revocations.clone(),
            silence_limit: self.link_silence_limit,
        };
        grpc::serve_link(link, listener, self.grpc_tls.clone(), stopped).await
    }

    /// Serves enrollment (server TLS) on `listener` until `stopped`.
    pub async fn run_enroll(
        &self,
        listener: TcpListener,
        stopped: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let service = grpc::enroll::EnrollService {
            store: self.state.context.store.clone(),
            ca: self.state.ca.clone(),
        };
        grpc::serve_enroll(service, listener, self.enroll_tls.clone(), stopped).await
    }
}

/// Runs the control plane until `shutdown` resolves. `on_bound` learns the
/// listeners' addresses once they are bound.
pub async fn serve(
    config: Config,
    local_worker: bool,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_bound: impl FnOnce(Bound) + Send,
) -> anyhow::Result<()> {
    let built = Arc::new(build(config).await?);
    let config = built.config.clone();
    let state = built.state.clone();
    let store = state.context.store.clone();

    let dashboard = bind(&config, config.dashboard_port, "dashboard").await?;
    let grpc = bind(&config, config.grpc_port, "gRPC").await?;
    let enroll = bind(&config, config.enroll_port, "enrollment").await?;
    let bound = Bound {
        dashboard: dashboard.local_addr()?,
        grpc: grpc.local_addr()?,
        enroll: enroll.local_addr()?,
    };
    tracing::info!(dashboard = %bound.dashboard, grpc = %bound.grpc, enroll = %bound.enroll, ca = %state.ca.fingerprint(), "control plane listening");
    match &state.token_path {
        Some(path) => {
            tracing::info!(path = %path.display(), "the API token (for the dashboard login and Authorization: Bearer) is in this file")
        }
        None => tracing::info!("the API token is CLAUDEOPS_API_TOKEN"),
    }
    if !config.llm_configured() {
        tracing::warn!(
            "ANTHROPIC_API_KEY is not set: LLM tiers are off; the dashboard and workers still run"
        );
    }
    on_bound(bound);

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn({
        let (built, stopped) = (built.clone(), stopped());
        async move { built.run_link(grpc, stopped).await }
    });
    tasks.spawn({
        let (built, stopped) = (built.clone(), stopped());
        async move { built.run_enroll(enroll, stopped).await }
    });
    tasks.spawn({
        let router = http::router(state.clone());
        let stopped = stopped();
        async move {
            axum::serve(
                dashboard,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(stopped)
            .await
            .context("the dashboard listener")
        }
    });
    let background = [
        tokio::spawn(
            scheduler::Scheduler {
                ctx: state.context.clone(),
                sessions: state.sessions.clone(),
                incidents: state.incidents.clone(),
                notifications: state.notifications.clone(),
            }
            .run(),
        ),
        tokio::spawn(sync_revocations(state.clone())),
    ];
    if local_worker {
        let supervisor = local_worker::LocalWorker {
            config: config.clone(),
            store: store.clone(),
            ca: state.ca.clone(),
            bound,
            program: local_worker::worker_binary(&config)?,
        };
        let stopped = stopped();
        tasks.spawn(async move {
            supervisor
                .supervise(stopped)
                .await
                .context("the local worker")
        });
    }
    let result = tokio::select! {
        () = shutdown => Ok(()),
        Some(joined) = tasks.join_next() => match joined {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(error),
            Err(join) => Err(anyhow::anyhow!("a listener task panicked: {join}")),
        },
    };
    // The listeners keep serving while sessions finish: their output and
    // ends arrive over the link, and the dashboard shows them.
    let grace = config.shutdown_grace;
    tracing::info!(
        grace_s = grace.as_secs(),
        "control plane shutting down: no new sessions; running ones may finish"
    );
    // A listener that failed leaves no link to hear the sessions' ends over.
    let left = match &result {
        Ok(()) => state.sessions.drain(grace).await,
        Err(_) => Vec::new(),
    };
    if !left.is_empty() {
        tracing::error!(sessions = ?left, "shutting down with sessions whose end was not reported; the reaper ends them after the restart");
    }
    let _ = stop_tx.send(true);
    for task in background {
        task.abort();
    }
    // Long enough for the local worker's grace period (`local_worker::stop`).
    let _ = tokio::time::timeout(Duration::from_secs(12), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    store.close().await;
    result
}

/// This host's name, for the control plane's server certificate.
fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".to_owned())
}
