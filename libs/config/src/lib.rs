//! Every setting of Claude Ops in one table, and the typed value parsers the
//! two binaries' configuration pipelines share.
//!
//! Why it exists: a setting used to be described three times (the config
//! struct, the README's table, the dashboard's config page), and the copies
//! drifted. [`SETTINGS`] is the one description: the README's table is
//! generated from it (a test fails when they differ; `CLAUDEOPS_UPDATE_README=1`
//! rewrites it), and the control plane's config page and each binary's
//! configuration are checked against it by tests.
//!
//! [`de`] holds the serde helpers that parse a variable's text once, at load:
//! durations (`"90s"`, `"4h"`, or plain seconds) become `Duration`, comma
//! lists become `Vec<String>`.
//!
//! [`pipeline`] is the one figment pipeline both binaries load through.
//!
//! What it must not do: read a file, or hold a secret's value (the pipeline
//! reads the environment only when a binary extracts its configuration).

pub mod catalogue;
pub mod de;
pub mod pipeline;
pub mod unknown;

pub use catalogue::{SETTINGS, Scope, Setting, render_markdown};
pub use pipeline::figment;
