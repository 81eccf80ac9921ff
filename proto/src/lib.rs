//! The control plane <-> worker wire contract.
//!
//! The Rust code in `src/gen/` is generated from `claudeops/v1/worker.proto` and
//! committed, so building the project needs no `protoc`. The `regenerate` test
//! regenerates it in pure Rust and fails on any difference; run it with
//! `CLAUDEOPS_UPDATE_PROTO=1` to rewrite the committed file after editing the proto.
//!
//! These types stay at the edges: the control plane and the worker convert them to
//! `claudeops-core` domain types and never pass them inward.

#[allow(clippy::all, clippy::pedantic, missing_docs, unused_qualifications)]
pub mod v1 {
    include!("gen/claudeops.v1.rs");
}
