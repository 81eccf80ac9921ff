//! The run-time set of revoked worker certificates.
//!
//! Why it exists: the gRPC server's client verifier (see
//! [`crate::tls::grpc_server_config`]) consults this set on every handshake,
//! so revoking a worker takes effect for its next connection without
//! rebuilding the TLS configuration. The control plane fills it from its
//! database at start and calls [`RevocationSet::revoke`] when an operator
//! revokes a worker.
//!
//! What it must not do: persist anything (the database is the record) or
//! close connections that are already established; the control plane must
//! drop a revoked worker's live streams itself.

use std::collections::HashSet;
use std::sync::RwLock;

use crate::cert::{self, FINGERPRINT_PREFIX};

/// Revoked certificate serials (hex, any case, `:` allowed) and fingerprints
/// (`sha256:HEX`). Cheap to clone behind an `Arc`; safe to share between
/// threads.
#[derive(Debug, Default)]
pub struct RevocationSet {
    entries: RwLock<HashSet<String>>,
}

/// Serials and fingerprints live in one set; the `sha256:` prefix keeps them
/// apart.
fn key(serial_or_fingerprint: &str) -> String {
    let trimmed = serial_or_fingerprint.trim().to_ascii_lowercase();
    if trimmed.starts_with(FINGERPRINT_PREFIX) {
        // A malformed fingerprint is kept verbatim: it can never match a
        // real certificate, and it must not turn into a serial.
        cert::normalize_fingerprint(&trimmed).unwrap_or(trimmed)
    } else {
        cert::normalize_serial(&trimmed)
    }
}

impl RevocationSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// A set holding `entries` (serials or fingerprints).
    pub fn from_entries<I, S>(entries: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let set = Self::new();
        set.replace_all(entries);
        set
    }

    /// Revokes a certificate by serial hex (as in
    /// [`IssuedCert::serial_hex`](crate::IssuedCert::serial_hex)) or by
    /// `sha256:` fingerprint. Returns `false` if it was already revoked.
    pub fn revoke(&self, serial_or_fingerprint: &str) -> bool {
        self.write().insert(key(serial_or_fingerprint))
    }

    /// Undoes [`RevocationSet::revoke`]. Returns `false` if it was not revoked.
    pub fn unrevoke(&self, serial_or_fingerprint: &str) -> bool {
        self.write().remove(&key(serial_or_fingerprint))
    }

    /// Replaces the whole set, e.g. after reloading from the database.
    pub fn replace_all<I, S>(&self, entries: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let fresh: HashSet<String> = entries.into_iter().map(|e| key(e.as_ref())).collect();
        *self.write() = fresh;
    }

    /// Whether this serial or fingerprint has been revoked.
    pub fn is_revoked(&self, serial_or_fingerprint: &str) -> bool {
        self.read().contains(&key(serial_or_fingerprint))
    }

    /// Whether a certificate with this serial or this fingerprint has been
    /// revoked; what the TLS verifier asks.
    pub fn is_cert_revoked(&self, serial_hex: &str, fingerprint: &str) -> bool {
        let entries = self.read();
        entries.contains(&key(serial_hex)) || entries.contains(&key(fingerprint))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether nothing is revoked.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    // A panic while holding the lock cannot leave a HashSet half-updated in a
    // way that matters here, so a poisoned lock is used as is.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashSet<String>> {
        self.entries.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashSet<String>> {
        self.entries.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP: &str = "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    #[test]
    fn serials_match_in_any_format() {
        let set = RevocationSet::new();
        assert!(set.is_empty());
        assert!(set.revoke("4A:0B:ff"));
        assert!(!set.revoke("4a0bff"));
        assert!(set.is_revoked("4a0bff"));
        assert!(set.is_revoked("004A0BFF"));
        assert!(!set.is_revoked("4a0bfe"));
        assert!(set.unrevoke("4a:0b:ff"));
        assert!(!set.is_revoked("4a0bff"));
    }

    #[test]
    fn fingerprints_and_serials_do_not_collide() {
        let set = RevocationSet::from_entries([FP]);
        assert_eq!(set.len(), 1);
        assert!(set.is_revoked(&FP.to_uppercase()));
        assert!(set.is_cert_revoked("01", FP));
        // The bare hex of the fingerprint is a serial, not the fingerprint.
        assert!(!set.is_revoked(FP.trim_start_matches("sha256:")));
        set.replace_all(["01"]);
        assert!(set.is_cert_revoked("01", "sha256:00"));
        assert!(!set.is_revoked(FP));
    }
}
