//! Test support for Claude Ops: a scripted Anthropic Messages API server that
//! the real `claude` CLI talks to, and helpers to find and run that CLI, to run
//! the real binaries and their servers, and to put faults between them.
//! The end-to-end tests of the workspace live in this crate's `tests/`.

pub mod bench;
pub mod cli;
pub mod docker;
pub mod faults;
pub mod legacy;
pub mod model;
pub mod numbered_cli;
pub mod otlp;
pub mod postgres;
pub mod prometheus;
pub mod servers;
pub mod sqlite;
pub mod system;
pub mod venv;
pub mod web;
pub mod webapp;
