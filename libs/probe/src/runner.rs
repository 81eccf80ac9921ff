//! The cycle runner: compiled probes with their states. [`Prober::run_due`] runs
//! every probe whose interval has elapsed, concurrently up to a cap, each under
//! its own timeout; [`Prober::run_now`] re-probes on demand (to verify a fix);
//! [`Prober::replace`] swaps in a rediscovered set and keeps the state of probes
//! whose spec did not change.
//!
//! The runner owns no task and no clock: the caller decides when to call it.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::attempt::Attempt;
use crate::probe::{Probe, SpecError};
use crate::spec::ProbeSpec;
use crate::state::{Health, Streak, Transition};

/// Default number of attempts in flight at once.
pub const DEFAULT_CONCURRENCY: usize = 64;

/// A probe's verdict changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeTransition {
    pub probe: String,
    pub service: String,
    pub from: Health,
    pub to: Health,
    /// The message of the attempt that tipped it.
    pub message: String,
    /// Failures in a row at the time (0 when it came up).
    pub failures: u32,
}

/// What one call ran and what changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CycleReport {
    pub attempts: Vec<Attempt>,
    pub transitions: Vec<ProbeTransition>,
}

struct Entry {
    probe: Arc<Probe>,
    state: Streak,
    last_started: Option<Instant>,
}

impl Entry {
    fn new(probe: Probe) -> Entry {
        let spec = probe.spec();
        let state = Streak::for_spec(spec);
        Entry {
            probe: Arc::new(probe),
            state,
            last_started: None,
        }
    }

    fn due(&self, now: Instant) -> bool {
        self.last_started
            .is_none_or(|last| now.saturating_duration_since(last) >= self.probe.interval())
    }
}

/// Compiled probes and their states.
pub struct Prober {
    entries: Vec<Entry>,
    concurrency: usize,
}

impl Prober {
    /// Compiles `specs`; a spec that does not compile (or repeats a name) is left out
    /// and reported.
    pub fn new(specs: &[ProbeSpec]) -> (Prober, Vec<SpecError>) {
        let mut prober = Prober {
            entries: Vec::new(),
            concurrency: DEFAULT_CONCURRENCY,
        };
        let errors = prober.replace(specs);
        (prober, errors)
    }

