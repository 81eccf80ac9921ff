//! The control plane's own certificate authority.
//!
//! Why it exists: workers prove who they are with certificates this CA signs
//! from their CSRs, and the control plane proves who it is with a server
//! certificate this CA issues for the fixed role name
//! [`CONTROL_PLANE_NAME`](crate::CONTROL_PLANE_NAME). One CA per installation,
//! created on first start (`ca.pem`, `ca.key` mode 0600) or supplied by the
//! operator.
//!
//! What it must not do: trust anything a CSR asks for. Only the CSR's public
//! key (after its signature verifies) reaches a certificate; subject, SANs,
//! key usages and CA flags are always ours. It never hands out the CA key, and
//! it never overwrites existing CA files.

use std::fmt;
use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType, SerialNumber, SubjectPublicKeyInfo,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateSigningRequestDer};
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::prelude::FromDer;

use crate::cert::{self, CertFacts};
use crate::{CONTROL_PLANE_NAME, PkiError, random_bytes};

/// File name of the CA certificate inside the CA directory.
pub const CA_CERT_FILE: &str = "ca.pem";
/// File name of the CA private key inside the CA directory (mode 0600).
pub const CA_KEY_FILE: &str = "ca.key";

/// How long a CA created by [`Ca::load_or_create`] is valid.
pub const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// How long a certificate from [`Ca::issue_server`] is valid. The control
/// plane is expected to issue a fresh one at every start.
pub const SERVER_CERT_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
/// The longest validity [`Ca::sign_worker_csr`] accepts.
pub const MAX_WORKER_CERT_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// `notBefore` is set this far in the past to tolerate clock skew between
/// the control plane and workers.
const BACKDATE: Duration = Duration::from_secs(5 * 60);
/// Larger CSRs are rejected before parsing.
const MAX_CSR_PEM_LEN: usize = 16 * 1024;
/// URI scheme of the SAN that carries a worker identity.
pub(crate) const IDENTITY_URI_SCHEME: &str = "claudeops://";
const ORGANIZATION: &str = "Claude Ops";
const MAX_IDENTITY_PART_LEN: usize = 64;

/// The site and worker id written into a worker certificate.
///
/// Both parts are 1 to 64 characters of ASCII letters, digits, `-`, `_` and
/// `.`, so that `claudeops://SITE/WORKER_ID` is unambiguous.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WorkerIdentity {
    /// The site (location, cluster) the worker belongs to.
    pub site: String,
    /// The worker's unique id.
    pub worker_id: String,
}

impl WorkerIdentity {
    /// Convenience constructor; does not validate (see [`WorkerIdentity::validate`]).
    pub fn new(site: impl Into<String>, worker_id: impl Into<String>) -> Self {
        Self {
            site: site.into(),
            worker_id: worker_id.into(),
        }
    }

    /// Checks both parts against the allowed syntax.
    pub fn validate(&self) -> Result<(), PkiError> {
        validate_identity_part("site", &self.site)?;
        validate_identity_part("worker id", &self.worker_id)
    }

    /// The SAN URI form, `claudeops://SITE/WORKER_ID`.
    pub fn uri(&self) -> String {
        format!("{IDENTITY_URI_SCHEME}{}/{}", self.site, self.worker_id)
    }
}

pub(crate) fn validate_identity_part(what: &str, value: &str) -> Result<(), PkiError> {
    if value.is_empty() {
        return Err(PkiError::InvalidIdentity(format!("the {what} is empty")));
    }
    if value.len() > MAX_IDENTITY_PART_LEN {
        return Err(PkiError::InvalidIdentity(format!(
            "the {what} is longer than {MAX_IDENTITY_PART_LEN} characters"
        )));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(PkiError::InvalidIdentity(format!(
            "the {what} {value:?} contains {bad:?}; use ascii letters, digits, '-', '_' and '.'"
        )));
    }
    Ok(())
}

