//! Site names: the unit of scheduling. One worker (or more) serves a site.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A validated site name: 1-63 characters of `[a-z0-9-]`, starting with a letter or digit.
///
/// Site names appear in certificates, URLs and file names, so the alphabet is kept small.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SiteName(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "invalid site name {name:?}: use 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit"
)]
pub struct InvalidSiteName {
    pub name: String,
}

impl SiteName {
    pub fn new(name: impl Into<String>) -> Result<SiteName, InvalidSiteName> {
        let name = name.into();
        let valid = !name.is_empty()
            && name.len() <= 63
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !name.starts_with('-');
        if valid {
            Ok(SiteName(name))
        } else {
            Err(InvalidSiteName { name })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SiteName {
    type Error = InvalidSiteName;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        SiteName::new(value)
    }
}

impl From<SiteName> for String {
    fn from(value: SiteName) -> Self {
        value.0
    }
}

impl fmt::Display for SiteName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_site_names() {
        let cases = [
            ("local", true),
            ("home-lab-2", true),
            ("9th", true),
            ("", false),
            ("-lead", false),
            ("Upper", false),
            ("sp ace", false),
            ("../etc", false),
            (&"a".repeat(64), false),
        ];
        for (name, ok) in cases {
            assert_eq!(SiteName::new(name).is_ok(), ok, "{name:?}");
        }
    }
}
