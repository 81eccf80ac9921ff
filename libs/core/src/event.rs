//! Events: short, timestamped facts about a site that the dashboard lists and
//! escalation reads ("nginx down", "session 12 escalated to tier 2").
//!
//! Plain data only: storing, filtering and streaming events happen elsewhere.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::SiteName;
use crate::session::{SessionId, UnknownName};

/// How much an event matters, in increasing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventLevel {
    Info,
    Warning,
    Critical,
}

impl EventLevel {
    pub const ALL: &'static [EventLevel] =
        &[EventLevel::Info, EventLevel::Warning, EventLevel::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            EventLevel::Info => "info",
            EventLevel::Warning => "warning",
            EventLevel::Critical => "critical",
        }
    }
}

impl FromStr for EventLevel {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventLevel::ALL
            .iter()
            .copied()
            .find(|level| level.as_str() == s)
            .ok_or_else(|| UnknownName {
                kind: "event level",
                value: s.to_owned(),
            })
    }
}

impl fmt::Display for EventLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub type EventId = i64;

/// An event about to be recorded. Times are unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub ts_ms: i64,
    pub site: SiteName,
    /// The session the event came from, if any.
    pub session_id: Option<SessionId>,
    pub level: EventLevel,
    /// The service (container, unit, endpoint) the event is about, if any.
    pub service: Option<String>,
    pub message: String,
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    pub ts_ms: i64,
    pub site: SiteName,
    pub session_id: Option<SessionId>,
    pub level: EventLevel,
    pub service: Option<String>,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_round_trip_and_order() {
        for level in EventLevel::ALL {
            assert_eq!(level.as_str().parse::<EventLevel>(), Ok(*level));
        }
        assert!("error".parse::<EventLevel>().is_err());
        assert!(EventLevel::Info < EventLevel::Warning);
        assert!(EventLevel::Warning < EventLevel::Critical);
    }
}
