//! The probe kinds, a closed enum dispatched by `match`; one file per kind.
//! Every attempt opens a fresh connection: that is what a health probe checks.

use std::time::Duration;

use crate::condition::{Condition, Placeholder};
use crate::observation::Observation;
use crate::probe::{Ctx, Probe, ProbeKind, SpecError};
use crate::spec::ProbeSpec;

pub(crate) mod container;
pub(crate) mod dns;
pub(crate) mod http;
pub(crate) mod redis;
pub(crate) mod service_api;
pub(crate) mod sql;
pub(crate) mod tcp;
pub(crate) mod tls;

#[derive(Debug)]
pub(crate) enum Kind {
    Http(http::HttpTarget),
    Tcp(tcp::TcpTarget),
    Tls(tls::TlsTarget),
    Dns(dns::DnsTarget),
    Docker(container::DockerTarget),
    Postgres(sql::PgTarget),
    Mysql(sql::MySqlTarget),
    Redis(redis::RedisTarget),
}

const SCHEMES: &str = "http, https, tcp, tls, dns, docker, postgres, mysql, mariadb, redis";

impl Kind {
    pub fn kind(&self) -> ProbeKind {
        match self {
            Kind::Http(_) => ProbeKind::Http,
            Kind::Tcp(_) => ProbeKind::Tcp,
            Kind::Tls(_) => ProbeKind::Tls,
            Kind::Dns(_) => ProbeKind::Dns,
            Kind::Docker(_) => ProbeKind::Docker,
            Kind::Postgres(_) => ProbeKind::Postgres,
            Kind::Mysql(_) => ProbeKind::Mysql,
            Kind::Redis(_) => ProbeKind::Redis,
        }
    }

    /// Whether this particular target can fill `p` (plain `http://` has no certificate).
    pub fn fills(&self, p: Placeholder) -> bool {
        match self {
            Kind::Http(t) => p != Placeholder::CertificateExpiration || t.is_https(),
            _ => true,
        }
    }

    pub fn with_conditions(self, conditions: &[Condition]) -> Kind {
        let reads = |p| conditions.iter().any(|c| c.placeholders().contains(&p));
        match self {
            Kind::Http(mut t) => {
                t.check_certificate = reads(Placeholder::CertificateExpiration);
                Kind::Http(t)
            }
            other => other,
        }
    }

    pub async fn observe(&self, probe: &Probe, timeout: Duration) -> Observation {
        match self {
            Kind::Http(t) => http::observe(t).await,
            Kind::Tcp(t) => tcp::observe(t).await,
            Kind::Tls(t) => tls::observe(t).await,
            Kind::Dns(t) => dns::observe(t, timeout).await,
            Kind::Docker(t) => container::observe(t, probe).await,
            Kind::Postgres(t) => sql::observe_postgres(t).await,
            Kind::Mysql(t) => sql::observe_mysql(t).await,
            Kind::Redis(t) => redis::observe(t).await,
        }
    }
}

/// Picks the kind from the url's scheme and compiles its target. Returns the kind
/// and the expanded values that identify it.
pub(crate) fn compile(
    ctx: &mut Ctx<'_>,
    spec: &ProbeSpec,
) -> Result<(Kind, Vec<String>), SpecError> {
    let raw = spec.url.trim();
    let Some((scheme, _)) = raw.split_once("://") else {
        return Err(ctx.error(
            "url",
            format!("has no scheme; start it with one of {SCHEMES} followed by `://`"),
        ));
    };
    let scheme = scheme.to_ascii_lowercase();
    let is_http = matches!(scheme.as_str(), "http" | "https");
    let only = |field: &str, set: bool, allowed: bool, kinds: &str| {
        if set && !allowed {
            Err(ctx.error(
                field,
                format!("applies to {kinds} probes only; remove it or change the url"),
            ))
        } else {
            Ok(())
        }
    };
    only("method", spec.method.is_some(), is_http, "HTTP")?;
    only("headers", !spec.headers.is_empty(), is_http, "HTTP")?;
    only("body", spec.body.is_some(), is_http, "HTTP")?;
    only("service-api", spec.service_api.is_some(), is_http, "HTTP")?;
    only("dns", spec.dns.is_some(), scheme == "dns", "dns://")?;
    let tls_like = is_http || scheme == "tls";
    only("client", spec.client.is_some(), tls_like, "HTTP and tls://")?;

    let url = ctx.expand("url", raw)?;
    let mut expanded = vec![url.clone()];
    let kind = match ProbeKind::from_scheme(&scheme) {
        Some(ProbeKind::Http) => {
            let target = http::compile(ctx, spec, &url)?;
            expanded.extend(target.identity());
            Kind::Http(target)
        }
        Some(ProbeKind::Tcp) => Kind::Tcp(tcp::compile(ctx, &url)?),
        Some(ProbeKind::Tls) => Kind::Tls(tls::compile(ctx, spec, &url)?),
        Some(ProbeKind::Dns) => Kind::Dns(dns::compile(ctx, spec, &url)?),
        Some(ProbeKind::Docker) => Kind::Docker(container::compile(ctx, &url)?),
        Some(ProbeKind::Postgres) => Kind::Postgres(sql::compile_postgres(ctx, &url)?),
        Some(ProbeKind::Mysql) => Kind::Mysql(sql::compile_mysql(ctx, &url)?),
        Some(ProbeKind::Redis) => Kind::Redis(redis::compile(ctx, &url)?),
        None if scheme == "rediss" => {
            return Err(ctx.error(
                "url",
                "`rediss://` (Redis over TLS) is not supported; probe the port with `tls://host:port`",
            ));
        }
        None => {
            return Err(ctx.error(
                "url",
                format!("scheme `{scheme}` is not a probe kind; use one of {SCHEMES}"),
            ));
        }
    };
    Ok((kind, expanded))
}

/// Host and port of `scheme://host:port`, with the port required unless a default is given.
pub(crate) fn host_port(
    ctx: &mut Ctx<'_>,
    url: &str,
    default_port: Option<u16>,
) -> Result<(String, u16, reqwest::Url), SpecError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| ctx.error("url", format!("is not a valid url ({e})")))?;
    if let Some(pw) = parsed.password() {
        let decoded = percent_decode(pw);
        ctx.secret(pw);
        ctx.secret(&decoded);
    }
    let host = match parsed.host_str() {
        Some(h) if !h.is_empty() => h.trim_start_matches('[').trim_end_matches(']').to_owned(),
        _ => return Err(ctx.error("url", "names no host; write e.g. `tcp://db.lan:5432`")),
    };
    let port = parsed.port().or(default_port).ok_or_else(|| {
        ctx.error(
            "url",
            format!(
                "names no port; write e.g. `{}://{host}:443`",
                parsed.scheme()
            ),
        )
    })?;
    Ok((host, port, parsed))
}

/// `%xx` decoding for credentials in urls.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An error and its causes on one line, without repeats.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}
