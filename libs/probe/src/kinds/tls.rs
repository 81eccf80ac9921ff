//! `tls://host:port`: a TLS handshake that records the peer's leaf certificate
//! (even an expired or untrusted one) and reports the time left on it.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls_pki_types::ServerName;
use tokio_rustls::TlsConnector;

use super::{host_port, tcp};
use crate::observation::Observation;
use crate::probe::{Ctx, SpecError};
use crate::spec::ProbeSpec;
use crate::tls_config::{self, Verifier};

#[derive(Debug)]
pub(crate) struct TlsTarget {
    pub host: String,
    pub port: u16,
    pub insecure: bool,
}

pub(crate) fn compile(
    ctx: &mut Ctx<'_>,
    spec: &ProbeSpec,
    url: &str,
) -> Result<TlsTarget, SpecError> {
    let (host, port, _) = host_port(ctx, url, None)?;
    server_name(&host).map_err(|e| ctx.error("url", e))?;
    Ok(TlsTarget {
        host,
        port,
        insecure: spec.client.as_ref().is_some_and(|c| c.insecure),
    })
}

fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(host.to_owned())
        .map_err(|_| format!("`{host}` is neither a DNS name nor an IP address"))
}

/// What a handshake showed.
#[derive(Debug, Default)]
pub(crate) struct Handshake {
    pub connected: bool,
    pub ip: Option<String>,
    pub error: Option<String>,
    pub certificate: Option<CertificateFacts>,
}

#[derive(Debug, Clone)]
pub(crate) struct CertificateFacts {
    pub subject: String,
    pub issuer: String,
    pub names: Vec<String>,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
}

impl CertificateFacts {
    /// Milliseconds left (negative once expired).
    pub fn remaining_ms(&self, now: SystemTime) -> f64 {
        match self.not_after.duration_since(now) {
            Ok(left) => left.as_secs_f64() * 1000.0,
            Err(past) => -(past.duration().as_secs_f64() * 1000.0),
        }
    }

    /// "expires in 12d 3h (2026-12-11T...)" or "expired 3d 1h ago".
    pub fn describe(&self, now: SystemTime) -> String {
        let left = self.remaining_ms(now);
        let when = humantime::format_rfc3339_seconds(self.not_after);
        let span = crate::attempt::span(left.abs());
        if left >= 0.0 {
            format!("certificate of {} expires in {span} ({when})", self.subject)
        } else {
            format!(
                "certificate of {} expired {span} ago ({when})",
                self.subject
            )
        }
    }

    pub fn evidence(&self) -> String {
        format!(
            "subject: {}\nissuer: {}\nnames: {}\nnot before: {}\nnot after: {}\n",
            self.subject,
            self.issuer,
            self.names.join(", "),
            humantime::format_rfc3339_seconds(self.not_before),
            humantime::format_rfc3339_seconds(self.not_after),
        )
    }
}

fn parse_certificate(der: &[u8]) -> Option<CertificateFacts> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let time = |t: i64| UNIX_EPOCH + Duration::from_secs(u64::try_from(t).unwrap_or(0));
    let validity = cert.validity();
    let names = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|ext| {
            ext.value
                .general_names
                .iter()
                .map(|n| match n {
                    x509_parser::extensions::GeneralName::DNSName(d) => (*d).to_owned(),
                    x509_parser::extensions::GeneralName::IPAddress(ip) => format_ip(ip),
                    other => other.to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    Some(CertificateFacts {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        names,
        not_before: time(validity.not_before.timestamp()),
        not_after: time(validity.not_after.timestamp()),
    })
}

fn format_ip(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => {
            let b: [u8; 4] = [bytes[0], bytes[1], bytes[2], bytes[3]];
            std::net::Ipv4Addr::from(b).to_string()
        }
        16 => {
            let mut b = [0u8; 16];
            b.copy_from_slice(bytes);
            std::net::Ipv6Addr::from(b).to_string()
        }
        _ => format!("{bytes:?}"),
    }
}

/// Connects and shakes hands; the caller bounds the time.
pub(crate) async fn handshake(host: &str, port: u16, insecure: bool) -> Handshake {
    let mut out = Handshake::default();
    let verifier = match Verifier::new(insecure) {
        Ok(v) => Arc::new(v),
        Err(e) => {
            out.error = Some(e);
            return out;
        }
    };
    let config = match tls_config::client_config(verifier.clone(), &[]) {
        Ok(c) => c,
        Err(e) => {
            out.error = Some(e);
            return out;
        }
    };
    let name = match server_name(host) {
        Ok(n) => n,
        Err(e) => {
            out.error = Some(e);
            return out;
        }
    };
    let (stream, peer) = match tcp::connect(host, port).await {
        Ok(s) => s,
        Err(e) => {
            out.error = Some(e);
            return out;
        }
    };
    out.ip = Some(peer.ip().to_string());
    match TlsConnector::from(Arc::new(config))
        .connect(name, stream)
        .await
    {
        Ok(_) => out.connected = true,
        Err(e) => out.error = Some(format!("tls handshake with {host}:{port} failed: {e}")),
    }
    out.certificate = verifier.leaf().and_then(|der| parse_certificate(&der));
    out
}

pub(crate) async fn observe(t: &TlsTarget) -> Observation {
    let shake = handshake(&t.host, t.port, t.insecure).await;
    let now = SystemTime::now();
    let mut obs = Observation {
        connected: shake.connected,
        ip: shake.ip,
        error: shake.error,
        ..Observation::default()
    };
    match shake.certificate {
        Some(cert) => {
            obs.certificate_expiration_ms = Some(cert.remaining_ms(now));
            obs.summary = cert.describe(now);
            obs.evidence = cert.evidence();
        }
        None if obs.connected => obs.summary = "the server sent no certificate".to_owned(),
        None => {}
    }
    obs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_time_left() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let cert = CertificateFacts {
            subject: "CN=x".into(),
            issuer: "CN=ca".into(),
            names: vec!["x".into()],
            not_before: now - Duration::from_secs(86_400),
            not_after: now + Duration::from_secs(3 * 86_400 + 7200 + 5),
        };
        assert_eq!(cert.remaining_ms(now), (3.0 * 86_400.0 + 7205.0) * 1000.0);
        assert!(
            cert.describe(now).contains("expires in 3d 2h"),
            "{}",
            cert.describe(now)
        );
        let later = now + Duration::from_secs(5 * 86_400);
        assert!(cert.remaining_ms(later) < 0.0);
        assert!(
            cert.describe(later).contains("expired 1d 21h ago"),
            "{}",
            cert.describe(later)
        );
    }
}
