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

/// A duration that may be turned off: `off` (or `0`) reads as zero, which the
/// setting's owner takes to mean "never"; otherwise as [`duration`].
pub mod duration_or_off {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        d.deserialize_any(OffVisitor)
    }

    pub fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        if value.is_zero() {
            s.serialize_str("off")
        } else {
            duration::serialize(value, s)
        }
    }
}

struct OffVisitor;

impl<'de> Visitor<'de> for OffVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a duration such as \"30d\" or \"4h\", whole seconds, or \"off\"")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        DurationVisitor.visit_u64(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        DurationVisitor.visit_i64(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        if v.trim().eq_ignore_ascii_case("off") {
            Ok(Duration::ZERO)
        } else {
            DurationVisitor.visit_str(v)
        }
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

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    struct Decay {
        #[serde(with = "duration_or_off")]
        after: Duration,
    }

    #[test]
    fn a_duration_may_be_off() {
        let read = |json: &str| {
            serde_json::from_str::<Decay>(json)
                .map(|d| d.after.as_secs())
                .map_err(|e| e.to_string())
        };
        assert_eq!(read(r#"{"after":"off"}"#), Ok(0));
        assert_eq!(read(r#"{"after":" OFF "}"#), Ok(0));
        assert_eq!(read(r#"{"after":0}"#), Ok(0));
        assert_eq!(read(r#"{"after":"0"}"#), Ok(0));
        assert_eq!(read(r#"{"after":"30d"}"#), Ok(30 * 86_400));
        assert_eq!(read(r#"{"after":"1h"}"#), Ok(3_600));
        assert!(read(r#"{"after":"later"}"#).is_err_and(|e| e.contains("is not a duration")));
        for secs in [0, 86_400 * 30] {
            let decay = Decay {
                after: Duration::from_secs(secs),
            };
            let json = serde_json::to_string(&decay).unwrap_or_default();
            assert_eq!(read(&json), Ok(secs), "{json}");
        }
        assert_eq!(
            serde_json::to_string(&Decay {
                after: Duration::ZERO
            })
            .unwrap_or_default(),
            r#"{"after":"off"}"#
        );
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
