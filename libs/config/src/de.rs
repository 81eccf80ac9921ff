//! Serde helpers for values that arrive as text in `CLAUDEOPS_*` variables
//! (figment reads `4h` as a string and `3600` as a number). Each parses once,
//! at load, with an error that names what was expected.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::Serializer;

/// A duration: humantime text (`"90s"`, `"4h"`, `"1h 30m"`) or whole seconds.
pub mod duration {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        d.deserialize_any(DurationVisitor)
    }

    pub fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*value).to_string())
    }
}

struct DurationVisitor;

impl<'de> Visitor<'de> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a duration such as \"90s\" or \"4h\", or whole seconds")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        Ok(Duration::from_secs(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        u64::try_from(v)
            .map(Duration::from_secs)
            .map_err(|_| E::custom(format!("a duration cannot be negative ({v})")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        let v = v.trim();
        if let Ok(secs) = v.parse::<u64>() {
            return Ok(Duration::from_secs(secs));
        }
        humantime::parse_duration(v).map_err(|e| {
            E::custom(format!(
                "{v:?} is not a duration such as \"90s\" or \"4h\": {e}"
            ))
        })
    }
}

/// A list: comma-separated text (`"Bash,Read"`; blanks dropped) or a sequence.
pub mod list {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        d.deserialize_any(ListVisitor)
    }

    pub fn serialize<S: Serializer>(value: &[String], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&value.join(","))
    }
}

/// Splits a comma-separated list, trimming items and dropping blanks.
pub fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

struct ListVisitor;

impl<'de> Visitor<'de> for ListVisitor {
    type Value = Vec<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a comma-separated list")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<String>, E> {
        Ok(split_list(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = seq.next_element::<String>()? {
            out.extend(split_list(&item));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    struct Sample {
        #[serde(with = "duration")]
        window: Duration,
        #[serde(with = "list")]
        tools: Vec<String>,
    }

    fn parse(json: &str) -> Result<Sample, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn durations_and_lists_parse_once_with_clear_errors() {
        type Want = Result<(u64, &'static [&'static str]), &'static str>;
        let cases: &[(&str, Want)] = &[
            (
                r#"{"window":"4h","tools":"Bash, Read,,"}"#,
                Ok((14_400, &["Bash", "Read"])),
            ),
            (
                r#"{"window":90,"tools":["A","B,C"]}"#,
                Ok((90, &["A", "B", "C"])),
            ),
            (r#"{"window":"1h 30m","tools":""}"#, Ok((5_400, &[]))),
            (r#"{"window":"60","tools":"X"}"#, Ok((60, &["X"]))),
            (r#"{"window":"soon","tools":""}"#, Err("is not a duration")),
            (r#"{"window":-5,"tools":""}"#, Err("cannot be negative")),
        ];
        for (json, want) in cases {
            match (parse(json), want) {
                (Ok(got), Ok((secs, tools))) => {
                    assert_eq!(got.window, Duration::from_secs(*secs), "{json}");
                    assert_eq!(got.tools, *tools, "{json}");
                }
                (Err(e), Err(needle)) => assert!(e.contains(needle), "{json}: {e}"),
                (got, want) => panic!("{json}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn a_value_written_out_reads_back_the_same() {
        let sample = Sample {
            window: Duration::from_secs(5_400),
            tools: vec!["Bash".into(), "Read".into()],
        };
        let json = serde_json::to_string(&sample).unwrap_or_default();
        assert_eq!(json, r#"{"window":"1h 30m","tools":"Bash,Read"}"#);
        assert_eq!(parse(&json), Ok(sample));
    }
}
