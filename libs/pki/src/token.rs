//! Enrollment tokens: one copy-pasteable string that lets a new worker find
//! and trust the control plane and prove it was invited.
//!
//! Format: `cot1.<id>.<secret>.<ca-fingerprint-hex>.<enroll-port>` where `id`
//! is 16 lowercase letters/digits (the database key), `secret` is 32 random
//! bytes in unpadded base64url, the fingerprint is the 64 lowercase hex
//! digits of the CA certificate's SHA-256, and the port is where the
//! enrollment endpoint listens.
//!
//! Why it exists: the worker has nothing yet (no CA, no certificate); the
//! fingerprint lets it pin the CA on first contact (see
//! [`crate::tls::pinned_client_config`]) and the secret authenticates it.
//!
//! What it must not do: let the control plane keep secrets. It stores only
//! [`hash_secret`] of the secret and compares with [`verify_secret`]
//! (constant time). `Debug` never prints the secret.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::cert::{FINGERPRINT_PREFIX, normalize_fingerprint};
use crate::{PkiError, random_bytes};

/// The version prefix of the token format.
pub const TOKEN_PREFIX: &str = "cot1";
const ID_LEN: usize = 16;
const ID_ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const SECRET_LEN: usize = 32;

/// An enrollment invitation.
#[derive(Clone, PartialEq, Eq)]
pub struct EnrollToken {
    /// Public id; the control plane looks the token up by it.
    pub id: String,
    /// The secret, base64url without padding (43 characters).
    pub secret: String,
    /// `sha256:` + 64 lowercase hex digits, as [`Ca::fingerprint`](crate::Ca::fingerprint).
    pub ca_fingerprint: String,
    /// The port of the enrollment endpoint.
    pub enroll_port: u16,
}

impl fmt::Debug for EnrollToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnrollToken")
            .field("id", &self.id)
            .field("secret", &"[redacted]")
            .field("ca_fingerprint", &self.ca_fingerprint)
            .field("enroll_port", &self.enroll_port)
            .finish()
    }
}

impl EnrollToken {
    /// A new token with a random id and secret. `ca_fingerprint` may be
    /// `sha256:HEX` or bare `HEX`.
    pub fn generate(ca_fingerprint: &str, enroll_port: u16) -> Result<EnrollToken, PkiError> {
        let ca_fingerprint = normalize_fingerprint(ca_fingerprint)?;
        if enroll_port == 0 {
            return Err(PkiError::MalformedToken(
                "the enrollment port must be from 1 to 65535".to_owned(),
            ));
        }
        let mut id = String::with_capacity(ID_LEN);
        while id.len() < ID_LEN {
            let bytes: [u8; 32] = random_bytes()?;
            // Rejection sampling keeps the alphabet uniform: 252 = 7 * 36.
            for b in bytes.into_iter().filter(|b| *b < 252) {
                if id.len() == ID_LEN {
                    break;
                }
                id.push(char::from(ID_ALPHABET[usize::from(b % 36)]));
            }
        }
        let secret: [u8; SECRET_LEN] = random_bytes()?;
        Ok(EnrollToken {
            id,
            secret: URL_SAFE_NO_PAD.encode(secret),
            ca_fingerprint,
            enroll_port,
        })
    }

    /// The copy-pasteable form, `cot1.ID.SECRET.FPHEX.PORT`.
    pub fn encode(&self) -> String {
        let fp_hex = self
            .ca_fingerprint
            .strip_prefix(FINGERPRINT_PREFIX)
            .unwrap_or(&self.ca_fingerprint);
        format!(
            "{TOKEN_PREFIX}.{}.{}.{}.{}",
            self.id, self.secret, fp_hex, self.enroll_port
        )
    }

    /// Parses [`EnrollToken::encode`]'s output; surrounding whitespace is
    /// ignored (copy and paste), anything else malformed is an error that
    /// says which part is wrong.
    pub fn parse(input: &str) -> Result<EnrollToken, PkiError> {
        let bad = |msg: String| PkiError::MalformedToken(msg);
        let token = input.trim();
        if token.is_empty() {
            return Err(bad("it is empty".to_owned()));
        }
        let parts: Vec<&str> = token.split('.').collect();
        if parts.first() != Some(&TOKEN_PREFIX) {
            return Err(bad(format!("it must start with `{TOKEN_PREFIX}.`")));
        }
        let [_, id, secret, fp_hex, port] = parts.as_slice() else {
            return Err(bad(format!(
                "expected 5 dot-separated parts ({TOKEN_PREFIX}.ID.SECRET.FINGERPRINT.PORT), found {}",
                parts.len()
            )));
        };
        if id.len() != ID_LEN || !id.bytes().all(|b| ID_ALPHABET.contains(&b)) {
            return Err(bad(format!(
                "the id must be {ID_LEN} lowercase letters or digits"
            )));
        }
        let decoded = URL_SAFE_NO_PAD
            .decode(secret)
            .map_err(|_| bad("the secret is not unpadded base64url".to_owned()))?;
        if decoded.len() != SECRET_LEN {
            return Err(bad(format!(
                "the secret must decode to {SECRET_LEN} bytes, not {}",
                decoded.len()
            )));
        }
        if fp_hex.len() != 64
            || !fp_hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad(
                "the ca fingerprint must be 64 lowercase hex digits".to_owned()
            ));
        }
        let enroll_port = match port.parse::<u16>() {
            Ok(p) if p != 0 && !port.starts_with('+') => p,
            _ => {
                return Err(bad(format!(
                    "the port {port:?} is not a number from 1 to 65535"
                )));
            }
        };
        Ok(EnrollToken {
            id: (*id).to_owned(),
            secret: (*secret).to_owned(),
            ca_fingerprint: format!("{FINGERPRINT_PREFIX}{fp_hex}"),
            enroll_port,
        })
    }
}

