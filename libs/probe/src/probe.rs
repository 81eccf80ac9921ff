//! A compiled probe: a [`ProbeSpec`] validated once, with its `${VAR}` references
//! expanded and its conditions parsed, ready to run any number of attempts.
//!
//! Secrets come from the environment only. Every expanded value (and every
//! password or key a probe holds) is scrubbed from messages and evidence; errors
//! name the variable, never its value.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use crate::attempt::{self, Attempt, EVIDENCE_LIMIT, MESSAGE_LIMIT};
use crate::condition::Condition;
use crate::kinds::{self, Kind};
use crate::observation::Observation;
use crate::spec::ProbeSpec;

pub use claudeops_core::probe::{ProbeKind, SCHEMES};

/// Why a spec does not compile: which probe, which field, what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("probe `{probe}`, field `{field}`: {problem}")]
pub struct SpecError {
    pub probe: String,
    pub field: String,
    pub problem: String,
}

/// Per-probe memory between attempts (the Docker kind's last restart count).
#[derive(Debug, Default)]
pub(crate) struct Memory {
    pub restart_count: Option<i64>,
}

/// A compiled probe.
#[derive(Debug)]
pub struct Probe {
    spec: ProbeSpec,
    kind: Kind,
    conditions: Vec<Condition>,
    /// Expanded values and credentials, scrubbed from all output.
    secrets: Vec<String>,
    /// Expanded url and headers, so a changed variable counts as a changed probe.
    expanded: Vec<String>,
    memory: Mutex<Memory>,
}

/// Builds [`SpecError`]s for one probe.
pub(crate) struct Ctx<'a> {
    pub probe: &'a str,
    env: &'a dyn Fn(&str) -> Option<String>,
    pub secrets: Vec<String>,
}

impl Ctx<'_> {
    /// An error for `field`; any secret already read is scrubbed from it, in case a
    /// parser quoted its input.
    pub fn error(&self, field: &str, problem: impl Into<String>) -> SpecError {
        SpecError {
            probe: self.probe.to_owned(),
            field: field.to_owned(),
            problem: attempt::redact(&problem.into(), &self.secrets),
        }
    }

    /// The value of environment variable `name`, remembered as a secret.
    pub fn env(&mut self, field: &str, name: &str) -> Result<String, SpecError> {
        match (self.env)(name) {
            Some(v) if !v.is_empty() => {
                self.secret(&v);
                Ok(v)
            }
            _ => Err(self.error(
                field,
                format!(
                    "environment variable `{name}` is not set; set it in the worker's environment"
                ),
            )),
        }
    }

    pub fn secret(&mut self, value: &str) {
        // Very short values would blank out ordinary text; they are no secret anyway.
        if value.len() >= 3 && !self.secrets.iter().any(|s| s == value) {
            self.secrets.push(value.to_owned());
        }
    }

    /// Replaces `${NAME}` with the variable's value.
    pub fn expand(&mut self, field: &str, text: &str) -> Result<String, SpecError> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                return Err(self.error(field, "`${` has no closing `}`; write `${NAME}`"));
            };
            let name = &after[..end];
            let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(self.error(
                    field,
                    format!("`${{{name}}}` is not a variable name; use letters, digits and `_`"),
                ));
            }
            out.push_str(&self.env(field, name)?);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

impl Probe {
    /// Validates `spec`, expands `${VAR}` from the process environment and parses
    /// the conditions.
    pub fn compile(spec: &ProbeSpec) -> Result<Probe, SpecError> {
        Probe::compile_with(spec, &|name| std::env::var(name).ok())
    }