/// A server certificate with its private key, as issued by [`Ca::issue_server`].
///
/// The fields are public so a pair stored elsewhere can be rebuilt; `key_pem`
/// is a secret, hence the redacting `Debug`.
#[derive(Clone)]
pub struct IssuedPair {
    /// The leaf certificate (PEM).
    pub cert_pem: String,
    /// The leaf's private key (PKCS#8 PEM).
    pub key_pem: String,
    /// The issuing CA certificate (PEM); sent after the leaf where a chain is
    /// needed (enrollment).
    pub ca_pem: String,
    /// Lowercase hex serial of the leaf.
    pub serial_hex: String,
    /// Unix seconds.
    pub not_after: i64,
}

impl IssuedPair {
    /// Leaf followed by the CA, the chain the enrollment server presents.
    pub fn chain_pem(&self) -> String {
        let mut chain = self.cert_pem.clone();
        if !chain.ends_with('\n') {
            chain.push('\n');
        }
        chain.push_str(&self.ca_pem);
        chain
    }
}

impl fmt::Debug for IssuedPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedPair")
            .field("serial_hex", &self.serial_hex)
            .field("not_after", &self.not_after)
            .field("key_pem", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// A worker certificate signed from a CSR by [`Ca::sign_worker_csr`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCert {
    /// The certificate (PEM).
    pub cert_pem: String,
    /// Lowercase hex serial; what [`RevocationSet::revoke`](crate::RevocationSet::revoke) takes.
    pub serial_hex: String,
    /// Unix seconds.
    pub not_after: i64,
    /// `sha256:` fingerprint of the certificate's DER.
    pub fingerprint: String,
}

/// The control plane's certificate authority: its certificate and signing key.
pub struct Ca {
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    fingerprint: String,
    not_after: i64,
}

impl fmt::Debug for Ca {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ca")
            .field("fingerprint", &self.fingerprint)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl Ca {
    /// Loads `ca.pem` and `ca.key` from `dir`, or creates both (and `dir`)
    /// when neither exists. Refuses to continue when only one exists.
    pub fn load_or_create(dir: &Path) -> Result<Ca, PkiError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let cert_exists = exists(&cert_path)?;
        let key_exists = exists(&key_path)?;
        match (cert_exists, key_exists) {
            (true, true) => {
                let cert_pem = read_to_string(&cert_path)?;
                let key_pem = read_to_string(&key_path)?;
                Ca::from_pem(&cert_pem, &key_pem)
            }
            (false, false) => {
                let ca = Ca::generate()?;
                fs::create_dir_all(dir).map_err(|e| PkiError::io("create directory", dir, e))?;
                // Key first, certificate last: a crash in between leaves
                // "key without certificate", which is reported, never a
                // certificate whose key is lost.
                write_new_file(&key_path, ca.issuer.key().serialize_pem().as_bytes(), 0o600)?;
                write_new_file(&cert_path, ca.cert_pem.as_bytes(), 0o644)?;
                Ok(ca)
            }
            (true, false) => Err(PkiError::CaIncomplete {
                dir: dir.to_path_buf(),
                present: CA_CERT_FILE,
                missing: CA_KEY_FILE,
            }),
            (false, true) => Err(PkiError::CaIncomplete {
                dir: dir.to_path_buf(),
                present: CA_KEY_FILE,
                missing: CA_CERT_FILE,
            }),
        }
    }

    /// Creates a new self-signed CA in memory (ECDSA P-256, valid for
    /// [`CA_VALIDITY`]). Nothing is written to disk.
    pub fn generate() -> Result<Ca, PkiError> {
        let key = KeyPair::generate().map_err(PkiError::generate)?;
        let tag: [u8; 4] = random_bytes()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(
            DnType::CommonName,
            format!("Claude Ops CA {}", hex::encode(tag)),
        );
        params
            .distinguished_name
            .push(DnType::OrganizationName, ORGANIZATION);
        // Path length 0: this CA signs leaves only, never another CA.
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.serial_number = Some(random_serial()?);
        set_validity(&mut params, CA_VALIDITY)?;
        let cert = params.self_signed(&key).map_err(PkiError::generate)?;
        Ca::from_parts(cert.pem(), cert.der().clone(), key)
    }

