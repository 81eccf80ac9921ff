//! Argument checks for memories, shared by both backends.
//!
//! Keys, values and confidences are normalised by `claudeops_core::memory` before any
//! SQL runs, so both databases hold the same canonical forms; an invalid argument is
//! `StoreError::Conflict`. The merge rules themselves live in `claudeops_core::memory`
//! and the backends apply them inside one transaction. Nothing here touches the
//! database.

use claudeops_core::memory::{self, InvalidMemory};

use crate::StoreError;
use crate::error::{is_foreign_key_violation, is_unique_violation};

/// How often `remember` looks again when the row it expected appeared or vanished
/// between its read and its write (a concurrent insert or delete).
pub(crate) const REMEMBER_ATTEMPTS: usize = 3;

fn invalid(error: InvalidMemory) -> StoreError {
    StoreError::Conflict(error.to_string())
}

/// The key as stored (trimmed, lower-cased), or `Conflict`.
pub(crate) fn key(key: &str) -> Result<String, StoreError> {
    memory::normalize_key(key).map_err(invalid)
}

/// The value as stored (trimmed, cut), or `Conflict` when it is empty.
pub(crate) fn value(value: &str) -> Result<String, StoreError> {
    memory::validate_value(value).map_err(invalid)
}

/// The confidence as stored (clamped to `[0, 1]`), or `Conflict` for NaN.
pub(crate) fn confidence(confidence: f64) -> Result<f64, StoreError> {
    memory::clamp_confidence(confidence).map_err(invalid)
}

/// Maps the errors a memory write can meet: a duplicate `(site, key)` and a missing
/// session are `Conflict`, anything else `Database`.
pub(crate) fn write_error(error: sqlx::Error) -> StoreError {
    if is_unique_violation(&error) {
        StoreError::Conflict("the site already has a memory with this key".to_owned())
    } else if is_foreign_key_violation(&error) {
        StoreError::Conflict("memory names a session that does not exist".to_owned())
    } else {
        StoreError::Database(error)
    }
}
