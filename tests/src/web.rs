//! A loopback web service a test can make fail, and a repo with a probe of
//! it: the fault that the dashboard's browser tests and the screenshots show.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

/// A loopback web service: `GET /` answers with the current code (200 until
/// `POST /fail`, then 500).
pub async fn failable_service() -> u16 {
    service_with_code().await.0
}

/// [`failable_service`], with the code to answer in the caller's hands too.
pub async fn service_with_code() -> (u16, Arc<AtomicU16>) {
    let code = Arc::new(AtomicU16::new(200));
    let (get, fail) = (code.clone(), code.clone());
    let app = axum::Router::new()
        .route(
            "/fail",
            axum::routing::post(move || {
                fail.store(500, Ordering::SeqCst);
                async { "failing now" }
            }),
        )
        .fallback(move || {
            let code = get.load(Ordering::SeqCst);
            async move {
                (
                    axum::http::StatusCode::from_u16(code).unwrap_or_default(),
                    "web",
                )
            }
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, code)
}

/// A repo with a probe of service `web` at `port`, checked every second.
pub fn web_probe_repo(repos: &std::path::Path, port: u16) {
    let dir = repos.join("homelab/.claude-ops/probes");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        repos.join("homelab/CLAUDE-OPS.md"),
        "# homelab\n\nThe web service.\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let spec = format!(
        "probes:\n  - name: web-http\n    service: web\n    url: http://127.0.0.1:{port}/\n    \
         interval: 1s\n    timeout: 2s\n    failure-threshold: 1\n    success-threshold: 1\n"
    );
    std::fs::write(dir.join("web.yaml"), spec).unwrap_or_else(|e| panic!("{e}"));
}
