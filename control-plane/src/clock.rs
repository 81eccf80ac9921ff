//! Time, in one place. The control plane stores times as unix milliseconds;
//! these two functions are the only way it reads the clock or turns a stored
//! time back into a `SystemTime`. (The core crate keeps no clock by rule.)

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Now, as unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A unix-milliseconds time as a `SystemTime` (before 1970 reads as 1970).
pub fn time_of_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// Unix milliseconds as RFC 3339 with milliseconds, UTC: how times are shown.
pub fn rfc3339(ms: i64) -> String {
    humantime::format_rfc3339_millis(time_of_ms(ms)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_time_reads_back_as_the_same_instant() {
        let now = now_ms();
        assert!(now > 1_700_000_000_000, "the clock reads {now}");
        let back = time_of_ms(now)
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        assert_eq!(i64::try_from(back).unwrap_or_default(), now);
        assert_eq!(time_of_ms(-5), UNIX_EPOCH);
    }
}
