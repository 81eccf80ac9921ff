//! A small client for the Docker Engine API over its unix socket: list, inspect
//! and log tails. Used by the Docker probe kind and by the worker's discovery.
//!
//! One HTTP/1 request per connection (hyper over `tokio::net::UnixStream`), GET
//! only: this module must not change containers (that is the worker's typed
//! actions' job, through the ledger).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::net::UnixStream;

/// The engine's default socket.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";
/// Replies larger than this are refused.
const REPLY_LIMIT: usize = 16 << 20;

/// Why a Docker Engine request failed.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error(
        "cannot reach the docker engine at {socket}: {reason}; is docker running and the socket mounted?"
    )]
    Unavailable { socket: String, reason: String },
    #[error(
        "DOCKER_HOST `{0}` is not a unix socket; set it to unix:///var/run/docker.sock or unset it"
    )]
    UnsupportedHost(String),
    #[error("no such container: {0}")]
    NotFound(String),
    #[error("docker engine answered {status} to {path}: {message}")]
    Api {
        status: u16,
        path: String,
        message: String,
    },
    #[error("cannot read the docker engine's reply to {path}: {reason}")]
    Decode { path: String, reason: String },
}

/// A container as `GET /containers/json` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerSummary {
    /// Without the leading `/`.
    pub name: String,
    pub id: String,
    pub image: String,
    /// `running`, `exited`, `restarting`, ...
    pub state: String,
    /// Human text such as `Up 5 minutes (healthy)`.
    pub status: String,
    pub labels: BTreeMap<String, String>,
    pub ports: Vec<PortMapping>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// Port inside the container.
    pub private: u16,
    /// Port published on the host, if any.
    pub public: Option<u16>,
    /// `tcp` or `udp`.
    pub protocol: String,
    /// Host address it is published on, if any.
    pub ip: Option<String>,
}

/// The parts of `GET /containers/{id}/json` that probes and discovery use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerDetails {
    pub id: String,
    pub name: String,
    pub image: String,
    pub state: ContainerState,
    pub restart_count: i64,
    pub tty: bool,
    pub labels: BTreeMap<String, String>,
    /// `no`, `always`, `unless-stopped`, `on-failure`.
    pub restart_policy: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerState {
    pub status: String,
    pub running: bool,
    pub restarting: bool,
    pub oom_killed: bool,
    pub exit_code: i64,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    /// `healthy`, `unhealthy`, `starting`, or `none` without a health check.
    pub health: String,
    pub failing_streak: i64,
    /// Output of the last health check run, if any.
    pub health_output: Option<String>,
}

/// A Docker Engine reached through a unix socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Docker {
    socket: PathBuf,
}

impl Docker {
    /// `DOCKER_HOST=unix://PATH`, else [`DEFAULT_SOCKET`].
    pub fn from_env() -> Result<Docker, DockerError> {
        Docker::from_host(std::env::var("DOCKER_HOST").ok().as_deref())
    }

    /// As [`Docker::from_env`] with `DOCKER_HOST` given.
    pub fn from_host(host: Option<&str>) -> Result<Docker, DockerError> {
        match host.map(str::trim) {
            None | Some("") => Ok(Docker::at(DEFAULT_SOCKET)),
            Some(h) => match h.strip_prefix("unix://") {
                Some(path) if !path.is_empty() => Ok(Docker::at(path)),
                _ => Err(DockerError::UnsupportedHost(h.to_owned())),
            },
        }
    }

