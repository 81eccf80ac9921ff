//! Domain types and pure decisions shared by the control plane and the worker.
//!
//! This crate does no I/O: no sockets, no files, no clocks. Wire types (protobuf,
//! REST DTOs) are converted into these types at the edges and never travel inward.

pub mod command;
pub mod event;
pub mod ledger;
pub mod memory;
pub mod policy;
pub mod session;
pub mod site;
pub mod stream;
pub mod tier;
pub mod worker;

pub use session::{NewSession, Session, SessionId, SessionOutcome, SessionStatus, Trigger};
pub use site::SiteName;
pub use tier::Tier;
