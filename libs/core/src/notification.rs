//! A record of one notification delivery attempt. The URL it went to is known only
//! by its position in `CLAUDEOPS_APPRISE_URLS` (`#1`, `#2`, ...): URLs hold secrets
//! and are never stored.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// The notification's id; every attempt for every URL of one message shares it.
    pub notification_id: String,
    /// `incident_opened`, `needs_human_attention`, `daily_digest`, `test`, ...
    pub kind: String,
    pub title: String,
    /// The sites the message is about.
    pub sites: Vec<String>,
    /// 1-based position of the URL in the configured list.
    pub url_index: u32,
    /// 1 for the first try.
    pub attempt: u32,
    pub ok: bool,
    /// Why it failed, redacted (never contains a URL).
    pub error: Option<String>,
    pub at_ms: i64,
}
