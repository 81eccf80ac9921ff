//! The one error type of the crate.
//!
//! Why it exists: every fallible operation here (files, PEM, certificate
//! issuing, CSR checks, tokens, rustls configuration) reports through
//! [`PkiError`], so callers match on one enum and operators read one style of
//! message: lower case, saying what went wrong and what to do about it.
//!
//! What it must not do: carry secrets. No variant holds key material, token
//! secrets or the bytes of a CSR; foreign errors are kept as text so this
//! enum's shape does not change when rcgen or rustls do.

use std::path::PathBuf;

/// Everything that can go wrong in `claudeops-pki`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// Reading or writing a file failed.
    #[error("cannot {action} {path}: {source}; check that the path exists and is accessible")]
    Io {
        /// What was attempted ("read", "write", "create directory", ...).
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// Exactly one of `ca.pem` and `ca.key` exists in the CA directory.
    #[error(
        "the ca directory {dir} holds {present} but not {missing}; restore the missing file, \
         or move both away to create a new ca (every worker must then enroll again)"
    )]
    CaIncomplete {
        /// The CA directory.
        dir: PathBuf,
        /// The file that exists.
        present: &'static str,
        /// The file that is missing.
        missing: &'static str,
    },

    /// The CA certificate cannot be used as this control plane's CA.
    #[error(
        "the ca certificate is not usable: {0}; supply a pem ca certificate (basic constraints ca=true) and its private key"
    )]
    InvalidCa(String),

    /// The CA key does not belong to the CA certificate.
    #[error(
        "the ca private key does not match the ca certificate; supply the key the certificate was made for"
    )]
    CaKeyMismatch,

    /// A PEM or DER certificate could not be read.
    #[error(
        "invalid certificate: {0}; supply a pem file with one or more `BEGIN CERTIFICATE` blocks"
    )]
    InvalidCertificate(String),

    /// A private key could not be read or used.
    #[error(
        "invalid private key: {0}; supply an unencrypted pem private key (pkcs#8, sec1 or pkcs#1)"
    )]
    InvalidKey(String),

    /// A certificate signing request could not be parsed.
    #[error("invalid certificate signing request: {0}; generate a fresh one with `make_csr`")]
    InvalidCsr(String),

    /// The CSR's self-signature does not verify with the key it carries.
    #[error(
        "the certificate signing request's signature does not verify; it was altered or signed with another key, generate a fresh one with `make_csr`"
    )]
    CsrSignature,

    /// The key in a CSR uses an algorithm this CA does not certify.
    #[error(
        "unsupported key algorithm {0} in the certificate signing request; use an ecdsa p-256/p-384 or ed25519 key (`WorkerKey::generate` makes one)"
    )]
    UnsupportedKeyAlgorithm(String),

    /// A site or worker id cannot be written into a certificate.
    #[error("invalid worker identity: {0}")]
    InvalidIdentity(String),

    /// A requested validity period is unusable.
    #[error("invalid certificate validity: {0}")]
    InvalidValidity(String),

    /// An extra server name is neither a DNS name nor an IP address.
    #[error(
        "invalid server name {0:?}: use a dns name (letters, digits, '-', '.') or an ip address"
    )]
    InvalidServerName(String),

    /// A certificate does not carry a Claude Ops worker identity.
    #[error(
        "not a claude ops worker certificate: {0}; the peer must present a certificate issued by `sign_worker_csr`"
    )]
    NotAWorkerCertificate(String),

    /// An enrollment token could not be parsed.
    #[error(
        "malformed enrollment token: {0}; copy the whole token printed by the control plane again"
    )]
    MalformedToken(String),

    /// A CA fingerprint is not `sha256:` followed by 64 hex digits.
    #[error("invalid ca fingerprint {0:?}: expected `sha256:` followed by 64 hex digits")]
    InvalidFingerprint(String),

    /// The server did not present the pinned CA certificate.
    #[error(
        "the server's certificate chain does not contain the pinned ca {expected} (it sent {found}); \
         check the enrollment token and that you are dialing the right control plane"
    )]
    PinMismatch {
        /// The fingerprint from the enrollment token.
        expected: String,
        /// Fingerprints of the certificates the server sent after its leaf.
        found: String,
    },

    /// rcgen refused to build a certificate, CSR or key.
    #[error("certificate generation failed: {0}")]
    Generate(String),

    /// The operating system's random generator failed.
    #[error("the system random number generator failed: {0}")]
    Random(String),

    /// rustls refused a configuration.
    #[error("tls configuration rejected: {0}")]
    Tls(String),
}

impl PkiError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn generate(err: rcgen::Error) -> Self {
        Self::Generate(err.to_string().to_lowercase())
    }

    pub(crate) fn tls(err: impl std::fmt::Display) -> Self {
        Self::Tls(err.to_string())
    }
}