    /// From probes compiled elsewhere (names must be unique; later duplicates are dropped).
    pub fn from_probes(probes: Vec<Probe>) -> Prober {
        let mut entries: Vec<Entry> = Vec::with_capacity(probes.len());
        for probe in probes {
            if !entries.iter().any(|e| e.probe.name() == probe.name()) {
                entries.push(Entry::new(probe));
            }
        }
        Prober {
            entries,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }

    /// At most `n` attempts in flight (at least 1).
    pub fn with_concurrency(mut self, n: usize) -> Prober {
        self.concurrency = n.max(1);
        self
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Probe names with their verdicts.
    pub fn states(&self) -> Vec<(String, Health)> {
        self.entries
            .iter()
            .map(|e| (e.probe.name().to_owned(), e.state.health()))
            .collect()
    }

    pub fn health(&self, name: &str) -> Option<Health> {
        self.entries
            .iter()
            .find(|e| e.probe.name() == name)
            .map(|e| e.state.health())
    }

    /// When the next probe falls due (`None` without probes).
    pub fn next_due(&self) -> Option<Instant> {
        self.entries
            .iter()
            .map(|e| match e.last_started {
                None => Instant::now(),
                Some(last) => last + e.probe.interval(),
            })
            .min()
    }

    /// Runs every probe whose interval has elapsed at `now`.
    pub async fn run_due(&mut self, now: Instant) -> CycleReport {
        let due: Vec<usize> = (0..self.entries.len())
            .filter(|&i| self.entries[i].due(now))
            .collect();
        for &i in &due {
            self.entries[i].last_started = Some(now);
        }
        self.run(due).await
    }

    /// Runs the named probes now, due or not (unknown names are ignored).
    pub async fn run_now(&mut self, names: &[&str]) -> CycleReport {
        let now = Instant::now();
        let chosen: Vec<usize> = (0..self.entries.len())
            .filter(|&i| names.contains(&self.entries[i].probe.name()))
            .collect();
        for &i in &chosen {
            self.entries[i].last_started = Some(now);
        }
        self.run(chosen).await
    }

    async fn run(&mut self, indices: Vec<usize>) -> CycleReport {
        let jobs: Vec<(usize, Arc<Probe>)> = indices
            .into_iter()
            .map(|i| (i, self.entries[i].probe.clone()))
            .collect();
        let mut results: Vec<(usize, Attempt)> = futures_util::stream::iter(jobs)
            // Each attempt enforces its own timeout.
            .map(|(i, probe)| async move { (i, probe.run().await) })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        results.sort_by_key(|(i, _)| *i);
        let mut report = CycleReport::default();
        for (i, attempt) in results {
            if !attempt.ok {
                tracing::debug!(probe = %attempt.probe, message = %attempt.message, "probe attempt failed");
            }
            let entry = &mut self.entries[i];
            if let Some(Transition { from, to }) = entry.state.observe(attempt.ok) {
                tracing::info!(
                    probe = %attempt.probe,
                    service = %attempt.service,
                    from = ?from,
                    to = ?to,
                    message = %attempt.message,
                    "probe verdict changed"
                );
                report.transitions.push(ProbeTransition {
                    probe: attempt.probe.clone(),
                    service: attempt.service.clone(),
                    from,
                    to,
                    message: attempt.message.clone(),
                    failures: entry.state.failures_in_a_row(),
                });
            }
            report.attempts.push(attempt);
        }
        report
    }

    /// Swaps in a new probe set. Probes whose spec (and expanded values) did not
    /// change keep their state and schedule; others start fresh. Returns the specs
    /// that did not compile, which are left out.
    pub fn replace(&mut self, specs: &[ProbeSpec]) -> Vec<SpecError> {
        let mut old: HashMap<String, Entry> = self
            .entries
            .drain(..)
            .map(|e| (e.probe.name().to_owned(), e))
            .collect();
        let mut errors = Vec::new();
        let mut entries: Vec<Entry> = Vec::with_capacity(specs.len());
        for spec in specs {
            if entries.iter().any(|e| e.probe.name() == spec.name) {
                errors.push(SpecError {
                    probe: spec.name.clone(),
                    field: "name".to_owned(),
                    problem: "another probe has this name; names must be unique".to_owned(),
                });
                continue;
            }
            let probe = match Probe::compile(spec) {
                Ok(p) => p,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            match old.remove(&spec.name) {
                Some(entry) if entry.probe.same_as(&probe) => entries.push(entry),
                _ => entries.push(Entry::new(probe)),
            }
        }
        self.entries = entries;
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send<T: Send>(_: &T) {}

    /// The worker drives the prober from a spawned task: its futures must be `Send`.
    #[test]
    fn futures_are_send() {
        let (mut prober, errors) = Prober::new(&[]);
        assert!(errors.is_empty());
        send(&prober.run_due(Instant::now()));
        send(&prober.run_now(&["x"]));
        let probe = Probe::compile(&ProbeSpec {
            name: "x".into(),
            url: "http://127.0.0.1:1/".into(),
            ..ProbeSpec::default()
        });
        let probe = probe.expect("compiles");
        send(&probe.run());
        fn sync<T: Send + Sync>() {}
        sync::<Probe>();
    }

    #[tokio::test]
    async fn next_due_follows_the_intervals() {
        let (mut prober, errors) = Prober::new(&[ProbeSpec {
            name: "x".into(),
            url: "tcp://127.0.0.1:1".into(),
            interval: Some(std::time::Duration::from_secs(30)),
            ..ProbeSpec::default()
        }]);
        assert!(errors.is_empty());
        assert!(prober.next_due().is_some_and(|t| t <= Instant::now()));
        let now = Instant::now();
        let report = prober.run_due(now).await;
        assert_eq!(report.attempts.len(), 1);
        assert_eq!(
            prober.next_due(),
            Some(now + std::time::Duration::from_secs(30))
        );
        assert!(Prober::new(&[]).0.next_due().is_none());
    }
}
