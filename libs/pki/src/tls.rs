//! Every rustls configuration of the project, and nothing else builds one.
//!
//! Why it exists: TLS settings scattered over crates drift apart (a forgotten
//! client-certificate requirement, a second crypto provider, a verifier that
//! checks the wrong name). Here is the complete list:
//!
//! | config | side | authenticates |
//! | --- | --- | --- |
//! | [`grpc_server_config`] | control plane, gRPC | itself to workers; workers by CA-issued, unrevoked client certificate |
//! | [`grpc_client_config`] | worker, gRPC | itself by client certificate; the control plane by CA + [`CONTROL_PLANE_NAME`] |
//! | [`enroll_server_config`] | control plane, enrollment | itself only, sending the chain `[leaf, ca]` |
//! | [`pinned_client_config`] | worker, enrollment | the control plane by the CA fingerprint from the enrollment token |
//!
//! All use the ring provider explicitly, TLS 1.3 only (both ends are ours) and
//! ALPN `h2`. Client verifiers check the fixed name [`CONTROL_PLANE_NAME`]
//! whatever name the caller dialed, so NAT and IP changes do not matter;
//! dial with [`control_plane_server_name`] anyway.
//!
//! What it must not do: pull in or fall back to another crypto provider
//! (aws-lc), accept a client without a certificate on the gRPC port, or resume
//! TLS sessions on the gRPC server: a resumed session skips the client
//! verifier, so a revoked worker could reconnect on an old ticket. Session
//! resumption is therefore off on both servers.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{NoServerSessionStorage, WebPkiClientVerifier};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName, OtherError,
    RootCertStore, ServerConfig, SignatureScheme, SupportedProtocolVersion,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, DnsName, PrivateKeyDer, ServerName, UnixTime};

use crate::cert::{self, normalize_fingerprint};
use crate::{CONTROL_PLANE_NAME, IssuedPair, PeerIdentity, PkiError, RevocationSet};

/// The ALPN protocol id of HTTP/2, which gRPC runs on.
pub const ALPN_H2: &[u8] = b"h2";
const ALPN_HTTP11: &[u8] = b"http/1.1";

static VERSIONS: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];

/// Installs ring as the process-wide default rustls provider. Call first
/// thing in every `main` and test helper; calling it again, or after someone
/// else installed ring, is harmless.
pub fn install_crypto_provider() {
    // `Err` only means a provider is already installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The ring provider every configuration here is built with.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server name workers dial: [`CONTROL_PLANE_NAME`], whatever the
/// address.
pub fn control_plane_server_name() -> ServerName<'static> {
    match DnsName::try_from_str(CONTROL_PLANE_NAME) {
        Ok(name) => ServerName::DnsName(name),
        // Unreachable: the constant is a valid DNS name (a unit test checks
        // it). Failing closed: no certificate is issued for 0.0.0.0.
        Err(_) => ServerName::IpAddress(std::net::Ipv4Addr::UNSPECIFIED.into()),
    }
}

/// All certificates in `pem`, in order. At least one is required.
pub fn certs_from_pem(pem: &str) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PkiError::InvalidCertificate(format!("cannot read pem: {e}")))?;
    if certs.is_empty() {
        return Err(PkiError::InvalidCertificate(
            "no `BEGIN CERTIFICATE` block found".to_owned(),
        ));
    }
    Ok(certs)
}

/// The first private key (PKCS#8, SEC1 or PKCS#1) in `pem`.
pub fn key_from_pem(pem: &str) -> Result<PrivateKeyDer<'static>, PkiError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => {
            PkiError::InvalidKey("no `BEGIN PRIVATE KEY` block found".to_owned())
        }
        other => PkiError::InvalidKey(format!("cannot read pem: {other}")),
    })
}

