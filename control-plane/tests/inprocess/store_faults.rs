//! The store as a watched dependency, through the real router: readiness
//! says why the database is not ready, API calls answer 503 rather than
//! invent state, a fault is recorded as a critical event once the store can
//! take it, and a state dir that lost its database refuses to start.

use std::path::PathBuf;

use axum::http::{Method, StatusCode};

use crate::support::{TestApp, base_config, eventually};

fn database(app: &TestApp) -> PathBuf {
    app.state_dir()
        .join(claudeops_control_plane::DEFAULT_DATABASE_FILE)
}

async fn health(app: &TestApp) -> (StatusCode, serde_json::Value) {
    app.request(Method::GET, "/api/v1/health", None, false)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_is_not_ready_and_the_fault_is_recorded_once_it_passes() {
    let app = TestApp::start().await;
    assert_eq!(health(&app).await.0, StatusCode::OK);
    // Another process holds the write lock for longer than the busy timeout.
    let mut locker = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3,sys,time\n\
             c=sqlite3.connect(sys.argv[1],isolation_level=None)\n\
             c.execute('BEGIN IMMEDIATE')\nprint('locked',flush=True)\ntime.sleep(7)\n\
             c.execute('ROLLBACK')",
        )
        .arg(database(&app))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("python3: {e}"));
    let mut said = String::new();
    use std::io::BufRead;
    let out = locker.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    std::io::BufReader::new(out)
        .read_line(&mut said)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(said.trim(), "locked");

    let (status, body) = health(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "degraded", "{body}");
    assert!(
        body["database"]
            .as_str()
            .is_some_and(|d| !d.is_empty() && d != "ok"),
        "{body}"
    );
    let (status, body) = app
        .request(Method::GET, "/api/v1/health/live", None, false)
        .await;
    assert_eq!(status, StatusCode::OK, "liveness stays up: {body}");

    let waited = tokio::task::spawn_blocking(move || locker.wait())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(waited.success());
    let (status, body) = health(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let event = eventually("the fault to be recorded", || async {
        app.events("level=critical").await.into_iter().find(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("the database was not ready from "))
        })
    })
    .await;
    assert_eq!(event["site"], "control-plane", "{event}");
}

#[tokio::test]
async fn a_deleted_database_stops_the_control_plane_serving_instead_of_inventing_state() {
    let app = TestApp::start().await;
    let path = database(&app);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let (status, body) = health(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "lost", "{body}");
    assert!(
        body["database"]
            .as_str()
            .is_some_and(|d| d.contains("was deleted while in use")),
        "{body}"
    );
    // Every call answers 503 with the reason, the same every time.
    for _ in 0..5 {
        let (status, body) = app
            .request(Method::GET, "/api/v1/sessions", None, true)
            .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(
            body["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("the database is unavailable")),
            "{body}"
        );
    }
    assert!(!path.exists(), "a new, empty database was created");
}

#[tokio::test]
async fn a_state_dir_that_lost_its_database_refuses_to_start() {
    let app = TestApp::start().await;
    let path = database(&app);
    let config = base_config(&app.dir);
    app.state.context.store.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let error = claudeops_control_plane::build(config)
        .await
        .err()
        .unwrap_or_else(|| panic!("a control plane started on a new, empty database"));
    let message = format!("{error:#}");
    assert!(
        message.contains("is missing, but") && message.contains("restore the database"),
        "{message}"
    );
    assert!(!path.exists(), "{message}");
}
