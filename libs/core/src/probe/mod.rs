//! The declarative side of native probes: the spec an operator writes or
//! discovery derives, the closed set of kinds and the URL schemes that pick
//! them, the placeholders a condition may name, and the up/down vocabulary.
//!
//! It exists so discovery, the worker and the control plane can speak about
//! probes without the network stack. Nothing here opens a connection, reads a
//! file or looks at a clock: running probes (sockets, TLS, the Docker Engine,
//! thresholds over attempts) is `claudeops-probe`'s job.

pub mod kind;
pub mod placeholder;
pub mod spec;
pub mod status;

pub use kind::{ProbeKind, SCHEMES};
pub use placeholder::{PLACEHOLDERS, Placeholder};
pub use spec::{ClientOptions, DnsQuery, ProbeSpec, ServiceApi, Source};
pub use status::{Health, Transition};
