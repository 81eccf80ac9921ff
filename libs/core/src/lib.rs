//! Domain types and pure decisions shared by the control plane and the worker.
//!
//! This crate does no I/O: no sockets, no files, no clocks. Wire types (protobuf,
//! REST DTOs) are converted into these types at the edges and never travel inward.

/// Names for a fieldless enum: `ALL`, `as_str`, `FromStr` and `Display`, from one
/// table, so the words stored in the database and shown in the API agree.
macro_rules! names {
    ($ty:ident, $kind:literal, { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $crate::session::UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok($ty::$variant),)+
                    other => Err($crate::session::UnknownName { kind: $kind, value: other.to_owned() }),
                }
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub mod alert;
pub mod approval;
pub mod event;
pub mod health;
pub mod inventory;
pub mod ledger;
pub mod link;
pub mod markers;
pub mod memory;
pub mod notification;
pub mod policy;
pub mod probe;
pub mod session;
pub mod site;
pub mod stream;
pub mod sweep;
pub mod text;
pub mod tier;
pub mod worker;

pub use session::{
    NewSession, Session, SessionId, SessionOutcome, SessionStatus, SessionTrace, Trigger,
};
pub use site::SiteName;
pub use tier::Tier;
