//! The control plane: one per organisation. It owns scheduling, every durable
//! record (sessions, output, workers, events), the decisions about what runs next,
//! and the dashboard. Workers dial in over mutual TLS; nothing here runs the CLI.
//!
//! `main.rs` only parses arguments; [`serve`] and the operator commands live here so
//! tests can drive them in-process.

pub mod app;
pub mod config;
pub mod escalation;
pub mod grpc;
pub mod http;
pub mod hub;
pub mod incidents;
pub mod ledger;
pub mod notifications;
pub mod registry;
pub mod scheduler;
pub mod sessions;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use claudeops_core::SiteName;
use claudeops_core::worker::WorkerRecord;
use claudeops_pki::{Ca, EnrollToken, RevocationSet, hash_secret, tls};
use claudeops_proto::v1::enrollment_server::EnrollmentServer;
use claudeops_proto::v1::worker_link_server::WorkerLinkServer;
use claudeops_store::{EnrollTokenRecord, Store, StoreError, WorkerSelector};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::app::{App, AppState};
use crate::config::Config;
use crate::hub::Hub;
use crate::registry::Registry;
use crate::sessions::{Sessions, now_ms};

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

pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    std::fs::create_dir_all(&config.state_dir)
        .with_context(|| format!("creating the state dir {:?}", config.state_dir))?;
    claudeops_store::open(&config.database_url())
        .await
        .context("opening the database")
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

/// Revokes workers in the store and, if this process serves them, cuts them off.
pub async fn revoke(state: &AppState, selector: WorkerSelector) -> Result<Vec<String>, StoreError> {
    let revoked = state
        .sessions
        .store
        .revoke_workers(&selector, now_ms())
        .await?;
    apply_revocations(&state.revocations, &state.sessions.registry, &revoked);
    Ok(revoked.into_iter().map(|w| w.id).collect())
}

fn apply_revocations(set: &RevocationSet, registry: &Registry, revoked: &[WorkerRecord]) {
    for worker in revoked {
        set.revoke(&worker.cert_serial);
        if registry.disconnect(&worker.id) {
            tracing::warn!(worker = %worker.id, site = %worker.site, "revoked worker cut off");
        }
    }
}

/// Picks up revocations made by `claudeops-control-plane revoke` in another process.
async fn sync_revocations(state: AppState) {
    let mut tick = tokio::time::interval(REVOCATION_SYNC);
    loop {
        tick.tick().await;
        let Ok(workers) = state.sessions.store.list_workers(None).await else {
            continue;
        };
        let revoked: Vec<WorkerRecord> = workers
            .into_iter()
            .filter(WorkerRecord::is_revoked)
            .collect();
        apply_revocations(&state.revocations, &state.sessions.registry, &revoked);
    }
}

async fn bind(config: &Config, port: u16, what: &str) -> anyhow::Result<TcpListener> {
    let addr = SocketAddr::new(config.listen_addr, port);
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the {what} listener on {addr}"))
}