    /// Uses an operator-supplied CA. The first certificate in `cert_pem` is
    /// the CA; it must be a CA certificate that is currently valid, and
    /// `key_pem` must be its private key.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Ca, PkiError> {
        let der = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .next()
            .ok_or_else(|| PkiError::InvalidCa("no `BEGIN CERTIFICATE` block found".to_owned()))?
            .map_err(|e| PkiError::InvalidCa(format!("cannot read pem: {e}")))?;
        let key = KeyPair::from_pem(key_pem)
            .map_err(|e| PkiError::InvalidKey(e.to_string().to_lowercase()))?;
        // Keep only the first certificate, re-encoded, as "the CA's PEM".
        let pem = der_to_pem(&der);
        Ca::from_parts(pem, der, key)
    }

    fn from_parts(
        cert_pem: String,
        cert_der: CertificateDer<'static>,
        key: KeyPair,
    ) -> Result<Ca, PkiError> {
        let parsed = cert::parse(&cert_der).map_err(|e| PkiError::InvalidCa(e.to_string()))?;
        if !parsed.is_ca() {
            return Err(PkiError::InvalidCa(
                "its basic constraints do not mark it as a ca".to_owned(),
            ));
        }
        if let Ok(Some(ku)) = parsed.key_usage()
            && !ku.value.key_cert_sign()
        {
            return Err(PkiError::InvalidCa(
                "its key usage does not allow signing certificates".to_owned(),
            ));
        }
        if !parsed.validity().is_valid() {
            return Err(PkiError::InvalidCa(format!(
                "it is valid only from {} to {}",
                parsed.validity().not_before,
                parsed.validity().not_after
            )));
        }
        if key.subject_public_key_info() != parsed.tbs_certificate.subject_pki.raw {
            return Err(PkiError::CaKeyMismatch);
        }
        let CertFacts {
            not_after,
            fingerprint,
            ..
        } = cert::facts_of(&cert_der, &parsed);
        let issuer = Issuer::from_ca_cert_der(&cert_der, key)
            .map_err(|e| PkiError::InvalidCa(e.to_string().to_lowercase()))?;
        let ca = Ca {
            cert_pem,
            cert_der,
            issuer,
            fingerprint,
            not_after,
        };
        ca.self_test()?;
        Ok(ca)
    }

    /// Issues a certificate for the CA's own public key and checks that it
    /// names this CA as issuer byte for byte and verifies with its key.
    /// Catches CA subjects that rcgen cannot reproduce exactly, which would
    /// otherwise only show up as "unknown issuer" handshakes.
    fn self_test(&self) -> Result<(), PkiError> {
        let ca = cert::parse(&self.cert_der)?;
        let public = SubjectPublicKeyInfo::from_der(ca.tbs_certificate.subject_pki.raw)
            .map_err(|e| PkiError::InvalidCa(e.to_string().to_lowercase()))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "claudeops ca self-test");
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params, Duration::from_secs(60))?;
        let issued = params
            .signed_by(&public, &self.issuer)
            .map_err(PkiError::generate)?;
        let leaf = cert::parse(issued.der())?;
        if leaf.issuer().as_raw() != ca.subject().as_raw() {
            return Err(PkiError::InvalidCa(
                "its subject name cannot be reproduced exactly when issuing; \
                 use a ca with a simple subject (one attribute per rdn)"
                    .to_owned(),
            ));
        }
        leaf.verify_signature(Some(ca.public_key())).map_err(|e| {
            PkiError::InvalidCa(format!("a certificate it signed does not verify: {e}"))
        })
    }

    /// `sha256:` + lowercase hex of the CA certificate's DER; what enrollment
    /// tokens pin.
    pub fn fingerprint(&self) -> String {
        self.fingerprint.clone()
    }

    /// The CA certificate (PEM), handed to workers at enrollment.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate (DER).
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// When the CA certificate expires (unix seconds).
    pub fn not_after(&self) -> i64 {
        self.not_after
    }

    /// Issues a server certificate (fresh ECDSA P-256 key) valid for
    /// [`SERVER_CERT_VALIDITY`]. Its SANs are [`CONTROL_PLANE_NAME`] first,
    /// then each of `extra_names` that is not a duplicate: IP addresses
    /// become IP SANs, everything else must be a valid DNS name.
    pub fn issue_server(&self, extra_names: &[String]) -> Result<IssuedPair, PkiError> {
        let mut sans = vec![SanType::DnsName(ia5(CONTROL_PLANE_NAME)?)];
        for raw in extra_names {
            let name = raw.trim();
            let san = if let Ok(ip) = name.parse::<IpAddr>() {
                SanType::IpAddress(ip)
            } else {
                if rustls_pki_types::DnsName::try_from(name).is_err() {
                    return Err(PkiError::InvalidServerName(raw.clone()));
                }
                SanType::DnsName(ia5(&name.to_ascii_lowercase())?)
            };
            if !sans.contains(&san) {
                sans.push(san);
            }
        }
        let key = KeyPair::generate().map_err(PkiError::generate)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, CONTROL_PLANE_NAME);
        params
            .distinguished_name
            .push(DnType::OrganizationName, ORGANIZATION);
        params.subject_alt_names = sans;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial()?);
        set_validity(&mut params, SERVER_CERT_VALIDITY)?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(PkiError::generate)?;
        let facts = cert::facts(cert.der())?;
        Ok(IssuedPair {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            ca_pem: self.cert_pem.clone(),
            serial_hex: facts.serial_hex,
            not_after: facts.not_after,
        })
    }

    /// Signs a worker certificate for the public key in `csr_pem`.
    ///
    /// The CSR's signature must verify and its key must be ECDSA P-256/P-384
    /// or Ed25519. Everything else the CSR asks for is ignored: the
    /// certificate says CN = worker id, OU = site, SAN URI
    /// `claudeops://SITE/WORKER_ID`, extended key usage client auth only.
    pub fn sign_worker_csr(
        &self,
        csr_pem: &str,
        identity: &WorkerIdentity,
        validity: Duration,
    ) -> Result<IssuedCert, PkiError> {
        identity.validate()?;
        if validity < Duration::from_secs(60) {
            return Err(PkiError::InvalidValidity(
                "a worker certificate must be valid for at least one minute".to_owned(),
            ));
        }
        if validity > MAX_WORKER_CERT_VALIDITY {
            return Err(PkiError::InvalidValidity(
                "a worker certificate may be valid for at most ten years".to_owned(),
            ));
        }
        let public_key = verified_csr_key(csr_pem)?;

        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, identity.worker_id.as_str());
        params
            .distinguished_name
            .push(DnType::OrganizationalUnitName, identity.site.as_str());
        params
            .distinguished_name
            .push(DnType::OrganizationName, ORGANIZATION);
        params.subject_alt_names = vec![SanType::URI(ia5(&identity.uri())?)];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial()?);
        set_validity(&mut params, validity)?;
        let cert = params
            .signed_by(&public_key, &self.issuer)
            .map_err(PkiError::generate)?;
        let facts = cert::facts(cert.der())?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            serial_hex: facts.serial_hex,
            not_after: facts.not_after,
            fingerprint: facts.fingerprint,
        })
    }
}

