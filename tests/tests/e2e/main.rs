//! End to end: the control plane and workers as separate processes on loopback,
//! linked over mutual TLS, running the real `claude` CLI against the scripted
//! model. Each test starts its own control plane.

mod approval_browser;
mod browser_actions;
mod chat;
mod compat;
mod dashboard;
mod faults;
mod incidents;
mod legacy_import;
mod live_browser;
mod local_worker;
mod maintenance_browser;
mod openapi;
mod original_api;
mod permissions;
mod probes_browser;
mod refusals;
mod remediation;
mod repos;
mod sandbox;
mod session;
mod shutdown;
mod support;
mod sweep;
mod telemetry;
mod tiers;
mod webhooks;
mod worker_death;