    pub fn at(socket: impl AsRef<Path>) -> Docker {
        Docker {
            socket: socket.as_ref().to_path_buf(),
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Every container (`all`: stopped ones too).
    pub async fn list_containers(&self, all: bool) -> Result<Vec<ContainerSummary>, DockerError> {
        let path = format!("/containers/json?all={}", u8::from(all));
        let raw: Vec<wire::Summary> = self.get_json(&path).await?;
        Ok(raw.into_iter().map(wire::Summary::into_domain).collect())
    }

    /// One container by name or id.
    pub async fn inspect(&self, container: &str) -> Result<ContainerDetails, DockerError> {
        let path = format!("/containers/{}/json", encode(container));
        let raw: wire::Inspect = self.get_json(&path).await?;
        Ok(raw.into_domain())
    }

    /// The last `tail` lines of stdout and stderr, interleaved as written.
    pub async fn logs(
        &self,
        container: &str,
        tail: usize,
        tty: bool,
    ) -> Result<Vec<String>, DockerError> {
        let path = format!(
            "/containers/{}/logs?stdout=1&stderr=1&tail={tail}",
            encode(container)
        );
        let raw = self.get(&path).await?;
        let text = if tty { raw.to_vec() } else { demultiplex(&raw) };
        Ok(String::from_utf8_lossy(&text)
            .lines()
            .map(str::to_owned)
            .collect())
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, DockerError> {
        let body = self.get(path).await?;
        serde_json::from_slice(&body).map_err(|e| DockerError::Decode {
            path: path.to_owned(),
            reason: e.to_string(),
        })
    }

    async fn get(&self, path: &str) -> Result<Bytes, DockerError> {
        let unavailable = |reason: String| DockerError::Unavailable {
            socket: self.socket.display().to_string(),
            reason,
        };
        let stream = UnixStream::connect(&self.socket)
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let driver = tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "docker connection ended");
            }
        });
        let request = Request::get(path)
            .header(hyper::header::HOST, "docker")
            .body(Empty::<Bytes>::new())
            .map_err(|e| DockerError::Decode {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        let result = async {
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| unavailable(e.to_string()))?;
            let status = response.status();
            let body = Limited::new(response.into_body(), REPLY_LIMIT)
                .collect()
                .await
                .map_err(|e| DockerError::Decode {
                    path: path.to_owned(),
                    reason: e.to_string(),
                })?
                .to_bytes();
            Ok::<_, DockerError>((status, body))
        }
        .await;
        driver.abort();
        let (status, body) = result?;
        if status.is_success() {
            return Ok(body);
        }
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_owned());
        if status == StatusCode::NOT_FOUND && message.contains("No such container") {
            return Err(DockerError::NotFound(message));
        }
        Err(DockerError::Api {
            status: status.as_u16(),
            path: path.to_owned(),
            message,
        })
    }
}

/// Containers of the engine named by `DOCKER_HOST` (or the default socket), stopped ones too.
pub async fn list_containers() -> Result<Vec<ContainerSummary>, DockerError> {
    Docker::from_env()?.list_containers(true).await
}

/// One container of the engine named by `DOCKER_HOST` (or the default socket).
pub async fn inspect(container: &str) -> Result<ContainerDetails, DockerError> {
    Docker::from_env()?.inspect(container).await
}

/// Path-segment encoding for container names and ids.
fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Joins the payloads of the engine's log frames: an 8-byte header (stream, 0, 0,
/// 0, big-endian length) before each. A malformed tail is kept as text.
pub fn demultiplex(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while rest.len() >= 8 {
        let header = &rest[..8];
        if header[0] > 2 || header[1..4] != [0, 0, 0] {
            break;
        }
        let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let end = (8 + len).min(rest.len());
        out.extend_from_slice(&rest[8..end]);
        rest = &rest[end..];
    }
    out.extend_from_slice(rest);
    out
}

/// The engine's JSON, converted to the types above at this edge.
mod wire {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    pub struct Summary {
        id: String,
        #[serde(default)]
        names: Vec<String>,
        #[serde(default)]
        image: String,
        #[serde(default)]
        state: String,
        #[serde(default)]
        status: String,
        #[serde(default)]
        labels: Option<BTreeMap<String, String>>,
        #[serde(default)]
        ports: Vec<Port>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Port {
        #[serde(rename = "IP", default)]
        ip: Option<String>,
        private_port: u16,
        #[serde(default)]
        public_port: Option<u16>,
        #[serde(rename = "Type", default)]
        protocol: String,
    }

