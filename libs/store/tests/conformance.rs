//! The one conformance suite of the `Store` trait: every case runs against SQLite
//! (a file in a temporary directory) and against a real PostgreSQL server (a private
//! one per test binary from `claudeops_tests::postgres`, a fresh database per test).
//!
//! One test binary; the cases are grouped by aggregate in the modules of
//! `conformance/`, each listing its cases in a `conformance!` invocation. Cases talk
//! to `dyn Store` only; nothing here may know which backend it drives. PostgreSQL
//! missing is a failure, never a skip.

use std::fmt::Debug;
use std::sync::Arc;

use claudeops_core::{NewSession, SessionOutcome, SessionStatus, SiteName, Tier, Trigger};
use claudeops_store::{Store, StoreError};
use claudeops_tests::postgres::PgServer;

/// A store under test and the URL it was opened from.
struct Fixture {
    store: Arc<dyn Store>,
    url: String,
    _dir: Option<tempfile::TempDir>,
}

async fn sqlite_fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!(
        "sqlite://{}",
        dir.path().join("nested/claudeops.db").display()
    );
    let store = claudeops_store::open(&url).await.expect("open sqlite");
    Fixture {
        store,
        url,
        _dir: Some(dir),
    }
}

async fn postgres_fixture(name: &str) -> Fixture {
    let url = PgServer::shared().fresh_database(name);
    let store = claudeops_store::open(&url).await.expect("open postgres");
    Fixture {
        store,
        url,
        _dir: None,
    }
}

/// Generates each case of the module it is invoked in once per backend:
/// `sqlite::case` and `postgres::case`.
macro_rules! conformance {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let fixture = crate::sqlite_fixture().await;
                    super::$case(&fixture).await;
                    fixture.store.close().await;
                }
            )+
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let fixture = crate::postgres_fixture(stringify!($case)).await;
                    super::$case(&fixture).await;
                    fixture.store.close().await;
                }
            )+
        }
    };
}

// The cases, by aggregate; the modules' files are in `conformance/`, where Cargo does
// not build them as tests of their own. `faults` is not conformance but lives in
// this one test binary: the store under faults, each case on a backend of its own.
mod conformance {
    mod approvals;
    mod events;
    mod faults;
    mod health;
    mod ledger;
    mod legacy;
    mod memories;
    mod sessions;
    mod settings;
    mod store;
    mod ui_probes;
    mod workers;
}

// --- helpers shared by the cases ---

fn site(name: &str) -> SiteName {
    SiteName::new(name).expect("valid site name")
}

fn new_session(site_name: &str, trigger: Trigger, started_at_ms: i64) -> NewSession {
    NewSession {
        site: site(site_name),
        worker_id: None,
        tier: Tier::Observe,
        model: "haiku".into(),
        trigger,
        prompt: None,
        parent_id: None,
        started_at_ms,
        trace: None,
    }
}

fn outcome(status: SessionStatus, ended_at_ms: i64) -> SessionOutcome {
    SessionOutcome {
        status,
        ended_at_ms,
        cost_usd: 0.25,
        turns: 4,
        exit_code: Some(0),
        response: Some("all healthy".into()),
        structured: Some(serde_json::json!({"summary": "ok", "issues": []})),
        error: None,
    }
}

fn expect_err<T: Debug>(result: Result<T, StoreError>) -> StoreError {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(e) => e,
    }
}
