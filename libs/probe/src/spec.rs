//! The probe spec: what an operator writes in `.claude-ops/probes/*.yaml` and what
//! discovery produces. It is plain data, so it lives in `claudeops-core`
//! (`claudeops_core::probe::spec`), where discovery can build it without this
//! crate's network stack; it is re-exported here unchanged.

pub use claudeops_core::probe::spec::*;
