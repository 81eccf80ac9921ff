//! Native health probes.
//!
//! A **probe** is a health check run in Rust by the worker (the Markdown in
//! `checks/` is for the model). A [`spec::ProbeSpec`] is what discovery finds or an
//! operator writes; it compiles into a [`Probe`] ([`Probe::compile`]) whose
//! attempts ([`Probe::run`]) each open a fresh connection and judge what they saw
//! with Gatus-style [`condition`]s. [`Streak`] turns attempts into up and down
//! with thresholds, and [`Prober`] runs a whole set on a cycle.
//!
//! What this crate must not do: change anything it probes (it only reads), write
//! secrets into messages or evidence, or reach the control plane (the worker
//! carries attempts and transitions there).
//!
//! Kinds (one file each under `kinds/`): HTTP(S) (optionally a homelab app's health
//! API), TCP, TLS certificate expiry, DNS, Docker container, PostgreSQL,
//! MySQL/MariaDB, Redis. `docs/probes.md` documents the spec.
//!
//! The declarative part (the spec, the kinds and their schemes, the placeholders,
//! up and down) is plain data in `claudeops_core::probe`, re-exported here, so
//! discovery and the control plane use it without this crate's network stack.

pub mod attempt;
pub mod condition;
pub mod docker;
mod kinds;
mod observation;
mod probe;
pub mod runner;
pub mod spec;
pub mod state;
mod tls_config;

pub use attempt::Attempt;
pub use condition::{Condition, Placeholder};
pub use probe::{Probe, ProbeKind, SCHEMES, SpecError};
pub use runner::{CycleReport, ProbeTransition, Prober};
pub use spec::{ClientOptions, DnsQuery, ProbeSpec, ServiceApi, Source};
pub use state::{Health, Streak, Transition};

/// The app names a `service-api:` block accepts.
pub fn service_api_apps() -> Vec<&'static str> {
    kinds::service_api::app_names()
}
