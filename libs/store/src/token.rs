//! The rules of one-time enrollment tokens, shared by both backends.
//!
//! Pure decisions only: the backends fetch the row, ask here, and then mark the
//! token used with one conditional UPDATE. Nothing here touches the database.

use crate::StoreError;

/// What a backend read about a token before trying to use it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct TokenRow {
    pub(crate) secret_hash: String,
    pub(crate) site: String,
    pub(crate) expires_at_ms: i64,
    pub(crate) used_at_ms: Option<i64>,
}

/// Compares in time that depends only on the lengths, not on where the bytes differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether the presented hash may use this token now. A wrong secret answers
/// `TokenUnknown` before anything else, so it reveals nothing about the token's state.
pub(crate) fn check(row: &TokenRow, secret_hash: &str, now_ms: i64) -> Result<(), StoreError> {
    if !constant_time_eq(row.secret_hash.as_bytes(), secret_hash.as_bytes()) {
        return Err(StoreError::TokenUnknown);
    }
    if row.used_at_ms.is_some() {
        return Err(StoreError::TokenUsed);
    }
    if now_ms >= row.expires_at_ms {
        return Err(StoreError::TokenExpired);
    }
    Ok(())
}

/// Why the conditional UPDATE changed nothing, given the row read afterwards.
pub(crate) fn lost_race(row: Option<&TokenRow>) -> StoreError {
    match row {
        None => StoreError::TokenUnknown,
        Some(row) if row.used_at_ms.is_some() => StoreError::TokenUsed,
        Some(_) => StoreError::TokenExpired,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(used: Option<i64>) -> TokenRow {
        TokenRow {
            secret_hash: "abcd".into(),
            site: "local".into(),
            expires_at_ms: 100,
            used_at_ms: used,
        }
    }

    #[test]
    fn checks_in_order_secret_used_expired() {
        let cases = [
            (row(None), "abcd", 50, "ok"),
            (row(None), "abce", 50, "unknown"),
            (row(None), "abc", 50, "unknown"),
            (row(Some(10)), "abce", 500, "unknown"),
            (row(Some(10)), "abcd", 50, "used"),
            (row(Some(10)), "abcd", 500, "used"),
            (row(None), "abcd", 100, "expired"),
        ];
        for (row, hash, now, want) in cases {
            let got = match check(&row, hash, now) {
                Ok(()) => "ok",
                Err(StoreError::TokenUnknown) => "unknown",
                Err(StoreError::TokenUsed) => "used",
                Err(StoreError::TokenExpired) => "expired",
                Err(other) => panic!("unexpected {other}"),
            };
            assert_eq!(got, want, "{hash} at {now}");
        }
    }
}
