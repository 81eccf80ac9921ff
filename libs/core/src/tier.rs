//! Permission tiers: a cheap model observes, a stronger one investigates and applies
//! safe fixes, the strongest runs full redeployments.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum Tier {
    Observe = 1,
    Investigate = 2,
    Remediate = 3,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid tier {0}: tiers are 1 (observe), 2 (investigate) and 3 (remediate)")]
pub struct InvalidTier(pub i64);

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Observe, Tier::Investigate, Tier::Remediate];

    pub fn number(self) -> u8 {
        self as u8
    }

    /// The next tier up, if any.
    pub fn next(self) -> Option<Tier> {
        match self {
            Tier::Observe => Some(Tier::Investigate),
            Tier::Investigate => Some(Tier::Remediate),
            Tier::Remediate => None,
        }
    }

    /// The role word shown beside the number ("1 / Observe").
    pub fn role(self) -> &'static str {
        match self {
            Tier::Observe => "Observe",
            Tier::Investigate => "Investigate",
            Tier::Remediate => "Remediate",
        }
    }

    /// The original's default model alias for the tier.
    pub fn default_model(self) -> &'static str {
        match self {
            Tier::Observe => "haiku",
            Tier::Investigate => "sonnet",
            Tier::Remediate => "opus",
        }
    }
}

impl TryFrom<u8> for Tier {
    type Error = InvalidTier;
    fn try_from(value: u8) -> Result<Self, Self::Error> {
        Tier::try_from(i64::from(value))
    }
}

impl TryFrom<i64> for Tier {
    type Error = InvalidTier;
    fn try_from(value: i64) -> Result<Self, Self::Error> {
        match value {
            1 => Ok(Tier::Observe),
            2 => Ok(Tier::Investigate),
            3 => Ok(Tier::Remediate),
            other => Err(InvalidTier(other)),
        }
    }
}

impl From<Tier> for u8 {
    fn from(value: Tier) -> Self {
        value.number()
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.number())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_round_trip_and_reject_others() {
        for tier in Tier::ALL {
            assert_eq!(Tier::try_from(tier.number()), Ok(tier));
        }
        assert_eq!(Tier::try_from(0u8), Err(InvalidTier(0)));
        assert_eq!(Tier::try_from(4i64), Err(InvalidTier(4)));
        assert_eq!(Tier::Observe.next(), Some(Tier::Investigate));
        assert_eq!(Tier::Remediate.next(), None);
    }
}
