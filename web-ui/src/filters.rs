//! Template filters: how durations, money, times, tiers and statuses read on a page.
//!
//! Why it exists: one place decides "2m 05s", "$0.0123" and "2026-02-15 17:56:15 UTC",
//! so every page (and the session script, which mirrors `duration`) agrees.
//!
//! What it must not do: read the clock or the time zone (times are rendered in UTC
//! from the view model's unix milliseconds; "ago" takes "now" from the view model),
//! or return markup: every filter returns plain text that autoescaping then escapes.

use minijinja::{Environment, Value};

/// Registers every filter on the environment.
pub(crate) fn register(env: &mut Environment<'static>) {
    env.add_filter("duration", duration);
    env.add_filter("usd", usd);
    env.add_filter("utc", utc);
    env.add_filter("utc_short", utc_short);
    env.add_filter("ago", ago);
    env.add_filter("tier_label", tier_label);
    env.add_filter("status_class", status_class);
    env.add_filter("status_label", status_label);
    env.add_filter("urlencode", urlencode);
    env.add_filter("level_class", level_class);
    env.add_filter("action_class", action_class);
    env.add_filter("next_allowed", next_allowed);
    env.add_filter("percent", percent);
    env.add_filter("uptime", uptime);
    env.add_filter("utc_minute", utc_minute);
    env.add_filter("every", every);
}

/// Milliseconds as "850ms", "17s", "2m 05s" or "1h 02m".
pub(crate) fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = ms / 1000;
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m {:02}s", secs / 60, secs % 60),
        _ => format!("{}h {:02}m", secs / 3600, (secs % 3600) / 60),
    }
}

/// US dollars with four decimals: "$0.0123".
pub(crate) fn usd(amount: f64) -> String {
    if amount.is_finite() {
        format!("${amount:.4}")
    } else {
        "$?".to_owned()
    }
}

/// Unix milliseconds as "2026-02-15 17:56:15 UTC".
pub(crate) fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Unix milliseconds as "2026-02-15", a UTC day.
pub(crate) fn utc_day(ms: i64) -> String {
    let full = utc(ms);
    full.get(..10).unwrap_or(&full).to_owned()
}

/// Unix milliseconds as "2026-02-15 17:56 UTC".
pub(crate) fn utc_minute(ms: i64) -> String {
    format!("{} UTC", utc_short(ms))
}

/// Unix milliseconds as "2026-02-15 17:56", for tables (the header says UTC).
pub(crate) fn utc_short(ms: i64) -> String {
    let full = utc(ms);
    full.get(..16).unwrap_or(&full).to_owned()
}

/// How long before `now_ms` a moment was: "12s ago", "3m 20s ago"; "just now" for
/// anything under a second or in the future (clock skew between worker and server).
pub(crate) fn ago(ms: i64, now_ms: i64) -> String {
    let delta = now_ms.saturating_sub(ms);
    if delta < 1000 {
        "just now".to_owned()
    } else {
        let secs = delta / 1000;
        if secs >= 86_400 {
            format!("{}d ago", secs / 86_400)
        } else {
            format!("{} ago", duration(delta))
        }
    }
}

/// A tier with its role: "1 / Observe". Marked safe (digits and fixed words only)
/// so the slash is not written as `&#x2f;`.
fn tier_label(tier: i64) -> Value {
    Value::from_safe_string(tier_text(tier))
}

pub(crate) fn tier_text(tier: i64) -> String {
    let role = match tier {
        1 => "Observe",
        2 => "Investigate",
        3 => "Remediate",
        _ => return format!("{tier} / ?"),
    };
    format!("{tier} / {role}")
}

/// The CSS class suffix for a status badge; unknown statuses get a neutral look.
pub(crate) fn status_class(status: &str) -> &'static str {
    match status {
        "running" => "running",
        "completed" => "completed",
        "failed" => "failed",
        "timed_out" => "timed_out",
        "stopped" => "stopped",
        _ => "other",
    }
}

/// A status in words: "timed out".
pub(crate) fn status_label(status: &str) -> String {
    status.replace('_', " ")
}

/// The CSS class suffix for an event level badge; unknown levels look neutral.
pub(crate) fn level_class(level: &str) -> &'static str {
    match level {
        "critical" => "critical",
        "warning" => "warning",
        "info" => "info",
        _ => "other",
    }
}

/// The CSS class suffix for a remediation action's status badge.
pub(crate) fn action_class(status: &str) -> &'static str {
    match status {
        "reserved" => "reserved",
        "succeeded" => "succeeded",
        "failed" => "failed",
        "released" => "released",
        "denied" => "denied",
        _ => "other",
    }
}

/// When a service at its limit may be touched again: "next allowed in 2h 13m",
/// "allowed now" once the moment has passed, "never (the limit is 0)" for the
/// ledger's `i64::MAX`.
pub(crate) fn next_allowed(next_ms: i64, now_ms: i64) -> String {
    if next_ms == i64::MAX {
        "never (the limit is 0)".to_owned()
    } else if next_ms <= now_ms {
        "allowed now".to_owned()
    } else {
        let wait = next_ms.saturating_sub(now_ms);
        if wait >= 48 * 3_600_000 {
            format!("next allowed in {}d", wait / 86_400_000)
        } else {
            format!("next allowed in {}", duration(wait))
        }
    }
}

/// An uptime percentage with two decimals ("99.95%"), "100%" when whole;
/// "no data" without one.
pub(crate) fn uptime(percent: Option<f64>) -> String {
    match percent {
        Some(p) if p >= 100.0 => "100%".to_owned(),
        Some(p) if p.is_finite() => format!("{:.2}%", (p * 100.0).floor() / 100.0),
        _ => "no data".to_owned(),
    }
}