/// Reads the worker identity from the peer certificates of an accepted
/// connection (`ServerConnection::peer_certificates()`).
pub fn peer_identity(peer_certs: Option<&[CertificateDer<'_>]>) -> Result<PeerIdentity, PkiError> {
    let leaf = peer_certs.and_then(|certs| certs.first()).ok_or_else(|| {
        PkiError::NotAWorkerCertificate("the peer presented no certificate".to_owned())
    })?;
    crate::identity_from_cert_der(leaf)
}

fn root_store(ca_pem: &str) -> Result<RootCertStore, PkiError> {
    let mut roots = RootCertStore::empty();
    for der in certs_from_pem(ca_pem)? {
        roots.add(der).map_err(|e| {
            PkiError::InvalidCertificate(format!("unusable as a trust anchor: {e}"))
        })?;
    }
    Ok(roots)
}

fn without_resumption(mut config: ServerConfig) -> ServerConfig {
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    config
}

/// The control plane's gRPC listener: requires a client certificate that
/// chains to `ca_pem` and is not in `revocations` (consulted on every
/// handshake, so later [`RevocationSet::revoke`] calls apply to new
/// connections). Presents `server.cert_pem`. ALPN `h2`.
pub fn grpc_server_config(
    ca_pem: &str,
    server: &IssuedPair,
    revocations: Arc<RevocationSet>,
) -> Result<Arc<ServerConfig>, PkiError> {
    let provider = crypto_provider();
    let inner = WebPkiClientVerifier::builder_with_provider(
        Arc::new(root_store(ca_pem)?),
        provider.clone(),
    )
    .build()
    .map_err(PkiError::tls)?;
    let verifier = Arc::new(RevocationCheckingVerifier { inner, revocations });
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(VERSIONS)
        .map_err(PkiError::tls)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            certs_from_pem(&server.cert_pem)?,
            key_from_pem(&server.key_pem)?,
        )
        .map_err(PkiError::tls)?;
    let mut config = without_resumption(config);
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(Arc::new(config))
}

/// A worker's gRPC client: trusts only `ca_pem`, checks the server
/// certificate for [`CONTROL_PLANE_NAME`], presents `client_cert_pem` (leaf
/// first). ALPN `h2`.
pub fn grpc_client_config(
    ca_pem: &str,
    client_cert_pem: &str,
    client_key_pem: &str,
) -> Result<Arc<ClientConfig>, PkiError> {
    let provider = crypto_provider();
    let inner = WebPkiServerVerifier::builder_with_provider(
        Arc::new(root_store(ca_pem)?),
        provider.clone(),
    )
    .build()
    .map_err(PkiError::tls)?;
    let verifier = Arc::new(ControlPlaneNameVerifier { inner });
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(VERSIONS)
        .map_err(PkiError::tls)?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(
            certs_from_pem(client_cert_pem)?,
            key_from_pem(client_key_pem)?,
        )
        .map_err(PkiError::tls)?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(Arc::new(config))
}

/// The enrollment listener: server authentication only (a new worker has no
/// certificate yet). Sends `[leaf, ca]` so [`pinned_client_config`] can find
/// the pinned CA. ALPN `h2`, then `http/1.1`.
pub fn enroll_server_config(server: &IssuedPair) -> Result<Arc<ServerConfig>, PkiError> {
    let mut chain = certs_from_pem(&server.cert_pem)?;
    chain.truncate(1);
    chain.extend(certs_from_pem(&server.ca_pem)?);
    let config = ServerConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(VERSIONS)
        .map_err(PkiError::tls)?
        .with_no_client_auth()
        .with_single_cert(chain, key_from_pem(&server.key_pem)?)
        .map_err(PkiError::tls)?;
    let mut config = without_resumption(config);
    config.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP11.to_vec()];
    Ok(Arc::new(config))
}

/// A worker's enrollment client: accepts the server only if its chain
/// contains a certificate with fingerprint `ca_fingerprint` (`sha256:HEX` or
/// `HEX`) and the leaf verifies against that certificate for
/// [`CONTROL_PLANE_NAME`]. No client certificate. ALPN `h2`.
pub fn pinned_client_config(ca_fingerprint: &str) -> Result<Arc<ClientConfig>, PkiError> {
    let provider = crypto_provider();
    let verifier = Arc::new(PinnedCaVerifier {
        fingerprint: normalize_fingerprint(ca_fingerprint)?,
        provider: provider.clone(),
    });
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(VERSIONS)
        .map_err(PkiError::tls)?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(Arc::new(config))
}

/// WebPKI client verification, then the revocation set.
#[derive(Debug)]
struct RevocationCheckingVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    revocations: Arc<RevocationSet>,
}