/// Lowercase hex SHA-256 of the secret's text: what the control plane stores.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Whether `secret` hashes to `stored_hash` (as from [`hash_secret`]),
/// compared in constant time.
pub fn verify_secret(secret: &str, stored_hash: &str) -> bool {
    constant_time_eq(
        hash_secret(secret).as_bytes(),
        stored_hash.trim().to_ascii_lowercase().as_bytes(),
    )
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a
        .iter()
        .zip(b)
        .fold(0u8, |acc, (x, y)| acc | std::hint::black_box(x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP: &str = "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    #[test]
    fn generate_encode_parse_round_trip() {
        let token = EnrollToken::generate(FP, 8443).unwrap();
        assert_eq!(token.id.len(), 16);
        assert_eq!(token.secret.len(), 43);
        assert_eq!(token.ca_fingerprint, FP);
        let encoded = token.encode();
        assert!(encoded.starts_with("cot1."), "{encoded}");
        assert!(!encoded.contains("sha256"), "{encoded}");
        assert_eq!(EnrollToken::parse(&encoded).unwrap(), token);
        assert_eq!(
            EnrollToken::parse(&format!("  {encoded}\n")).unwrap(),
            token
        );
        // Tokens are random.
        let other = EnrollToken::generate(FP, 8443).unwrap();
        assert_ne!(other.id, token.id);
        assert_ne!(other.secret, token.secret);
    }

    #[test]
    fn generate_normalizes_or_rejects_the_fingerprint() {
        let bare = FP.trim_start_matches("sha256:").to_uppercase();
        assert_eq!(EnrollToken::generate(&bare, 1).unwrap().ca_fingerprint, FP);
        assert!(matches!(
            EnrollToken::generate("sha256:abc", 1),
            Err(PkiError::InvalidFingerprint(_))
        ));
        assert!(matches!(
            EnrollToken::generate(FP, 0),
            Err(PkiError::MalformedToken(_))
        ));
    }

    #[test]
    fn debug_hides_the_secret() {
        let token = EnrollToken::generate(FP, 8443).unwrap();
        let dbg = format!("{token:?}");
        assert!(!dbg.contains(&token.secret), "{dbg}");
        assert!(dbg.contains("redacted"));
    }

    #[test]
    fn parse_rejects_malformed_tokens() {
        let good = EnrollToken::generate(FP, 8443).unwrap();
        let fp_hex = FP.trim_start_matches("sha256:");
        let with = |id: &str, secret: &str, fp: &str, port: &str| {
            format!("cot1.{id}.{secret}.{fp}.{port}")
        };
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "empty"),
            ("   ".to_owned(), "empty"),
            (
                good.encode().replacen("cot1", "cot2", 1),
                "must start with `cot1.`",
            ),
            ("hello".to_owned(), "must start with `cot1.`"),
            (format!("{}.extra", good.encode()), "found 6"),
            (
                good.encode().rsplit_once('.').unwrap().0.to_owned(),
                "found 4",
            ),
            (with("short", &good.secret, fp_hex, "1"), "the id must be"),
            (
                with("ABCDEFGHIJKLMNOP", &good.secret, fp_hex, "1"),
                "the id must be",
            ),
            (
                with(&good.id, "not*base64", fp_hex, "1"),
                "not unpadded base64url",
            ),
            (
                with(&good.id, &format!("{}=", good.secret), fp_hex, "1"),
                "not unpadded base64url",
            ),
            (with(&good.id, "AAAA", fp_hex, "1"), "32 bytes, not 3"),
            (
                with(&good.id, &good.secret, &fp_hex[..63], "1"),
                "64 lowercase hex",
            ),
            (
                with(&good.id, &good.secret, &fp_hex.to_uppercase(), "1"),
                "64 lowercase hex",
            ),
            (
                with(&good.id, &good.secret, fp_hex, "0"),
                "not a number from 1 to 65535",
            ),
            (
                with(&good.id, &good.secret, fp_hex, "65536"),
                "not a number from 1 to 65535",
            ),
            (
                with(&good.id, &good.secret, fp_hex, "+80"),
                "not a number from 1 to 65535",
            ),
            (
                with(&good.id, &good.secret, fp_hex, ""),
                "not a number from 1 to 65535",
            ),
        ];
        for (input, want) in cases {
            let err = EnrollToken::parse(&input).expect_err(&input);
            assert!(
                matches!(err, PkiError::MalformedToken(_)),
                "{input}: {err:?}"
            );
            let msg = err.to_string();
            assert!(msg.contains(want), "{input:?}: {msg:?} lacks {want:?}");
            assert!(msg.starts_with("malformed enrollment token: "), "{msg}");
            assert!(
                !msg.contains(&good.secret),
                "error echoes the secret: {msg}"
            );
        }
    }

    #[test]
    fn secret_hash_and_comparison() {
        let token = EnrollToken::generate(FP, 1).unwrap();
        let stored = hash_secret(&token.secret);
        assert_eq!(stored.len(), 64);
        assert!(
            stored
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert!(verify_secret(&token.secret, &stored));
        assert!(verify_secret(&token.secret, &stored.to_uppercase()));
        assert!(!verify_secret("wrong", &stored));
        assert!(!verify_secret(&token.secret, ""));
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }
}
