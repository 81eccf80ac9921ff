//! Claude Ops' public-key infrastructure: the built-in certificate
//! authority, worker keys and CSRs, enrollment tokens, the revocation set and
//! every rustls configuration of the project.
//!
//! Why it exists: workers dial the control plane over mutual-TLS gRPC. Both
//! sides, and the one-time enrollment that gets a worker its certificate,
//! must agree on names, fingerprints, serials and verification rules; keeping
//! all of it in one crate means there is exactly one definition of each.
//!
//! The flow:
//! 1. The control plane runs [`Ca::load_or_create`], issues its server
//!    certificate with [`Ca::issue_server`] and prints an [`EnrollToken`]
//!    (storing only [`hash_secret`] of its secret).
//! 2. A worker parses the token, makes a key ([`WorkerKey::generate`]) and a
//!    CSR ([`make_csr`]), and dials the enrollment port with
//!    [`tls::pinned_client_config`], which trusts the server only if it
//!    presents the CA the token pins.
//! 3. The control plane checks the secret ([`verify_secret`]) and answers
//!    with [`Ca::sign_worker_csr`] plus its CA certificate.
//! 4. From then on the worker dials with [`tls::grpc_client_config`]; the
//!    control plane serves [`tls::grpc_server_config`] and reads who called
//!    with [`identity_from_cert_der`].
//!
//! What it must not do: talk to the network, log, or choose a crypto
//! provider other than ring. It has no opinion on where the worker keeps
//! its key or how the control plane stores tokens and revocations.

// Tests may unwrap; library code may not (workspace lint `unwrap_used`).
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod ca;
mod cert;
mod error;
mod revocation;
pub mod tls;
mod token;
mod worker;

pub use ca::{
    CA_CERT_FILE, CA_KEY_FILE, CA_VALIDITY, Ca, IssuedCert, IssuedPair, MAX_WORKER_CERT_VALIDITY,
    SERVER_CERT_VALIDITY, WorkerIdentity,
};
pub use cert::{fingerprint, normalize_fingerprint};
pub use error::PkiError;
pub use revocation::RevocationSet;
pub use token::{EnrollToken, TOKEN_PREFIX, constant_time_eq, hash_secret, verify_secret};
pub use worker::{PeerIdentity, WorkerKey, identity_from_cert_der, make_csr};

/// The name the control plane's server certificate always carries and the
/// name workers verify, whatever address they dial.
pub const CONTROL_PLANE_NAME: &str = "control-plane.claudeops.internal";

/// `N` bytes from the operating system's random generator.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], PkiError> {
    use rand::TryRngCore as _;
    let mut bytes = [0u8; N];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| PkiError::Random(e.to_string()))?;
    Ok(bytes)
}

/// Writes a secret (a private key, a token) to `path` with mode 0600, creating
/// its directory, replacing what was there. One place for the file mode of every
/// secret the project keeps on disk.
pub fn write_secret_file(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}