/// Parses a CSR, verifies its self-signature and returns its public key if
/// the algorithm is one we certify.
fn verified_csr_key(csr_pem: &str) -> Result<SubjectPublicKeyInfo, PkiError> {
    if csr_pem.len() > MAX_CSR_PEM_LEN {
        return Err(PkiError::InvalidCsr(format!(
            "it is larger than {MAX_CSR_PEM_LEN} bytes"
        )));
    }
    let der = CertificateSigningRequestDer::from_pem_slice(csr_pem.as_bytes()).map_err(|e| {
        PkiError::InvalidCsr(format!(
            "no readable `BEGIN CERTIFICATE REQUEST` block ({e})"
        ))
    })?;
    let (rest, csr) = X509CertificationRequest::from_der(der.as_ref())
        .map_err(|e| PkiError::InvalidCsr(format!("cannot parse der: {e}")))?;
    if !rest.is_empty() {
        return Err(PkiError::InvalidCsr(
            "trailing bytes after the request".to_owned(),
        ));
    }
    csr.verify_signature().map_err(|_| PkiError::CsrSignature)?;
    let spki = &csr.certification_request_info.subject_pki;
    let public_key = SubjectPublicKeyInfo::from_der(spki.raw)
        .map_err(|_| PkiError::UnsupportedKeyAlgorithm(spki.algorithm.algorithm.to_id_string()))?;
    let allowed = [
        &rcgen::PKCS_ECDSA_P256_SHA256,
        &rcgen::PKCS_ECDSA_P384_SHA384,
        &rcgen::PKCS_ED25519,
    ];
    if !allowed.contains(&public_key.algorithm()) {
        return Err(PkiError::UnsupportedKeyAlgorithm(
            spki.algorithm.algorithm.to_id_string(),
        ));
    }
    Ok(public_key)
}

