//! The probe spec: what an operator writes in `.claude-ops/probes/*.yaml` and what
//! discovery produces. Its shape follows Gatus endpoints (a `url` whose scheme picks
//! the kind, plus `conditions`), so Gatus users can carry theirs over.
//!
//! Plain data with serde: validating a spec against what its kind can do, and
//! expanding its `${VAR}` references, is `claudeops-probe`'s compile step.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Default attempts that must fail in a row before a probe is down.
pub const DEFAULT_FAILURE_THRESHOLD: u32 = 3;
/// Default attempts that must succeed in a row before a down probe is up again.
pub const DEFAULT_SUCCESS_THRESHOLD: u32 = 2;
/// Default time between attempts.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);
/// Default time one attempt may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// One probe as written or discovered.
///
/// The kind comes from the scheme of `url`:
/// `http://`, `https://` (HTTP); `tcp://host:port`; `tls://host:port` (certificate
/// expiry); `dns://server:port` with `dns:` (a query); `docker://container`;
/// `postgres://`, `redis://`, `mysql://` (or `mariadb://`). A `service-api:` block
/// turns an HTTP probe into a homelab API probe (Sonarr, Radarr, ...).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ProbeSpec {
    /// Unique within a site, e.g. `sonarr-health`.
    pub name: String,
    /// The service the probe belongs to; incidents group by it.
    #[serde(default)]
    pub service: String,
    pub url: String,
    /// HTTP method; GET when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// For `dns://` probes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<DnsQuery>,
    /// For homelab service APIs: which application, and the environment variable
    /// holding its API key (the key itself never sits in a file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_api: Option<ServiceApi>,
    /// Client options, as Gatus writes them: `client: { insecure: true }` accepts
    /// any certificate (self-signed homelab certificates) on `https://` and `tls://`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientOptions>,
    /// Gatus-style conditions, all of which must hold, e.g. `[STATUS] == 200`.
    /// Empty means the kind's default (see `docs/probes.md`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<String>,
    #[serde(
        default,
        with = "opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub interval: Option<Duration>,
    #[serde(
        default,
        with = "opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_threshold: Option<u32>,
    /// Where the spec came from (filled in by discovery, never read from YAML).
    #[serde(skip)]
    pub source: Source,
}

impl ProbeSpec {
    pub fn interval(&self) -> Duration {
        self.interval.unwrap_or(DEFAULT_INTERVAL)
    }
    pub fn timeout(&self) -> Duration {
        self.timeout.unwrap_or(DEFAULT_TIMEOUT)
    }
    pub fn failure_threshold(&self) -> u32 {
        self.failure_threshold
            .unwrap_or(DEFAULT_FAILURE_THRESHOLD)
            .max(1)
    }
    pub fn success_threshold(&self) -> u32 {
        self.success_threshold
            .unwrap_or(DEFAULT_SUCCESS_THRESHOLD)
            .max(1)
    }
}

/// A DNS query, as in Gatus: `query-type` is A, AAAA or CNAME.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DnsQuery {
    pub query_name: String,
    #[serde(default = "default_query_type")]
    pub query_type: String,
}

fn default_query_type() -> String {
    "A".to_owned()
}

/// A homelab application's health API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ServiceApi {
    /// `sonarr`, `radarr`, `prowlarr`, `lidarr`, `readarr`, `bazarr`, `jellyfin`, ...
    pub app: String,
    /// The environment variable that holds the API key, e.g. `SONARR_API_KEY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
}

/// Client options of HTTP and TLS probes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ClientOptions {
    /// Skip certificate verification (expiry is still reported).
    #[serde(default)]
    pub insecure: bool,
}

/// Where a spec came from, for events and the inventory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Source {
    /// Written in a file (a `.claude-ops/probes/*.yaml`, a manifest, a compose file).
    File { path: String, line: u32 },
    /// Derived from a container on the local Docker Engine.
    Container { name: String },
    /// Sent by the control plane or built in.
    #[default]
    Builtin,
}

/// `30s`, `5m`, `1h30m` (humantime), as Gatus writes durations.
mod opt_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => s.serialize_str(&humantime::format_duration(*d).to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| humantime::parse_duration(t.trim()).map_err(serde::de::Error::custom))
            .transpose()
    }
}