impl ClientCertVerifier for RevocationCheckingVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        let facts = cert::facts(end_entity)
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        if self
            .revocations
            .is_cert_revoked(&facts.serial_hex, &facts.fingerprint)
        {
            return Err(rustls::Error::InvalidCertificate(CertificateError::Revoked));
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// WebPKI server verification against [`CONTROL_PLANE_NAME`], ignoring the
/// name the caller dialed.
#[derive(Debug)]
struct ControlPlaneNameVerifier {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for ControlPlaneNameVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner.verify_server_cert(
            end_entity,
            intermediates,
            &control_plane_server_name(),
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Finds the pinned CA among the certificates the server sent after its
/// leaf, makes it the only trust anchor and delegates to WebPKI for
/// [`CONTROL_PLANE_NAME`]. The pin alone proves nothing (a CA certificate is
/// public); the leaf must also be signed by it.
#[derive(Debug)]
struct PinnedCaVerifier {
    fingerprint: String,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let fingerprints: Vec<String> =
            intermediates.iter().map(|c| cert::fingerprint(c)).collect();
        let Some(pos) = fingerprints.iter().position(|fp| *fp == self.fingerprint) else {
            let found = if fingerprints.is_empty() {
                "no ca certificate".to_owned()
            } else {
                fingerprints.join(", ")
            };
            return Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(PkiError::PinMismatch {
                    expected: self.fingerprint.clone(),
                    found,
                })),
            )));
        };
        let mut roots = RootCertStore::empty();
        roots
            .add(intermediates[pos].clone().into_owned())
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        let others: Vec<CertificateDer<'_>> = intermediates
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != pos)
            .map(|(_, c)| c.clone())
            .collect();
        let webpki =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                .build()
                .map_err(|e| rustls::Error::General(format!("cannot build verifier: {e}")))?;
        webpki.verify_server_cert(
            end_entity,
            &others,
            &control_plane_server_name(),
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ca;

    #[test]
    fn server_name_is_the_role_name() {
        assert_eq!(
            control_plane_server_name(),
            ServerName::try_from(CONTROL_PLANE_NAME).unwrap()
        );
    }

    #[test]
    fn pem_helpers_report_what_is_missing() {
        let err = certs_from_pem("").unwrap_err();
        assert!(
            err.to_string().contains("no `BEGIN CERTIFICATE` block"),
            "{err}"
        );
        let err = key_from_pem("").unwrap_err();
        assert!(
            err.to_string().contains("no `BEGIN PRIVATE KEY` block"),
            "{err}"
        );
        let ca = Ca::generate().unwrap();
        let pair = ca.issue_server(&[]).unwrap();
        assert_eq!(certs_from_pem(&pair.chain_pem()).unwrap().len(), 2);
        key_from_pem(&pair.key_pem).unwrap();
    }

    #[test]
    fn configs_build_and_speak_h2_over_tls13_with_ring() {
        let ca = Ca::generate().unwrap();
        let pair = ca.issue_server(&[]).unwrap();
        let server = grpc_server_config(ca.cert_pem(), &pair, Arc::default()).unwrap();
        assert_eq!(server.alpn_protocols, [ALPN_H2.to_vec()]);
        assert_eq!(server.send_tls13_tickets, 0);
        assert!(!server.session_storage.can_cache());
        let enroll = enroll_server_config(&pair).unwrap();
        assert!(!enroll.session_storage.can_cache());
        let pinned = pinned_client_config(&ca.fingerprint()).unwrap();
        assert_eq!(pinned.alpn_protocols, [ALPN_H2.to_vec()]);
        assert!(matches!(
            pinned_client_config("sha256:nope"),
            Err(PkiError::InvalidFingerprint(_))
        ));
        // Mismatched key and certificate are caught when the config is built.
        let other = ca.issue_server(&[]).unwrap();
        let mixed = IssuedPair {
            key_pem: other.key_pem.clone(),
            ..pair.clone()
        };
        let err = grpc_server_config(ca.cert_pem(), &mixed, Arc::default()).unwrap_err();
        assert!(matches!(err, PkiError::Tls(_)), "{err}");
    }
}
