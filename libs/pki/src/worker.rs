//! The worker's side of certificates: its key, its CSR, and reading a worker
//! identity back out of a certificate.
//!
//! Why it exists: a worker generates its own key and never sends it anywhere;
//! it sends a CSR and receives a certificate. The control plane reads the
//! identity back from the peer certificate of every gRPC connection with
//! [`identity_from_cert_der`], so both sides agree on one encoding
//! (SAN URI `claudeops://SITE/WORKER_ID`, CN = worker id).
//!
//! What it must not do: establish trust. [`identity_from_cert_der`] only
//! reads; it is meaningful only for a certificate the TLS layer has already
//! verified against the CA (and the revocation set). Nothing here writes
//! files: where the worker keeps its key is the worker's business.

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
use x509_parser::extensions::GeneralName;

use crate::PkiError;
use crate::ca::{IDENTITY_URI_SCHEME, validate_identity_part};
use crate::cert;

/// Generates worker private keys.
#[derive(Debug, Clone, Copy)]
pub struct WorkerKey;

impl WorkerKey {
    /// A fresh ECDSA P-256 private key as PKCS#8 PEM. Keep it private
    /// (mode 0600); it never leaves the worker.
    pub fn generate() -> Result<String, PkiError> {
        let key = KeyPair::generate().map_err(PkiError::generate)?;
        Ok(key.serialize_pem())
    }
}

/// A PEM certificate signing request for `key_pem`. `hostname` is written as
/// the CN for the operator's information only: the CA ignores it and writes
/// the identity it decides on.
pub fn make_csr(key_pem: &str, hostname: &str) -> Result<String, PkiError> {
    let key = KeyPair::from_pem(key_pem)
        .map_err(|e| PkiError::InvalidKey(e.to_string().to_lowercase()))?;
    let hostname = hostname.trim();
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(
        DnType::CommonName,
        if hostname.is_empty() {
            "claudeops-worker"
        } else {
            hostname
        },
    );
    params
        .serialize_request(&key)
        .and_then(|csr| csr.pem())
        .map_err(PkiError::generate)
}

/// Who is on the other end of a verified worker connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PeerIdentity {
    /// The site from the certificate.
    pub site: String,
    /// The worker id from the certificate.
    pub worker_id: String,
    /// Lowercase hex serial, as in [`IssuedCert::serial_hex`](crate::IssuedCert::serial_hex).
    pub serial_hex: String,
    /// `sha256:` fingerprint of the certificate DER.
    pub fingerprint: String,
    /// Unix seconds.
    pub not_after: i64,
}

/// Reads the worker identity from a certificate issued by
/// [`Ca::sign_worker_csr`](crate::Ca::sign_worker_csr).
///
/// Requires exactly one `claudeops://SITE/WORKER_ID` URI SAN and, if the
/// subject has a CN, that it equals the worker id. Does not verify the
/// certificate; call it only on a peer certificate the handshake accepted.
pub fn identity_from_cert_der(der: &[u8]) -> Result<PeerIdentity, PkiError> {
    let parsed = cert::parse(der)?;
    let san = parsed
        .subject_alternative_name()
        .map_err(|e| PkiError::NotAWorkerCertificate(format!("unreadable subject alt names: {e}")))?
        .ok_or_else(|| PkiError::NotAWorkerCertificate("it has no subject alt names".to_owned()))?;
    let mut uris = san
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::URI(uri) if uri.starts_with(IDENTITY_URI_SCHEME) => Some(*uri),
            _ => None,
        });
    let uri = uris.next().ok_or_else(|| {
        PkiError::NotAWorkerCertificate(format!("it has no {IDENTITY_URI_SCHEME} uri"))
    })?;
    if uris.next().is_some() {
        return Err(PkiError::NotAWorkerCertificate(format!(
            "it has more than one {IDENTITY_URI_SCHEME} uri"
        )));
    }
    let rest = &uri[IDENTITY_URI_SCHEME.len()..];
    let (site, worker_id) = rest.split_once('/').ok_or_else(|| {
        PkiError::NotAWorkerCertificate(format!(
            "uri {uri:?} is not {IDENTITY_URI_SCHEME}SITE/WORKER_ID"
        ))
    })?;
    validate_identity_part("site", site)
        .and_then(|()| validate_identity_part("worker id", worker_id))
        .map_err(|e| PkiError::NotAWorkerCertificate(format!("uri {uri:?}: {e}")))?;
    for cn in parsed.subject().iter_common_name() {
        let cn = cn
            .as_str()
            .map_err(|e| PkiError::NotAWorkerCertificate(format!("unreadable common name: {e}")))?;
        if cn != worker_id {
            return Err(PkiError::NotAWorkerCertificate(format!(
                "common name {cn:?} differs from the worker id {worker_id:?} in its uri"
            )));
        }
    }
    let facts = cert::facts_of(der, &parsed);
    Ok(PeerIdentity {
        site: site.to_owned(),
        worker_id: worker_id.to_owned(),
        serial_hex: facts.serial_hex,
        fingerprint: facts.fingerprint,
        not_after: facts.not_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ca;
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;

    #[test]
    fn generated_keys_are_distinct_pkcs8() {
        let a = WorkerKey::generate().unwrap();
        let b = WorkerKey::generate().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("-----BEGIN PRIVATE KEY-----"));
    }

    #[test]
    fn csr_carries_hostname_and_key() {
        let key = WorkerKey::generate().unwrap();
        let csr = make_csr(&key, " web-01 ").unwrap();
        assert!(csr.starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
        let params = rcgen::CertificateSigningRequestParams::from_pem(&csr).unwrap();
        let cn = params.params.distinguished_name.get(&DnType::CommonName);
        assert!(
            matches!(cn, Some(rcgen::DnValue::Utf8String(s)) if s == "web-01"),
            "{cn:?}"
        );
        assert!(matches!(
            make_csr("garbage", "h"),
            Err(PkiError::InvalidKey(_))
        ));
    }

    #[test]
    fn server_certificate_is_not_a_worker() {
        let ca = Ca::generate().unwrap();
        let pair = ca.issue_server(&[]).unwrap();
        let der = CertificateDer::from_pem_slice(pair.cert_pem.as_bytes()).unwrap();
        let err = identity_from_cert_der(&der).unwrap_err();
        assert!(matches!(err, PkiError::NotAWorkerCertificate(_)), "{err}");
        let err = identity_from_cert_der(ca.cert_der()).unwrap_err();
        assert!(matches!(err, PkiError::NotAWorkerCertificate(_)), "{err}");
        let err = identity_from_cert_der(b"junk").unwrap_err();
        assert!(matches!(err, PkiError::InvalidCertificate(_)), "{err}");
    }
}
