//! Notifications through Apprise.
//!
//! The control plane sends notifications; the model never sees a notification
//! URL. This crate renders messages ([`message`]), combines events of one kind
//! arriving close together into one message ([`group`]), brings up unresolved
//! incidents again ([`reminder`]), decides when the daily digest is due
//! ([`digest`]), and delivers through the real `apprise` CLI with retries
//! ([`Notifier`]), recording every attempt through a [`DeliveryLog`].
//!
//! Must not: put a URL in argv, a log line, an error, a record or a `Debug`
//! output (URLs are named by 1-based index, `url #2`); block a caller of
//! [`Notifier::notify`]; know about the store or the web UI.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod apprise;
pub mod config;
pub mod delivery;
pub mod digest;
pub mod group;
pub mod message;
mod notifier;
pub mod reminder;
mod text;
pub mod urls;

pub use apprise::{Apprise, SendError};
pub use config::{ConfigErrors, NotifyConfig};
pub use delivery::{Backoff, Delivery, DeliveryLog, MemoryDeliveryLog, Outcome};
pub use digest::{DigestSummary, DigestTime, SiteIncidents};
pub use message::{HumanReason, Level, Message, MessageKind, Notice, RenderContext, Verification};
pub use notifier::{Notifier, NotifierStats, NotifyError, TestOutcome};
pub use reminder::OpenIncident;
pub use urls::{AppriseUrls, UrlError};