fn ia5(s: &str) -> Result<rcgen::string::Ia5String, PkiError> {
    rcgen::string::Ia5String::try_from(s).map_err(PkiError::generate)
}

/// 16 random bytes, first byte in 0x40..=0x7f: positive, no leading zero, so
/// the DER serial is exactly these 16 bytes and its hex is stable.
///
/// rcgen's default serial is a hash of the subject key, which would give a
/// renewed certificate for the same key the revoked serial of the old one.
fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes: [u8; 16] = random_bytes()?;
    bytes[0] = (bytes[0] & 0x3f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

/// notBefore = now - [`BACKDATE`], notAfter = now + `validity`.
fn set_validity(params: &mut CertificateParams, validity: Duration) -> Result<(), PkiError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| PkiError::InvalidValidity("the system clock is before 1970".to_owned()))?;
    // rcgen takes `time::OffsetDateTime`; build it from rcgen's own helper so
    // this crate does not depend on `time` directly.
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + now.saturating_sub(BACKDATE);
    params.not_after = epoch + now + validity;
    Ok(())
}

pub(crate) fn der_to_pem(der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

fn exists(path: &Path) -> Result<bool, PkiError> {
    path.try_exists()
        .map_err(|e| PkiError::io("check", path, e))
}

fn read_to_string(path: &Path) -> Result<String, PkiError> {
    fs::read_to_string(path).map_err(|e| PkiError::io("read", path, e))
}

/// Writes `contents` to a temporary file created with `mode`, syncs it and
/// renames it into place; fails if `path` already exists.
fn write_new_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    let tmp: PathBuf = path.with_extension("tmp");
    // A leftover from an interrupted start may exist; it was never renamed
    // into place, so it is safe to drop (its permissions are not trusted).
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(PkiError::io("remove", &tmp, e)),
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options
        .open(&tmp)
        .map_err(|e| PkiError::io("create", &tmp, e))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| PkiError::io("write", &tmp, e))?;
    drop(file);
    if exists(path)? {
        let _ = fs::remove_file(&tmp);
        return Err(PkiError::io(
            "create",
            path,
            std::io::Error::new(std::io::ErrorKind::AlreadyExists, "file already exists"),
        ));
    }
    fs::rename(&tmp, path).map_err(|e| PkiError::io("rename into place", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{WorkerKey, identity_from_cert_der, make_csr};

    fn cert_der(pem: &str) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
    }

    #[test]
    fn ca_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Ca>();
    }

    #[test]
    fn load_or_create_creates_then_loads_the_same_ca() {
        let dir = tempfile::tempdir().unwrap();
        let ca_dir = dir.path().join("nested/ca");
        let first = Ca::load_or_create(&ca_dir).unwrap();
        assert!(ca_dir.join(CA_CERT_FILE).is_file());
        assert!(ca_dir.join(CA_KEY_FILE).is_file());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(ca_dir.join(CA_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let second = Ca::load_or_create(&ca_dir).unwrap();
        assert_eq!(first.fingerprint(), second.fingerprint());
        assert_eq!(first.cert_pem(), second.cert_pem());
        assert!(first.fingerprint().starts_with("sha256:"));
        assert_eq!(first.fingerprint().len(), "sha256:".len() + 64);
        assert_eq!(first.fingerprint(), cert::fingerprint(first.cert_der()));
    }

    #[test]
    fn load_or_create_refuses_half_a_ca() {
        let dir = tempfile::tempdir().unwrap();
        Ca::load_or_create(dir.path()).unwrap();
        fs::remove_file(dir.path().join(CA_KEY_FILE)).unwrap();
        let err = Ca::load_or_create(dir.path()).unwrap_err();
        assert!(
            matches!(
                err,
                PkiError::CaIncomplete {
                    missing: CA_KEY_FILE,
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string().contains("restore the missing file"),
            "{err}"
        );
        // The certificate was not overwritten.
        assert!(dir.path().join(CA_CERT_FILE).is_file());
    }

    #[test]
    fn from_pem_rejects_mismatched_key_and_non_ca() {
        let a = Ca::generate().unwrap();
        let b = Ca::generate().unwrap();
        let b_key = b.issuer.key().serialize_pem();
        let err = Ca::from_pem(a.cert_pem(), &b_key).unwrap_err();
        assert!(matches!(err, PkiError::CaKeyMismatch), "{err}");

        let server = a.issue_server(&[]).unwrap();
        let err = Ca::from_pem(&server.cert_pem, &server.key_pem).unwrap_err();
        assert!(matches!(err, PkiError::InvalidCa(_)), "{err}");
        assert!(err.to_string().contains("not mark it as a ca"), "{err}");

        let err = Ca::from_pem("not pem", &b_key).unwrap_err();
        assert!(matches!(err, PkiError::InvalidCa(_)), "{err}");
        let err = Ca::from_pem(a.cert_pem(), "not a key").unwrap_err();
        assert!(matches!(err, PkiError::InvalidKey(_)), "{err}");
    }

    #[test]
    fn issue_server_always_names_the_control_plane() {
        let ca = Ca::generate().unwrap();
        let pair = ca
            .issue_server(&[
                "cp.example.com".to_owned(),
                "10.0.0.7".to_owned(),
                "::1".to_owned(),
                "CP.example.com".to_owned(),
            ])
            .unwrap();
        let der = cert_der(&pair.cert_pem);
        let parsed = cert::parse(&der).unwrap();
        let san = parsed.subject_alternative_name().unwrap().unwrap();
        use x509_parser::extensions::GeneralName;
        let names: Vec<String> = san
            .value
            .general_names
            .iter()
            .map(|n| match n {
                GeneralName::DNSName(d) => format!("dns:{d}"),
                GeneralName::IPAddress(ip) => format!("ip:{}", hex::encode(ip)),
                other => format!("other:{other}"),
            })
            .collect();
        assert_eq!(
            names,
            [
                format!("dns:{CONTROL_PLANE_NAME}"),
                "dns:cp.example.com".to_owned(),
                "ip:0a000007".to_owned(),
                format!("ip:{}", hex::encode(std::net::Ipv6Addr::LOCALHOST.octets())),
            ]
        );
        assert!(!parsed.is_ca());
        assert_eq!(pair.serial_hex, hex::encode(parsed.raw_serial()));
        assert_eq!(pair.ca_pem, ca.cert_pem());

        let err = ca.issue_server(&["not a name!".to_owned()]).unwrap_err();
        assert!(matches!(err, PkiError::InvalidServerName(_)), "{err}");
    }

    #[test]
    fn serials_are_random_even_for_the_same_key() {
        let ca = Ca::generate().unwrap();
        let key = WorkerKey::generate().unwrap();
        let csr = make_csr(&key, "host").unwrap();
        let id = WorkerIdentity::new("site", "w1");
        let a = ca
            .sign_worker_csr(&csr, &id, Duration::from_secs(3600))
            .unwrap();
        let b = ca
            .sign_worker_csr(&csr, &id, Duration::from_secs(3600))
            .unwrap();
        assert_ne!(a.serial_hex, b.serial_hex);
        assert_eq!(a.serial_hex.len(), 32);
    }

    #[test]
    fn sign_worker_csr_writes_the_requested_identity_not_the_csrs() {
        let ca = Ca::generate().unwrap();
        let key = WorkerKey::generate().unwrap();
        // A CSR that claims to be someone else, asks for a CA flag, server
        // auth and extra names.
        let key_pair = KeyPair::from_pem(&key).unwrap();
        let mut forged = CertificateParams::new(vec![
            CONTROL_PLANE_NAME.to_owned(),
            "evil.example".to_owned(),
        ])
        .unwrap();
        forged.distinguished_name = DistinguishedName::new();
        forged
            .distinguished_name
            .push(DnType::CommonName, "admin-worker");
        forged
            .distinguished_name
            .push(DnType::OrganizationalUnitName, "other-site");
        forged.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        forged.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let csr_pem = forged.serialize_request(&key_pair).unwrap().pem().unwrap();

        let identity = WorkerIdentity::new("berlin-1", "worker-42");
        let issued = ca
            .sign_worker_csr(&csr_pem, &identity, Duration::from_secs(7 * 24 * 3600))
            .unwrap();
        let der = cert_der(&issued.cert_pem);
        let parsed = cert::parse(&der).unwrap();

        let cns: Vec<_> = parsed
            .subject()
            .iter_common_name()
            .map(|cn| cn.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(cns, ["worker-42"]);
        let ous: Vec<_> = parsed
            .subject()
            .iter_organizational_unit()
            .map(|ou| ou.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ous, ["berlin-1"]);
        assert!(!parsed.is_ca());
        let names: Vec<String> = parsed
            .subject_alternative_name()
            .unwrap()
            .unwrap()
            .value
            .general_names
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        assert!(
            names[0].contains("claudeops://berlin-1/worker-42"),
            "{names:?}"
        );
        let eku = parsed.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.client_auth && !eku.server_auth);
        // The CSR's key is the certificate's key.
        assert_eq!(
            parsed.tbs_certificate.subject_pki.raw,
            key_pair.subject_public_key_info().as_slice()
        );
        // Chains to the CA.
        let ca_parsed = cert::parse(ca.cert_der()).unwrap();
        parsed
            .verify_signature(Some(ca_parsed.public_key()))
            .unwrap();

        let peer = identity_from_cert_der(&der).unwrap();
        assert_eq!(peer.site, "berlin-1");
        assert_eq!(peer.worker_id, "worker-42");
        assert_eq!(peer.serial_hex, issued.serial_hex);
        assert_eq!(peer.fingerprint, issued.fingerprint);
        assert_eq!(peer.not_after, issued.not_after);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!((issued.not_after - now - 7 * 24 * 3600).abs() < 10);
    }

    #[test]
    fn sign_worker_csr_rejects_bad_input() {
        let ca = Ca::generate().unwrap();
        let key = WorkerKey::generate().unwrap();
        let csr = make_csr(&key, "host").unwrap();
        let id = WorkerIdentity::new("site", "w1");
        let day = Duration::from_secs(86_400);

        // Tamper with the signed part: flip a byte inside the DER.
        let mut der = CertificateSigningRequestDer::from_pem_slice(csr.as_bytes())
            .unwrap()
            .as_ref()
            .to_vec();
        let idx = der.len() / 3;
        der[idx] ^= 0x01;
        use base64::Engine as _;
        let tampered = format!(
            "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
            base64::engine::general_purpose::STANDARD.encode(&der)
        );

        struct Case {
            csr: String,
            identity: WorkerIdentity,
            validity: Duration,
            want: fn(&PkiError) -> bool,
        }
        let cases = [
            Case {
                csr: "hello".to_owned(),
                identity: id.clone(),
                validity: day,
                want: |e| matches!(e, PkiError::InvalidCsr(_)),
            },
            Case {
                csr: ca.cert_pem().to_owned(),
                identity: id.clone(),
                validity: day,
                want: |e| matches!(e, PkiError::InvalidCsr(_)),
            },
            Case {
                csr: tampered,
                identity: id.clone(),
                validity: day,
                want: |e| matches!(e, PkiError::CsrSignature | PkiError::InvalidCsr(_)),
            },
            Case {
                csr: "x".repeat(MAX_CSR_PEM_LEN + 1),
                identity: id.clone(),
                validity: day,
                want: |e| matches!(e, PkiError::InvalidCsr(_)),
            },
            Case {
                csr: csr.clone(),
                identity: WorkerIdentity::new("", "w1"),
                validity: day,
                want: |e| matches!(e, PkiError::InvalidIdentity(_)),
            },
            Case {
                csr: csr.clone(),
                identity: WorkerIdentity::new("site", "w/1"),
                validity: day,
                want: |e| matches!(e, PkiError::InvalidIdentity(_)),
            },
            Case {
                csr: csr.clone(),
                identity: id.clone(),
                validity: Duration::ZERO,
                want: |e| matches!(e, PkiError::InvalidValidity(_)),
            },
            Case {
                csr: csr.clone(),
                identity: id.clone(),
                validity: MAX_WORKER_CERT_VALIDITY + day,
                want: |e| matches!(e, PkiError::InvalidValidity(_)),
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let err = ca
                .sign_worker_csr(&case.csr, &case.identity, case.validity)
                .unwrap_err();
            assert!((case.want)(&err), "case {i}: unexpected error {err:?}");
            assert!(!err.to_string().is_empty(), "case {i}");
        }
    }

    #[test]
    fn tampered_signature_is_a_signature_error() {
        let ca = Ca::generate().unwrap();
        let key = WorkerKey::generate().unwrap();
        let csr = make_csr(&key, "host").unwrap();
        let mut der = CertificateSigningRequestDer::from_pem_slice(csr.as_bytes())
            .unwrap()
            .as_ref()
            .to_vec();
        // The signature BIT STRING is at the end: flip its last byte.
        let last = der.len() - 1;
        der[last] ^= 0x01;
        use base64::Engine as _;
        let tampered = format!(
            "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
            base64::engine::general_purpose::STANDARD.encode(&der)
        );
        let err = ca
            .sign_worker_csr(
                &tampered,
                &WorkerIdentity::new("s", "w"),
                Duration::from_secs(3600),
            )
            .unwrap_err();
        assert!(matches!(err, PkiError::CsrSignature), "{err:?}");
    }

    #[test]
    fn csr_key_algorithms() {
        let ca = Ca::generate().unwrap();
        let id = WorkerIdentity::new("s", "w");
        let hour = Duration::from_secs(3600);

        // Ed25519 is accepted.
        let ed = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let csr = CertificateParams::default()
            .serialize_request(&ed)
            .unwrap()
            .pem()
            .unwrap();
        ca.sign_worker_csr(&csr, &id, hour).unwrap();

        // RSA (fixture made once with `openssl req -newkey rsa:2048`) is not.
        let rsa = include_str!("../tests/data/rsa2048.csr.pem");
        let err = ca.sign_worker_csr(rsa, &id, hour).unwrap_err();
        assert!(
            matches!(err, PkiError::UnsupportedKeyAlgorithm(_)),
            "{err:?}"
        );
        assert!(err.to_string().contains("1.2.840.113549.1.1.1"), "{err}");
    }
}
