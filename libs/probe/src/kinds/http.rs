//! `http://` and `https://`: one request on a fresh connection (the shared clients
//! keep no idle connections), with status, body, JSON and latency conditions.
//! A `service-api:` block points the request at a homelab app's health endpoint.

use std::sync::OnceLock;
use std::time::SystemTime;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, Method, Url};

use super::service_api::{self, App};
use super::{error_chain, percent_decode, tls};
use crate::attempt;
use crate::observation::Observation;
use crate::probe::{Ctx, SpecError};
use crate::spec::ProbeSpec;

/// Bodies are read up to this size; conditions see at most this much.
const BODY_LIMIT: usize = 4 << 20;
/// Body bytes kept as evidence.
const EVIDENCE_BODY: usize = 1536;

#[derive(Debug)]
pub(crate) struct HttpTarget {
    pub url: Url,
    pub method: Method,
    pub headers: HeaderMap,
    pub body: Option<String>,
    pub insecure: bool,
    pub app: Option<App>,
    /// A condition reads [CERTIFICATE_EXPIRATION]: shake hands separately for it.
    pub check_certificate: bool,
}

impl HttpTarget {
    pub fn is_https(&self) -> bool {
        self.url.scheme() == "https"
    }

    /// Expanded header values, so a changed variable changes the probe.
    pub fn identity(&self) -> Vec<String> {
        self.headers
            .iter()
            .map(|(k, v)| format!("{k}: {}", String::from_utf8_lossy(v.as_bytes())))
            .collect()
    }
}

pub(crate) fn compile(
    ctx: &mut Ctx<'_>,
    spec: &ProbeSpec,
    url: &str,
) -> Result<HttpTarget, SpecError> {
    let mut url = Url::parse(url).map_err(|e| {
        ctx.error(
            "url",
            format!("is not a valid url ({e}); write e.g. `https://host:8443/health`"),
        )
    })?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ctx.error("url", "names no host"));
    }
    if let Some(pw) = url.password().map(str::to_owned) {
        ctx.secret(&pw);
        ctx.secret(&percent_decode(&pw));
    }
    let method = match spec.method.as_deref().map(str::trim) {
        None | Some("") => Method::GET,
        Some(m) => Method::from_bytes(m.to_ascii_uppercase().as_bytes()).map_err(|_| {
            ctx.error(
                "method",
                format!("`{m}` is not an HTTP method; use GET, POST, HEAD, ..."),
            )
        })?,
    };
    let mut headers = HeaderMap::new();
    for (name, value) in &spec.headers {
        let field = format!("headers.{name}");
        let header = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| ctx.error(&field, "is not a valid header name"))?;
        let value = ctx.expand(&field, value)?;
        let mut value = HeaderValue::from_str(&value).map_err(|_| {
            ctx.error(
                &field,
                "the value holds characters a header cannot carry (newlines, control characters)",
            )
        })?;
        value.set_sensitive(true);
        headers.insert(header, value);
    }
    let mut app = None;
    if let Some(api) = &spec.service_api {
        let chosen = service_api::compile(ctx, api)?;
        chosen.apply(&mut url, &mut headers);
        app = Some(chosen);
    }
    Ok(HttpTarget {
        url,
        method,
        headers,
        body: spec.body.clone(),
        insecure: spec.client.as_ref().is_some_and(|c| c.insecure),
        app,
        check_certificate: false,
    })
}

/// The two shared clients: verifying, and insecure. Neither keeps idle connections.
fn client(insecure: bool) -> Result<&'static Client, String> {
    static VERIFYING: OnceLock<Result<Client, String>> = OnceLock::new();
    static INSECURE: OnceLock<Result<Client, String>> = OnceLock::new();
    let cell = if insecure { &INSECURE } else { &VERIFYING };
    cell.get_or_init(|| {
        let tls = crate::tls_config::http_config(insecure)?;
        Client::builder()
            .tls_backend_preconfigured(tls)
            .pool_max_idle_per_host(0)
            .user_agent(concat!("claudeops-probe/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::limited(10))
            .build()
            .map_err(|e| format!("cannot build the http client: {}", error_chain(&e)))
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// One request; the attempt's timeout bounds it (reqwest needs no timer of its own).
pub(crate) async fn observe(t: &HttpTarget) -> Observation {
    let certificate = async {
        if t.check_certificate && t.is_https() {
            let host = t.url.host_str().unwrap_or_default();
            let port = t.url.port_or_known_default().unwrap_or(443);
            Some(tls::handshake(host, port, true).await)
        } else {
            None
        }
    };
    let (mut obs, shake) = tokio::join!(request(t), certificate);
    if let Some(cert) = shake.and_then(|s| s.certificate) {
        let now = SystemTime::now();
        obs.certificate_expiration_ms = Some(cert.remaining_ms(now));
        obs.summary = format!("{}; {}", obs.summary, cert.describe(now));
    }
    if let Some(app) = &t.app {
        app.judge(&mut obs);
    }
    obs
}

async fn request(t: &HttpTarget) -> Observation {
    let client = match client(t.insecure) {
        Ok(c) => c,
        Err(e) => return Observation::failed(e),
    };
    let mut request = client
        .request(t.method.clone(), t.url.clone())
        .headers(t.headers.clone());
    if let Some(body) = &t.body {
        request = request.body(body.clone());
    }
    let mut response = match request.send().await {
        Ok(r) => r,
        Err(e) => return Observation::failed(describe(&e)),
    };
    let status = response.status();
    let ip = response.remote_addr().map(|a| a.ip().to_string());
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mut bytes: Vec<u8> = Vec::new();
    let mut error = None;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = BODY_LIMIT.saturating_sub(bytes.len());
                bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if room <= chunk.len() {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                error = Some(format!("reading the body failed: {}", describe(&e)));
                break;
            }
        }
    }
    let body = String::from_utf8_lossy(&bytes).into_owned();
    let mut excerpt = body.clone();
    attempt::truncate(&mut excerpt, EVIDENCE_BODY);
    let reason = status.canonical_reason().unwrap_or("");
    Observation {
        connected: true,
        status: Some(status.as_u16()),
        ip,
        summary: format!("HTTP {} {reason}", status.as_u16())
            .trim_end()
            .to_owned(),
        evidence: format!("HTTP {status}\ncontent-type: {content_type}\n\n{excerpt}"),
        body: Some(body),
        error,
        ..Observation::default()
    }
}

/// A reqwest error without its url (which may hold a key), with its causes.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_redirect() {
        "too many redirects"
    } else {
        "request failed"
    };
    let mut chain = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !chain.contains(&text) {
            chain.push_str(": ");
            chain.push_str(&text);
        }
        source = s.source();
    }
    format!("{kind}{chain}")
}
