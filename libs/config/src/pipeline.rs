//! The configuration pipeline both binaries share: defaults, then the
//! `CLAUDEOPS_*` variables, then `ANTHROPIC_*` (as `anthropic_*` fields), then
//! more specific aliases (a worker's `CLAUDEOPS_WORKER_STATE_DIR` wins over
//! `CLAUDEOPS_STATE_DIR`). Values that must parse into a type are checked one
//! by one, so every unreadable value is reported at once (serde stops at the
//! first).

use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Serialized};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Defaults, the environment, then `aliases` as (variable, field).
pub fn figment(defaults: impl Serialize, aliases: &[(&'static str, &'static str)]) -> Figment {
    let mut figment = Figment::from(Serialized::defaults(defaults))
        .merge(Env::prefixed("CLAUDEOPS_"))
        .merge(Env::prefixed("ANTHROPIC_").map(|k| format!("anthropic_{k}").into()));
    for (var, field) in aliases {
        let field = *field;
        figment = figment.merge(Env::raw().only(&[var]).map(move |_| field.into()));
    }
    figment
}

/// One message per field of `fields` whose value does not read as a `T`,
/// naming its variable.
pub fn unreadable<T: DeserializeOwned>(figment: &Figment, fields: &[&str]) -> Vec<String> {
    fields
        .iter()
        .filter_map(|field| {
            figment
                .extract_inner::<T>(field)
                .err()
                .map(|e| format!("{}: {}", crate::catalogue::var_of_field(field), e.kind))
        })
        .collect()
}

/// A duration as the variables write it, for [`unreadable`].
#[derive(Debug, serde::Deserialize)]
pub struct AnyDuration(#[serde(with = "crate::de::duration")] pub Duration);

/// A duration or `off`, as the variables write it, for [`unreadable`].
#[derive(Debug, serde::Deserialize)]
pub struct AnyDurationOrOff(#[serde(with = "crate::de::duration_or_off")] pub Duration);

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Serialize, serde::Deserialize)]
    struct Sample {
        state_dir: String,
        #[serde(with = "crate::de::duration")]
        window: Duration,
        anthropic_api_key: Option<String>,
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's error type, in a test
    fn variables_then_aliases_and_every_bad_value_named() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("CLAUDEOPS_STATE_DIR", "/general");
            jail.set_env("CLAUDEOPS_WORKER_STATE_DIR", "/specific");
            jail.set_env("CLAUDEOPS_WINDOW", "90m");
            jail.set_env("ANTHROPIC_API_KEY", "k");
            let fig = figment(
                Sample::default(),
                &[("CLAUDEOPS_WORKER_STATE_DIR", "state_dir")],
            );
            let sample: Sample = fig.extract()?;
            assert_eq!(sample.state_dir, "/specific");
            assert_eq!(sample.window, Duration::from_secs(5_400));
            assert_eq!(sample.anthropic_api_key.as_deref(), Some("k"));
            assert!(unreadable::<AnyDuration>(&fig, &["window"]).is_empty());

            jail.set_env("CLAUDEOPS_WINDOW", "soon");
            let fig = figment(Sample::default(), &[]);
            let problems = unreadable::<AnyDuration>(&fig, &["window"]);
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert!(
                problems[0].starts_with("CLAUDEOPS_WINDOW: "),
                "{problems:?}"
            );
            Ok(())
        });
    }
}
