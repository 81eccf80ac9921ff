//! The control plane driven in-process: the real router through `oneshot`, the
//! real worker link over loopback mutual TLS, a scripted worker on the other
//! end. No binary is started, so the whole suite runs in seconds; each test has
//! its own state directory and its own control plane.

#[path = "inprocess/access.rs"]
mod access;
#[path = "inprocess/approvals.rs"]
mod approvals;
#[path = "inprocess/dependencies.rs"]
mod dependencies;
#[path = "inprocess/enrollment.rs"]
mod enrollment;
#[path = "inprocess/escalation.rs"]
mod escalation;
#[path = "inprocess/fake_worker.rs"]
mod fake_worker;
#[path = "inprocess/history.rs"]
mod history;
#[path = "inprocess/identity.rs"]
mod identity;
#[path = "inprocess/incidents.rs"]
mod incidents;
#[path = "inprocess/ledger.rs"]
mod ledger;
#[path = "inprocess/link_faults.rs"]
mod link_faults;
#[path = "inprocess/maintenance.rs"]
mod maintenance;
#[path = "inprocess/memories.rs"]
mod memories;
#[path = "inprocess/openapi.rs"]
mod openapi;
#[path = "inprocess/replay.rs"]
mod replay;
#[path = "inprocess/run_logs.rs"]
mod run_logs;
#[path = "inprocess/runtime_config.rs"]
mod runtime_config;
#[path = "inprocess/sessions.rs"]
mod sessions;
#[path = "inprocess/sse.rs"]
mod sse;
#[path = "inprocess/sse_reader.rs"]
mod sse_reader;
#[path = "inprocess/store_faults.rs"]
mod store_faults;
#[path = "inprocess/support.rs"]
mod support;
#[path = "inprocess/ui_probes.rs"]
mod ui_probes;
