//! The notifier's settings: defaults, deserialisation (durations as humantime
//! strings such as "30s" or "4h") and validation that reports every problem at
//! once. The URLs are not here: they are secrets and travel as [`AppriseUrls`].
//!
//! [`AppriseUrls`]: crate::AppriseUrls

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::delivery::Backoff;
use crate::digest::DigestTime;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// The Apprise CLI (a name looked up in PATH, or a path).
    pub apprise_path: PathBuf,
    /// How long one delivery may take before Apprise is killed.
    #[serde(with = "humantime_one")]
    pub send_timeout: Duration,
    /// Events of one kind arriving within this window become one message.
    #[serde(with = "humantime_one")]
    pub group_window: Duration,
    /// How often an unresolved incident is brought up again; "off" for never.
    #[serde(with = "humantime_opt")]
    pub reminder_interval: Option<Duration>,
    /// The waits between attempts of a failed delivery; then it is given up.
    #[serde(with = "humantime_list")]
    pub retry_delays: Vec<Duration>,
    /// Events waiting to be grouped; past this, new events are dropped and counted.
    pub queue_capacity: usize,
    /// Apprise processes running at once.
    pub max_concurrent_sends: usize,
    /// Base URL of the dashboard, linked from messages.
    pub dashboard_url: Option<String>,
    /// When the daily digest goes out (UTC, "HH:MM"); "off" for never.
    #[serde(with = "digest_time_opt")]
    pub digest_time: Option<DigestTime>,
    /// How long shutting down waits for deliveries in flight.
    #[serde(with = "humantime_one")]
    pub shutdown_grace: Duration,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            apprise_path: PathBuf::from("apprise"),
            send_timeout: Duration::from_secs(30),
            group_window: Duration::from_secs(30),
            reminder_interval: Some(Duration::from_secs(4 * 3600)),
            retry_delays: Backoff::default_delays(),
            queue_capacity: 256,
            max_concurrent_sends: 4,
            dashboard_url: None,
            digest_time: Some(DigestTime::default()),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Every problem found in a [`NotifyConfig`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid notification settings: {}", .0.join("; "))]
pub struct ConfigErrors(pub Vec<String>);

impl NotifyConfig {
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut problems = Vec::new();
        if self.apprise_path.as_os_str().is_empty() {
            problems.push("apprise_path is empty: set it to apprise or a full path".to_owned());
        }
        if self.send_timeout.is_zero() {
            problems.push("send_timeout must be above zero, for example 30s".to_owned());
        }
        if self.group_window > Duration::from_secs(600) {
            problems.push(
                "group_window is over 10 minutes: use a shorter one, for example 30s".to_owned(),
            );
        }
        if self
            .reminder_interval
            .is_some_and(|d| d < Duration::from_secs(1))
        {
            problems.push("reminder_interval must be at least 1s, or off".to_owned());
        }
        if self.retry_delays.iter().any(Duration::is_zero) {
            problems.push("retry_delays must all be above zero".to_owned());
        }
        if self.queue_capacity == 0 {
            problems.push("queue_capacity must be at least 1".to_owned());
        }
        if self.max_concurrent_sends == 0 {
            problems.push("max_concurrent_sends must be at least 1".to_owned());
        }
        if let Some(url) = &self.dashboard_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            problems.push("dashboard_url must start with http:// or https://".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(problems))
        }
    }

    pub fn backoff(&self) -> Backoff {
        Backoff::new(self.retry_delays.clone())
    }
}

fn is_off(s: &str) -> bool {
    matches!(s.trim(), "off" | "none" | "never" | "0" | "")
}

mod humantime_one {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, de::Error};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(s.trim()).map_err(D::Error::custom)
    }
}

mod humantime_opt {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, de::Error};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let s = String::deserialize(d)?;
        if super::is_off(&s) {
            return Ok(None);
        }
        humantime::parse_duration(s.trim())
            .map(Some)
            .map_err(D::Error::custom)
    }
}

mod humantime_list {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, de::Error};

    /// "10s, 30s, 2m, 10m" or a list of such strings.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(String),
            Many(Vec<String>),
        }
        let items = match Raw::deserialize(d)? {
            Raw::One(s) => s.split(',').map(str::to_owned).collect(),
            Raw::Many(v) => v,
        };
        items
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(|s| humantime::parse_duration(s).map_err(D::Error::custom))
            .collect()
    }
}

mod digest_time_opt {
    use serde::{Deserialize, Deserializer, de::Error};

    use crate::digest::DigestTime;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DigestTime>, D::Error> {
        let s = String::deserialize(d)?;
        if super::is_off(&s) {
            return Ok(None);
        }
        s.parse().map(Some).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(NotifyConfig::default().validate(), Ok(()));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let bad = NotifyConfig {
            apprise_path: PathBuf::new(),
            send_timeout: Duration::ZERO,
            group_window: Duration::from_secs(3600),
            reminder_interval: Some(Duration::from_millis(10)),
            retry_delays: vec![Duration::ZERO],
            queue_capacity: 0,
            max_concurrent_sends: 0,
            dashboard_url: Some("ops.example".into()),
            ..NotifyConfig::default()
        };
        let errs = bad.validate().unwrap_err();
        assert_eq!(errs.0.len(), 8, "{errs}");
        assert!(
            errs.to_string()
                .starts_with("invalid notification settings: ")
        );
    }

    #[test]
    fn deserialises_humantime_strings_and_off() {
        let json = serde_json::json!({
            "apprise_path": "/usr/bin/apprise",
            "send_timeout": "45s",
            "group_window": "1m",
            "reminder_interval": "off",
            "retry_delays": "5s, 1m",
            "digest_time": "07:30",
            "dashboard_url": "https://ops.example"
        });
        let c: NotifyConfig = serde_json::from_value(json).unwrap();
        assert_eq!(c.send_timeout, Duration::from_secs(45));
        assert_eq!(c.group_window, Duration::from_secs(60));
        assert_eq!(c.reminder_interval, None);
        assert_eq!(
            c.retry_delays,
            vec![Duration::from_secs(5), Duration::from_secs(60)]
        );
        assert_eq!(c.digest_time, DigestTime::new(7, 30));
        assert_eq!(c.queue_capacity, 256);

        let list: NotifyConfig =
            serde_json::from_value(serde_json::json!({"retry_delays": ["1s", "2s"]})).unwrap();
        assert_eq!(list.retry_delays.len(), 2);
        let err =
            serde_json::from_value::<NotifyConfig>(serde_json::json!({"send_timeout": "soon"}));
        assert!(err.is_err());
        let unknown = serde_json::from_value::<NotifyConfig>(serde_json::json!({"urls": "x"}));
        assert!(unknown.is_err());
    }
}
