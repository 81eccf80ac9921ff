//! Where answers come from: the Messages API (or the operator's gateway) and
//! the one HTTP client that reaches it.
//!
//! The client is reqwest over rustls with ring and the Mozilla roots, built here
//! from an explicit `ClientConfig` so nothing depends on a process-wide crypto
//! provider. reqwest over hyper's bare client because it already does what a
//! forwarder needs (connection pooling, HTTP/2 by ALPN, connect and read
//! timeouts, streaming bodies) and the workspace already builds it. It follows
//! no redirect and uses no proxy from the environment: the key goes to the
//! configured base URL and nowhere else.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, Url};

use crate::ProxyError;

/// The Messages API's address.
pub const ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com";

/// The upstream the proxy forwards to, and the credentials it adds.
#[derive(Clone)]
pub struct Upstream {
    /// `https://api.anthropic.com`, or a gateway such as a LiteLLM
    /// (`http://...` is accepted); a path prefix is kept.
    pub base_url: String,
    /// Sent as `x-api-key`.
    pub api_key: Option<String>,
    /// Sent as `Authorization: Bearer`, for gateways that want it.
    pub auth_token: Option<String>,
    /// How long to wait for a connection to the upstream.
    pub connect_timeout: Duration,
    /// The longest silence allowed from the upstream: before the answer's
    /// headers, and between two chunks of its body.
    pub idle_timeout: Duration,
}

impl Default for Upstream {
    fn default() -> Upstream {
        Upstream {
            base_url: ANTHROPIC_BASE_URL.to_owned(),
            api_key: None,
            auth_token: None,
            connect_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(600),
        }
    }
}

impl fmt::Debug for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("Upstream")
            .field("base_url", &origin_of(&self.base_url))
            .field("api_key", &redact(&self.api_key))
            .field("auth_token", &redact(&self.auth_token))
            .field("connect_timeout", &self.connect_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .finish()
    }
}

/// The base URL without user info, path or query: safe to show.
fn origin_of(base_url: &str) -> String {
    Url::parse(base_url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| "<unparsable>".to_owned())
}

/// The ready client for one upstream (also the control plane's, for the
/// alert brief and the model list).
pub struct UpstreamClient {
    pub client: Client,
    /// The base URL without a trailing slash; paths are appended to it.
    base: String,
    /// For messages: scheme, host and port only.
    pub origin: String,
    /// The credentials, marked sensitive.
    pub auth: HeaderMap,
    pub connect_timeout: Duration,
    pub idle_timeout: Duration,
}

impl UpstreamClient {
    pub fn new(upstream: &Upstream) -> Result<UpstreamClient, ProxyError> {
        let url = Url::parse(&upstream.base_url).map_err(|e| ProxyError::BaseUrl {
            reason: e.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ProxyError::BaseUrl {
                reason: format!("the scheme is {:?}, not http or https", url.scheme()),
            });
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ProxyError::BaseUrl {
                reason: "it has a query or a fragment".to_owned(),
            });
        }
        let mut auth = HeaderMap::new();
        if let Some(key) = &upstream.api_key {
            auth.insert(
                HeaderName::from_static("x-api-key"),
                secret(key, "api key")?,
            );
        }
        if let Some(token) = &upstream.auth_token {
            auth.insert(
                AUTHORIZATION,
                secret(&format!("Bearer {token}"), "auth token")?,
            );
        }
        let client = Client::builder()
            .tls_backend_preconfigured(tls_config()?)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(upstream.connect_timeout)
            .read_timeout(upstream.idle_timeout)
            .build()
            .map_err(|e| ProxyError::Client(describe(&e)))?;
        Ok(UpstreamClient {
            client,
            base: upstream.base_url.trim_end_matches('/').to_owned(),
            origin: url.origin().ascii_serialization(),
            auth,
            connect_timeout: upstream.connect_timeout,
            idle_timeout: upstream.idle_timeout,
        })
    }

    /// A request to the upstream's `path_and_query`, with its credentials.
    pub fn request(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
    ) -> Result<reqwest::RequestBuilder, String> {
        let url = self.url(path_and_query)?;
        Ok(self.client.request(method, url).headers(self.auth.clone()))
    }

    /// The upstream URL for a request's path and query.
    pub fn url(&self, path_and_query: &str) -> Result<Url, String> {
        Url::parse(&format!("{}{path_and_query}", self.base)).map_err(|e| e.to_string())
    }
}

fn secret(value: &str, what: &str) -> Result<HeaderValue, ProxyError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| ProxyError::Credential {
        what: what.to_owned(),
    })?;
    v.set_sensitive(true);
    Ok(v)
}

fn tls_config() -> Result<rustls::ClientConfig, ProxyError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ProxyError::Client(format!("cannot configure tls: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// A reqwest error without its URL (which could carry user info), with its
/// causes.
pub fn describe(e: &reqwest::Error) -> String {
    let mut parts = vec![first_words(&e.to_string())];
    let mut next = std::error::Error::source(e);
    while let Some(err) = next {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = err.source();
    }
    parts.join(": ")
}

/// reqwest writes "error sending request for url (URL)": keep the words before
/// the URL.
fn first_words(text: &str) -> String {
    match text.find(" for url (") {
        Some(i) => text[..i].to_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_base_urls_are_refused_without_echoing_them() {
        let cases = [
            ("not a url", "relative URL"),
            ("ftp://example.invalid", "not http or https"),
            ("https://example.invalid/?k=secret", "query"),
        ];
        for (base, want) in cases {
            let upstream = Upstream {
                base_url: base.to_owned(),
                ..Upstream::default()
            };
            let message = match UpstreamClient::new(&upstream) {
                Ok(_) => panic!("{base} was accepted"),
                Err(e) => e.to_string(),
            };
            assert!(message.contains(want), "{message}");
            assert!(!message.contains("secret"), "{message}");
        }
    }

    #[test]
    fn a_credential_that_is_no_header_value_is_named_not_shown() {
        let upstream = Upstream {
            api_key: Some("sk-bad\nkey".to_owned()),
            ..Upstream::default()
        };
        let message = match UpstreamClient::new(&upstream) {
            Ok(_) => panic!("accepted"),
            Err(e) => e.to_string(),
        };
        assert!(message.contains("api key"), "{message}");
        assert!(!message.contains("sk-bad"), "{message}");
    }

    #[test]
    fn urls_keep_the_base_path_and_debug_hides_secrets() {
        let upstream = Upstream {
            base_url: "http://user:pw@gateway.invalid:4000/anthropic/".to_owned(),
            api_key: Some("sk-real".to_owned()),
            auth_token: Some("tok-real".to_owned()),
            ..Upstream::default()
        };
        let client = UpstreamClient::new(&upstream).unwrap_or_else(|e| panic!("{e}"));
        let url = client
            .url("/v1/messages?beta=true")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(url.path(), "/anthropic/v1/messages");
        assert_eq!(url.query(), Some("beta=true"));
        assert_eq!(client.origin, "http://gateway.invalid:4000");
        let debug = format!("{upstream:?}");
        for secret in ["sk-real", "tok-real", "pw"] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }
}
