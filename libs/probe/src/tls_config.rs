//! Every rustls configuration a probe uses to reach third-party servers, and
//! nothing else builds one here. (The project's own links are configured in
//! `claudeops-pki`; probes check other people's servers, against the Mozilla
//! roots from `webpki-roots`, or accept anything when a spec says `insecure`.)
//!
//! Ring is the only crypto provider, passed explicitly, so nothing depends on a
//! process-wide default. The verifier records the peer's leaf certificate before
//! it judges it, so an expired or untrusted certificate still reports its dates.

use std::sync::{Arc, Mutex, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

fn webpki_verifier() -> Result<Arc<WebPkiServerVerifier>, String> {
    static VERIFIER: OnceLock<Result<Arc<WebPkiServerVerifier>, String>> = OnceLock::new();
    VERIFIER
        .get_or_init(|| {
            let mut roots = RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .map_err(|e| format!("cannot build the certificate verifier: {e}"))
        })
        .clone()
}

/// Verifies against the web roots (or accepts anything when insecure), recording
/// the leaf certificate first.
#[derive(Debug)]
pub(crate) struct Verifier {
    inner: Option<Arc<WebPkiServerVerifier>>,
    algorithms: WebPkiSupportedAlgorithms,
    /// `None` when nobody reads the certificate (the shared HTTP clients).
    leaf: Option<Mutex<Option<CertificateDer<'static>>>>,
}

impl Verifier {
    /// A verifier that records the leaf certificate.
    pub fn new(insecure: bool) -> Result<Verifier, String> {
        let mut v = Verifier::without_record(insecure)?;
        v.leaf = Some(Mutex::new(None));
        Ok(v)
    }

    fn without_record(insecure: bool) -> Result<Verifier, String> {
        let inner = if insecure {
            None
        } else {
            Some(webpki_verifier()?)
        };
        Ok(Verifier {
            inner,
            algorithms: provider().signature_verification_algorithms,
            leaf: None,
        })
    }

    /// The leaf certificate the peer presented, if the handshake got that far.
    pub fn leaf(&self) -> Option<CertificateDer<'static>> {
        self.leaf.as_ref().and_then(|cell| {
            cell.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone()
        })
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(cell) = &self.leaf {
            *cell
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) =
                Some(end_entity.clone().into_owned());
        }
        match &self.inner {
            Some(v) => {
                v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            None => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A client config around `verifier`, TLS 1.2 and 1.3, with the given ALPN ids.
pub(crate) fn client_config(
    verifier: Arc<Verifier>,
    alpn: &[&[u8]],
) -> Result<ClientConfig, String> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot configure tls: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|a| a.to_vec()).collect();
    // A probe checks the full handshake every time.
    config.resumption = rustls::client::Resumption::disabled();
    Ok(config)
}

/// The config of the shared HTTP clients.
pub(crate) fn http_config(insecure: bool) -> Result<ClientConfig, String> {
    client_config(
        Arc::new(Verifier::without_record(insecure)?),
        &[b"http/1.1"],
    )
}