/// A fraction from 0 to 1 as a percentage: "93.4%", "100%"; "—" when not a number.
pub(crate) fn percent(fraction: f64) -> String {
    if !fraction.is_finite() {
        return "—".to_owned();
    }
    let text = format!("{:.1}", (fraction * 100.0).clamp(0.0, 100.0));
    format!("{}%", text.strip_suffix(".0").unwrap_or(&text))
}

/// A schedule interval in seconds as "every 1h", "every 30m", "every 1h 30m".
pub(crate) fn every(seconds: i64) -> String {
    let seconds = seconds.max(0);
    let text = match seconds {
        0 => return "not scheduled".to_owned(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 && s < 3600 => format!("{}m", s / 60),
        s => duration(s.saturating_mul(1000)),
    };
    format!("every {text}")
}

/// Percent-encodes a query-string value (RFC 3986 unreserved characters pass).
pub(crate) fn urlencode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // d is 1..=31 and m is 1..=12 by construction.
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let cases = [
            (-5, "0ms"),
            (850, "850ms"),
            (1_000, "1s"),
            (17_400, "17s"),
            (59_999, "59s"),
            (60_000, "1m 00s"),
            (125_000, "2m 05s"),
            (3_600_000, "1h 00m"),
            (3_720_000, "1h 02m"),
            (90_000_000, "25h 00m"),
        ];
        for (ms, want) in cases {
            assert_eq!(duration(ms), want, "{ms}");
        }
    }

    #[test]
    fn money() {
        assert_eq!(usd(0.0123), "$0.0123");
        assert_eq!(usd(0.0731), "$0.0731");
        assert_eq!(usd(0.0), "$0.0000");
        assert_eq!(usd(12.345_67), "$12.3457");
        assert_eq!(usd(f64::NAN), "$?");
    }

    #[test]
    fn utc_times() {
        let cases = [
            (0, "1970-01-01 00:00:00 UTC"),
            (1_771_178_175_000, "2026-02-15 17:56:15 UTC"),
            (951_782_400_000, "2000-02-29 00:00:00 UTC"),
            (1_709_251_199_999, "2024-02-29 23:59:59 UTC"),
            (-1, "1969-12-31 23:59:59 UTC"),
            (4_102_444_800_000, "2100-01-01 00:00:00 UTC"),
        ];
        for (ms, want) in cases {
            assert_eq!(utc(ms), want, "{ms}");
        }
        assert_eq!(utc_short(1_771_178_175_000), "2026-02-15 17:56");
    }

    #[test]
    fn relative_times() {
        assert_eq!(ago(10_000, 10_500), "just now");
        assert_eq!(ago(20_000, 10_000), "just now");
        assert_eq!(ago(0, 12_000), "12s ago");
        assert_eq!(ago(0, 200_000), "3m 20s ago");
        assert_eq!(ago(0, 3 * 86_400_000), "3d ago");
    }

    #[test]
    fn tiers_and_statuses() {
        assert_eq!(tier_text(1), "1 / Observe");
        assert_eq!(tier_text(2), "2 / Investigate");
        assert_eq!(tier_text(3), "3 / Remediate");
        assert_eq!(tier_text(-7), "-7 / ?");
        assert_eq!(status_class("timed_out"), "timed_out");
        assert_eq!(status_class("\" onclick=x"), "other");
        assert_eq!(status_label("timed_out"), "timed out");
    }

    #[test]
    fn levels_and_action_statuses() {
        assert_eq!(level_class("critical"), "critical");
        assert_eq!(level_class("warning"), "warning");
        assert_eq!(level_class("info"), "info");
        assert_eq!(level_class("\" onclick=x"), "other");
        for s in ["reserved", "succeeded", "failed", "released", "denied"] {
            assert_eq!(action_class(s), s);
        }
        assert_eq!(action_class("<b>"), "other");
    }

    #[test]
    fn next_allowed_times() {
        let now = 1_000_000_000;
        let in_2h13m = now + (2 * 3600 + 13 * 60) * 1000;
        assert_eq!(next_allowed(in_2h13m, now), "next allowed in 2h 13m");
        assert_eq!(next_allowed(now + 45_000, now), "next allowed in 45s");
        assert_eq!(next_allowed(now + 90_000, now), "next allowed in 1m 30s");
        assert_eq!(
            next_allowed(now + 23 * 3_600_000, now),
            "next allowed in 23h 00m"
        );
        assert_eq!(
            next_allowed(now + 72 * 3_600_000, now),
            "next allowed in 3d"
        );
        assert_eq!(next_allowed(now, now), "allowed now");
        assert_eq!(next_allowed(now - 5, now), "allowed now");
        assert_eq!(next_allowed(i64::MAX, now), "never (the limit is 0)");
    }

    #[test]
    fn percentages_and_intervals() {
        assert_eq!(percent(0.934), "93.4%");
        assert_eq!(percent(1.0), "100%");
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(1.7), "100%");
        assert_eq!(percent(f64::NAN), "—");
        assert_eq!(every(3600), "every 1h");
        assert_eq!(every(1800), "every 30m");
        assert_eq!(every(5400), "every 1h 30m");
        assert_eq!(every(86_400), "every 1d");
        assert_eq!(every(90), "every 1m 30s");
        assert_eq!(every(0), "not scheduled");
    }

    #[test]
    fn url_encoding() {
        assert_eq!(urlencode("home-lab_2.x~"), "home-lab_2.x~");
        assert_eq!(urlencode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}
