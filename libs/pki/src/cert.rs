//! Small, shared facts about DER certificates: fingerprints, serials, expiry,
//! and fingerprint syntax.
//!
//! Why it exists: the CA, the worker identity reader, the revocation check and
//! the pinned verifier must all compute a certificate's fingerprint and serial
//! the same way, or a revoked serial or a pinned fingerprint silently never
//! matches. This is the one place that defines them.
//!
//! What it must not do: decide trust. Nothing here verifies a signature or a
//! chain; that is rustls' job in [`crate::tls`].

use sha2::{Digest, Sha256};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::PkiError;

/// The prefix of every fingerprint this crate prints or accepts.
pub const FINGERPRINT_PREFIX: &str = "sha256:";

/// `sha256:` followed by the lowercase hex SHA-256 of `der`.
///
/// Used for certificates (the CA fingerprint in enrollment tokens, peer
/// fingerprints) and nothing else.
pub fn fingerprint(der: &[u8]) -> String {
    format!("{FINGERPRINT_PREFIX}{}", hex::encode(Sha256::digest(der)))
}

/// Accepts `sha256:HEX` or bare `HEX` (64 hex digits, any case) and returns
/// the canonical `sha256:lowercasehex` form.
pub fn normalize_fingerprint(input: &str) -> Result<String, PkiError> {
    let trimmed = input.trim();
    let hex_part = trimmed
        .strip_prefix(FINGERPRINT_PREFIX)
        .or_else(|| trimmed.strip_prefix("SHA256:"))
        .unwrap_or(trimmed);
    if hex_part.len() != 64 || !hex_part.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(PkiError::InvalidFingerprint(input.to_owned()));
    }
    Ok(format!(
        "{FINGERPRINT_PREFIX}{}",
        hex_part.to_ascii_lowercase()
    ))
}

/// Canonical form of a serial number for comparisons: lowercase hex, no
/// separators, no leading zero bytes.
pub(crate) fn normalize_serial(input: &str) -> String {
    let digits: String = input
        .trim()
        .trim_start_matches("0x")
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let stripped = digits.trim_start_matches('0');
    if stripped.is_empty() {
        "0".to_owned()
    } else {
        stripped.to_owned()
    }
}

/// What the rest of the crate needs to know about one parsed certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CertFacts {
    /// Lowercase hex of the serial's big-endian bytes, as written in the DER.
    pub serial_hex: String,
    /// Unix seconds.
    pub not_after: i64,
    /// See [`fingerprint`].
    pub fingerprint: String,
}

/// Parses `der` strictly (no trailing bytes).
pub(crate) fn parse(der: &[u8]) -> Result<X509Certificate<'_>, PkiError> {
    let (rest, cert) = X509Certificate::from_der(der)
        .map_err(|e| PkiError::InvalidCertificate(format!("cannot parse der: {e}")))?;
    if !rest.is_empty() {
        return Err(PkiError::InvalidCertificate(
            "trailing bytes after the certificate".to_owned(),
        ));
    }
    Ok(cert)
}

pub(crate) fn facts_of(der: &[u8], cert: &X509Certificate<'_>) -> CertFacts {
    CertFacts {
        serial_hex: hex::encode(cert.raw_serial()),
        not_after: cert.validity().not_after.timestamp(),
        fingerprint: fingerprint(der),
    }
}

pub(crate) fn facts(der: &[u8]) -> Result<CertFacts, PkiError> {
    let cert = parse(der)?;
    Ok(facts_of(der, &cert))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_prefixed_lowercase_sha256() {
        // sha256("") is well known.
        assert_eq!(
            fingerprint(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn normalize_fingerprint_accepts_both_forms() {
        let hex = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
        let want = format!("sha256:{}", hex.to_lowercase());
        assert_eq!(normalize_fingerprint(hex).unwrap(), want);
        assert_eq!(
            normalize_fingerprint(&format!("sha256:{hex}")).unwrap(),
            want
        );
        assert_eq!(normalize_fingerprint(&format!(" {want}\n")).unwrap(), want);
    }

    #[test]
    fn normalize_fingerprint_rejects_garbage() {
        for bad in [
            "",
            "sha256:",
            "sha256:abc",
            "md5:00",
            &"g".repeat(64),
            &"a".repeat(65),
        ] {
            assert!(
                matches!(
                    normalize_fingerprint(bad),
                    Err(PkiError::InvalidFingerprint(_))
                ),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn normalize_serial_ignores_format() {
        assert_eq!(normalize_serial("00:AB:cd"), "abcd");
        assert_eq!(normalize_serial("0xABCD"), "abcd");
        assert_eq!(normalize_serial("000"), "0");
    }
}