    impl Summary {
        pub fn into_domain(self) -> super::ContainerSummary {
            let name = self
                .names
                .first()
                .map(|n| n.trim_start_matches('/').to_owned())
                .unwrap_or_else(|| self.id.chars().take(12).collect());
            super::ContainerSummary {
                name,
                id: self.id,
                image: self.image,
                state: self.state,
                status: self.status,
                labels: self.labels.unwrap_or_default(),
                ports: self
                    .ports
                    .into_iter()
                    .map(|p| super::PortMapping {
                        private: p.private_port,
                        public: p.public_port,
                        protocol: p.protocol,
                        ip: p.ip.filter(|i| !i.is_empty()),
                    })
                    .collect(),
            }
        }
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    pub struct Inspect {
        id: String,
        #[serde(default)]
        name: String,
        #[serde(default)]
        restart_count: i64,
        state: State,
        #[serde(default)]
        config: Option<Config>,
        #[serde(default)]
        host_config: Option<HostConfig>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct State {
        #[serde(default)]
        status: String,
        #[serde(default)]
        running: bool,
        #[serde(default)]
        restarting: bool,
        #[serde(rename = "OOMKilled", default)]
        oom_killed: bool,
        #[serde(default)]
        exit_code: i64,
        #[serde(default)]
        error: String,
        #[serde(default)]
        started_at: String,
        #[serde(default)]
        finished_at: String,
        #[serde(default)]
        health: Option<Health>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Health {
        #[serde(default)]
        status: String,
        #[serde(default)]
        failing_streak: i64,
        #[serde(default)]
        log: Option<Vec<HealthLog>>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct HealthLog {
        #[serde(default)]
        output: String,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Config {
        #[serde(default)]
        image: String,
        #[serde(default)]
        tty: bool,
        #[serde(default)]
        labels: Option<BTreeMap<String, String>>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct HostConfig {
        #[serde(default)]
        restart_policy: Option<RestartPolicy>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct RestartPolicy {
        #[serde(default)]
        name: String,
    }

    impl Inspect {
        pub fn into_domain(self) -> super::ContainerDetails {
            let health = self.state.health;
            let config = self.config;
            let restart_policy = self
                .host_config
                .and_then(|h| h.restart_policy)
                .map(|p| p.name)
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "no".to_owned());
            super::ContainerDetails {
                id: self.id,
                name: self.name.trim_start_matches('/').to_owned(),
                image: config.as_ref().map(|c| c.image.clone()).unwrap_or_default(),
                restart_count: self.restart_count,
                tty: config.as_ref().is_some_and(|c| c.tty),
                labels: config.and_then(|c| c.labels).unwrap_or_default(),
                restart_policy,
                state: super::ContainerState {
                    status: self.state.status,
                    running: self.state.running,
                    restarting: self.state.restarting,
                    oom_killed: self.state.oom_killed,
                    exit_code: self.state.exit_code,
                    error: self.state.error,
                    started_at: self.state.started_at,
                    finished_at: self.state.finished_at,
                    health: health
                        .as_ref()
                        .map(|h| h.status.clone())
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| "none".to_owned()),
                    failing_streak: health.as_ref().map_or(0, |h| h.failing_streak),
                    health_output: health
                        .and_then(|h| h.log)
                        .and_then(|l| l.last().map(|e| e.output.trim().to_owned())),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demultiplexes_log_frames() {
        let mut raw = vec![1, 0, 0, 0, 0, 0, 0, 4];
        raw.extend_from_slice(b"out\n");
        raw.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 4]);
        raw.extend_from_slice(b"err\n");
        assert_eq!(demultiplex(&raw), b"out\nerr\n");
        assert_eq!(demultiplex(b"plain text\n"), b"plain text\n");
        // a frame cut short keeps what arrived
        assert_eq!(demultiplex(&[1, 0, 0, 0, 0, 0, 0, 9, b'a', b'b']), b"ab");
    }

    #[test]
    fn reads_docker_host() {
        assert_eq!(
            Docker::from_host(None).ok(),
            Some(Docker::at(DEFAULT_SOCKET))
        );
        assert_eq!(
            Docker::from_host(Some("unix:///run/user/1000/docker.sock")).ok(),
            Some(Docker::at("/run/user/1000/docker.sock"))
        );
        assert!(matches!(
            Docker::from_host(Some("tcp://192.0.2.1:2375")),
            Err(DockerError::UnsupportedHost(_))
        ));
        assert_eq!(encode("web_1.a-b"), "web_1.a-b");
        assert_eq!(encode("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn converts_the_engine_json() {
        let json = serde_json::json!({
            "Id": "abc", "Name": "/web", "RestartCount": 2,
            "State": {"Status": "running", "Running": true, "Restarting": false, "OOMKilled": false,
                      "ExitCode": 0, "Error": "", "StartedAt": "t", "FinishedAt": "",
                      "Health": {"Status": "unhealthy", "FailingStreak": 3,
                                 "Log": [{"Output": "first"}, {"Output": "last\n"}]}},
            "Config": {"Image": "nginx", "Tty": false, "Labels": {"a": "b"}},
            "HostConfig": {"RestartPolicy": {"Name": "always"}}
        });
        let raw: wire::Inspect = serde_json::from_value(json).expect("parses");
        let d = raw.into_domain();
        assert_eq!(d.name, "web");
        assert_eq!(d.state.health, "unhealthy");
        assert_eq!(d.state.health_output.as_deref(), Some("last"));
        assert_eq!(d.restart_policy, "always");
        assert_eq!(d.labels.get("a").map(String::as_str), Some("b"));
        let list = serde_json::json!([{ "Id": "abc", "Names": ["/web"], "Image": "nginx",
            "State": "running", "Status": "Up", "Labels": null,
            "Ports": [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
                      {"PrivatePort": 443, "Type": "tcp"}] }]);
        let raw: Vec<wire::Summary> = serde_json::from_value(list).expect("parses");
        let s = raw
            .into_iter()
            .map(wire::Summary::into_domain)
            .collect::<Vec<_>>();
        assert_eq!(s[0].name, "web");
        assert_eq!(s[0].ports[0].public, Some(8080));
        assert_eq!(s[0].ports[1].public, None);
        assert!(s[0].labels.is_empty());
    }
}
