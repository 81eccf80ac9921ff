//! A real Prometheus server for tests (Debian's `prometheus` package): it
//! scrapes the given targets every second, keeps its data in a temporary
//! directory and listens on a free port of 127.0.0.1. Queried through its
//! HTTP API. Dropping it stops it.
//!
//! This module must not skip: without Prometheus it panics naming the package.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

use crate::servers::free_port;
use crate::system::Proc;

const INSTALL_HINT: &str =
    "install the Debian package `prometheus` (apt-get install -y prometheus)";

/// The `prometheus` and `promtool` programs.
pub fn program(name: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin"] {
        let path = PathBuf::from(dir).join(name);
        if path.exists() {
            return path;
        }
    }
    panic!("{name} is missing: {INSTALL_HINT}");
}

pub struct Prometheus {
    pub addr: String,
    _proc: Proc,
    _dir: TempDir,
}

impl Prometheus {
    /// Starts a server scraping `scrape_config` (a YAML list of scrape jobs,
    /// e.g. the shipped `deploy/prometheus/prometheus.yml`'s `scrape_configs`).
    pub async fn start(config_yaml: &str) -> Prometheus {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, config_yaml).unwrap_or_else(|e| panic!("{e}"));
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let data = dir.path().join("data");
        let proc = Proc::spawn(
            "prometheus",
            &program("prometheus"),
            &[
                &format!("--config.file={}", config.display()),
                &format!("--storage.tsdb.path={}", data.display()),
                &format!("--web.listen-address={addr}"),
            ],
            &[],
        );
        let prometheus = Prometheus {
            addr,
            _proc: proc,
            _dir: dir,
        };
        prometheus.wait_ready().await;
        prometheus
    }

    async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let ready = client
                .get(format!("http://{}/-/ready", self.addr))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "prometheus did not become ready at {}",
                self.addr
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// An instant query's result vector (`data.result`).
    pub async fn query(&self, promql: &str) -> Vec<Value> {
        let answer: Value = reqwest::Client::new()
            .post(format!("http://{}/api/v1/query", self.addr))
            .form(&[("query", promql)])
            .send()
            .await
            .unwrap_or_else(|e| panic!("querying prometheus: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("prometheus answered no JSON: {e}"));
        assert_eq!(answer["status"], "success", "{promql}: {answer}");
        answer["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Waits until `promql` returns at least one series; returns them.
    pub async fn wait_for(&self, promql: &str, timeout: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let result = self.query(promql).await;
            if !result.is_empty() {
                return result;
            }
            if tokio::time::Instant::now() >= deadline {
                let targets =
                    match reqwest::get(format!("http://{}/api/v1/targets", self.addr)).await {
                        Ok(r) => r.text().await.unwrap_or_default(),
                        Err(e) => e.to_string(),
                    };
                panic!("{promql} returned nothing within {timeout:?}; targets: {targets}");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}
