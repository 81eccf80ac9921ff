//! Probes in the inventory's JSON carry their `source`, which `ProbeSpec` itself
//! never serialises (an operator must not be able to write one in YAML). Each
//! probe becomes the spec's own fields plus `"source": {"kind": ...}`.

use claudeops_probe::{ProbeSpec, Source};
use serde::de::Error as _;
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Serialize)]
struct WithSourceRef<'a> {
    #[serde(flatten)]
    spec: &'a ProbeSpec,
    source: &'a Source,
}

#[derive(Deserialize)]
struct WithSource {
    #[serde(default)]
    source: Source,
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

pub fn serialize<S: Serializer>(probes: &[ProbeSpec], s: S) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(probes.len()))?;
    for spec in probes {
        seq.serialize_element(&WithSourceRef {
            spec,
            source: &spec.source,
        })?;
    }
    seq.end()
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ProbeSpec>, D::Error> {
    let items = Vec::<WithSource>::deserialize(d)?;
    items
        .into_iter()
        .map(|item| {
            let mut spec = ProbeSpec::deserialize(serde_json::Value::Object(item.rest))
                .map_err(D::Error::custom)?;
            spec.source = item.source;
            Ok(spec)
        })
        .collect()
}