/// Runs the control plane until `shutdown` resolves. `on_bound` learns the
/// listeners' addresses once they are bound.
pub async fn serve(
    config: Config,
    local_worker: bool,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_bound: impl FnOnce(Bound) + Send,
) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let store = open_store(&config).await?;
    let ca = Arc::new(load_ca(&config)?);
    let revocations = Arc::new(RevocationSet::from_entries(store.revoked_serials().await?));
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        claudeops_worker::enroll::hostname(),
    ];
    names.extend(config.public_names());
    let server_pair = ca.issue_server(&names)?;
    let grpc_tls = tls::grpc_server_config(ca.cert_pem(), &server_pair, revocations.clone())?;
    let enroll_tls = tls::enroll_server_config(&server_pair)?;
    let (auth, token_path) =
        http::auth::Auth::load_or_create(config.api_token.as_deref(), &config.state_dir)
            .context("the API token")?;
    let validator = escalation::ResponseValidator::new(&config.schema()?)?;
    let sessions = Sessions {
        store: store.clone(),
        registry: Registry::default(),
        hub: Hub::default(),
        config: config.clone(),
        validator: Arc::new(validator),
        incidents: incidents::IncidentTracker::default(),
        notifier: notifications::start(&config, store.clone())?,
    };
    let state: AppState = Arc::new(App {
        sessions: sessions.clone(),
        auth,
        ui: claudeops_web_ui::Ui::new()?,
        ca: ca.clone(),
        revocations: revocations.clone(),
        token_path: token_path.clone(),
    });

    let dashboard = bind(&config, config.dashboard_port, "dashboard").await?;
    let grpc = bind(&config, config.grpc_port, "gRPC").await?;
    let enroll = bind(&config, config.enroll_port, "enrollment").await?;
    let bound = Bound {
        dashboard: dashboard.local_addr()?,
        grpc: grpc.local_addr()?,
        enroll: enroll.local_addr()?,
    };
    tracing::info!(dashboard = %bound.dashboard, grpc = %bound.grpc, enroll = %bound.enroll, ca = %ca.fingerprint(), "control plane listening");
    match &token_path {
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
        let link = grpc::link::LinkService {
            sessions: sessions.clone(),
            revocations: revocations.clone(),
            alerts: ledger::Alerts::default(),
        };
        let incoming = grpc::tls_incoming(grpc, grpc_tls, "grpc");
        let stopped = stopped();
        async move {
            tonic::transport::Server::builder()
                .http2_keepalive_interval(Some(Duration::from_secs(30)))
                .add_service(WorkerLinkServer::new(link))
                .serve_with_incoming_shutdown(incoming, stopped)
                .await
                .context("the gRPC listener")
        }
    });
    tasks.spawn({
        let service = grpc::enroll::EnrollService {
            store: store.clone(),
            ca: ca.clone(),
        };
        let incoming = grpc::tls_incoming(enroll, enroll_tls, "enroll");
        let stopped = stopped();
        async move {
            tonic::transport::Server::builder()
                .add_service(EnrollmentServer::new(service))
                .serve_with_incoming_shutdown(incoming, stopped)
                .await
                .context("the enrollment listener")
        }
    });
    tasks.spawn({
        let router = http::router(state.clone());
        let stopped = stopped();
        async move {
            axum::serve(dashboard, router)
                .with_graceful_shutdown(stopped)
                .await
                .context("the dashboard listener")
        }
    });
    let background = [
        tokio::spawn(scheduler::run(sessions.clone())),
        tokio::spawn(sync_revocations(state.clone())),
    ];
    if local_worker {
        let worker_config = local_worker_config(&config, &store, &ca, bound).await?;
        let stopped = stopped();
        tasks.spawn(async move {
            claudeops_worker::run(worker_config, stopped)
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
    tracing::info!("control plane shutting down");
    let _ = stop_tx.send(true);
    for task in background {
        task.abort();
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    store.close().await;
    result
}

/// A worker for site `local` in this process, enrolled on first start.
async fn local_worker_config(
    config: &Config,
    store: &Arc<dyn Store>,
    ca: &Ca,
    bound: Bound,
) -> anyhow::Result<claudeops_worker::WorkerConfig> {
    let site = SiteName::new(LOCAL_SITE)?;
    let state_dir = config.state_dir.join("worker");
    let usable = match claudeops_worker::enroll::load(&state_dir)? {
        Some(identity) => store
            .get_worker(&identity.worker_id)
            .await?
            .is_some_and(|w| !w.is_revoked()),
        None => false,
    };
    let enroll_token = if usable {
        None
    } else {
        // A new database or a revoked local worker: enroll afresh.
        claudeops_worker::enroll::forget(&state_dir)?;
        Some(
            create_enroll_token(
                store.as_ref(),
                ca,
                &site,
                bound.enroll.port(),
                Duration::from_secs(300),
            )
            .await?,
        )
    };
    Ok(claudeops_worker::WorkerConfig {
        control_plane: Some(format!("https://127.0.0.1:{}", bound.grpc.port())),
        site: Some(site.to_string()),
        enroll_token,
        state_dir,
        repos_dir: config.repos_dir.clone(),
        claude_bin: config.claude_bin.clone(),
        session_timeout: config.session_timeout,
        allowed_tools: config.allowed_tools.clone(),
        anthropic_api_key: config.anthropic_api_key.clone(),
        anthropic_base_url: config.anthropic_base_url.clone(),
        schema_path: config.schema_path.clone(),
        // The local worker shares this host: keep the control plane's secrets from the agent.
        protected_paths: [
            "ca.key",
            "api-token",
            "claudeops.db",
            "claudeops.db-wal",
            "claudeops.db-shm",
        ]
        .iter()
        .map(|f| config.state_dir.join(f).display().to_string())
        .collect::<Vec<_>>()
        .join(":"),
        hook_command: None,
        // Probe and discovery settings (CLAUDEOPS_PROBES, CLAUDEOPS_DISCOVERY_INTERVAL, ...)
        // come from the same environment as a separate worker's would.
        ..claudeops_worker::WorkerConfig::figment()
            .extract()
            .unwrap_or_default()
    })
}