    /// As [`Probe::compile`], reading variables through `env`.
    pub fn compile_with(
        spec: &ProbeSpec,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Probe, SpecError> {
        let mut ctx = Ctx {
            probe: &spec.name,
            env,
            secrets: Vec::new(),
        };
        check_common(&ctx, spec)?;
        let (kind, expanded) = kinds::compile(&mut ctx, spec)?;
        let probe_kind = kind.kind();
        let texts: Vec<String> = if spec.conditions.is_empty() {
            probe_kind
                .default_conditions()
                .iter()
                .map(|s| (*s).to_owned())
                .collect()
        } else {
            spec.conditions.clone()
        };
        let mut conditions = Vec::with_capacity(texts.len());
        for (i, text) in texts.iter().enumerate() {
            let field = format!("conditions[{i}]");
            let condition = Condition::parse(text).map_err(|e| ctx.error(&field, e.to_string()))?;
            for p in condition.placeholders() {
                if !probe_kind.placeholders().contains(&p) || !kind.fills(p) {
                    let known: Vec<String> = probe_kind
                        .placeholders()
                        .iter()
                        .filter(|p| kind.fills(**p))
                        .map(|p| p.to_string())
                        .collect();
                    return Err(ctx.error(
                        &field,
                        format!(
                            "a {} probe has no {p}; use one of {}",
                            probe_kind.name(),
                            known.join(", ")
                        ),
                    ));
                }
            }
            conditions.push(condition);
        }
        let kind = kind.with_conditions(&conditions);
        Ok(Probe {
            spec: spec.clone(),
            kind,
            conditions,
            secrets: ctx.secrets,
            expanded,
            memory: Mutex::new(Memory::default()),
        })
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The service, or the probe's name when the spec names none.
    pub fn service(&self) -> &str {
        if self.spec.service.is_empty() {
            &self.spec.name
        } else {
            &self.spec.service
        }
    }

    pub fn spec(&self) -> &ProbeSpec {
        &self.spec
    }

    pub fn kind(&self) -> ProbeKind {
        self.kind.kind()
    }

    pub fn interval(&self) -> Duration {
        self.spec.interval()
    }

    pub fn timeout(&self) -> Duration {
        self.spec.timeout()
    }

    /// The conditions in force (the kind's defaults when the spec has none).
    pub fn conditions(&self) -> impl Iterator<Item = &str> {
        self.conditions.iter().map(Condition::text)
    }

    /// Same spec (where it came from aside) and same expanded values.
    pub fn same_as(&self, other: &Probe) -> bool {
        let mut a = self.spec.clone();
        let mut b = other.spec.clone();
        a.source = Default::default();
        b.source = Default::default();
        a == b && self.expanded == other.expanded
    }

    /// One attempt, on a fresh connection, under the probe's timeout.
    pub async fn run(&self) -> Attempt {
        let at = SystemTime::now();
        let started = Instant::now();
        let timeout = self.timeout();
        let observed = tokio::time::timeout(timeout, self.kind.observe(self, timeout)).await;
        let latency = started.elapsed();
        let mut obs = observed.unwrap_or_else(|_| {
            let mut o = Observation::failed(format!(
                "timed out after {}",
                humantime::format_duration(timeout)
            ));
            o.fault = o.error.clone();
            o
        });
        obs.response_time = latency;
        self.judge(&obs, at, latency)
    }

    pub(crate) fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.memory
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn judge(&self, obs: &Observation, at: SystemTime, latency: Duration) -> Attempt {
        let failed: Vec<String> = self
            .conditions
            .iter()
            .filter_map(|c| c.evaluate(obs).err().map(|why| format!("{c} ({why})")))
            .collect();
        let ok = failed.is_empty() && obs.fault.is_none();
        let mut head: Vec<&str> = Vec::new();
        for part in [&obs.fault, &obs.error] {
            if let Some(p) = part.as_deref() {
                head.push(p);
            }
        }
        if !obs.summary.is_empty() {
            head.push(&obs.summary);
        }
        let mut message = head.join("; ");
        if !failed.is_empty() {
            if !message.is_empty() {
                message.push_str("; ");
            }
            message.push_str("failed: ");
            message.push_str(&failed.join("; "));
        }
        if message.is_empty() {
            message = if ok { "ok" } else { "failed" }.to_owned();
        }
        let message = attempt::one_line(&attempt::redact(&message, &self.secrets), MESSAGE_LIMIT);
        let mut evidence = attempt::redact(&obs.evidence, &self.secrets);
        attempt::truncate(&mut evidence, EVIDENCE_LIMIT);
        Attempt {
            probe: self.spec.name.clone(),
            service: self.service().to_owned(),
            ok,
            latency,
            message,
            evidence,
            at,
        }
    }
}

fn check_common(ctx: &Ctx<'_>, spec: &ProbeSpec) -> Result<(), SpecError> {
    let name = spec.name.trim();
    if name.is_empty() {
        return Err(ctx.error("name", "is empty; give the probe a unique name"));
    }
    if name.chars().any(char::is_control) {
        return Err(ctx.error("name", "holds control characters; use a plain name"));
    }
    if spec.url.trim().is_empty() {
        return Err(ctx.error(
            "url",
            "is empty; write e.g. `https://host/health` or `tcp://host:5432`",
        ));
    }
    if matches!(spec.interval, Some(d) if d.is_zero()) {
        return Err(ctx.error("interval", "must be more than zero, e.g. `30s`"));
    }
    if matches!(spec.timeout, Some(d) if d.is_zero()) {
        return Err(ctx.error("timeout", "must be more than zero, e.g. `10s`"));
    }
    for (field, value) in [
        ("failure-threshold", spec.failure_threshold),
        ("success-threshold", spec.success_threshold),
    ] {
        if value == Some(0) {
            return Err(ctx.error(field, "must be at least 1"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
