//! Memories: lasting facts about a site that the agent reports (`memories[]` of its
//! structured response, `{key, value}`) and that later sessions of the same site are
//! told about.
//!
//! The rules, kept from the original system:
//!
//! - a new memory starts at confidence [`INITIAL_CONFIDENCE`] (0.7);
//! - reporting the same value again for the same site and key *confirms* it:
//!   +[`CONFIDENCE_STEP`], capped at [`MAX_CONFIDENCE`];
//! - reporting a different value *contradicts* it: -[`CONFIDENCE_STEP`]; once that
//!   takes it below [`ACTIVE_THRESHOLD`] (0.3) the newer fact wins: the value is
//!   *replaced* by the new one at [`INITIAL_CONFIDENCE`];
//! - a memory is active exactly when its confidence is at least [`ACTIVE_THRESHOLD`]
//!   (operators may still switch the flag by hand);
//! - active memories go into the prompt highest confidence first, then most recently
//!   updated, within a token budget ([`BUDGET_ENV`], default [`DEFAULT_BUDGET_TOKENS`]),
//!   a line `- key: value` costing its bytes / 4 (rounded up) tokens.
//!
//! - a memory nobody confirms or edits goes stale ([`decay`], the original's intent):
//!   once its `updated_at` is older than the grace ([`DecayRule`], 30 days unless
//!   configured), it loses [`CONFIDENCE_STEP`] for every whole week past the grace,
//!   never below 0, and turns inactive below [`ACTIVE_THRESHOLD`]; each step moves
//!   `updated_at` forward by the week it used, so a step is never taken twice.
//!
//! Keys are `category` or `service:category`: 1-100 characters of `[a-z0-9_:.-]`
//! after lower-casing. The service is what comes before the first `:`
//! ([`split_key`], [`key_of`]: the original's `service` and `category` fields).
//! Values are trimmed and cut to [`MAX_VALUE_CHARS`] characters.
//!
//! Pure decisions only: storing memories (atomically applying [`merge`]) is the
//! store's job, reading the budget from the environment the caller's.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::SiteName;
use crate::session::SessionId;

/// Confidence of a memory when it is first reported, or when a newer value replaces it.
pub const INITIAL_CONFIDENCE: f64 = 0.7;
/// How much one confirmation adds and one contradiction takes away.
pub const CONFIDENCE_STEP: f64 = 0.1;
/// The lowest confidence.
pub const MIN_CONFIDENCE: f64 = 0.0;
/// The highest confidence.
pub const MAX_CONFIDENCE: f64 = 1.0;
/// A memory below this confidence is inactive and is not injected into prompts.
pub const ACTIVE_THRESHOLD: f64 = 0.3;
/// The longest key, in characters.
pub const MAX_KEY_CHARS: usize = 100;
/// The longest value, in characters; longer values are cut.
pub const MAX_VALUE_CHARS: usize = 1000;
/// The environment variable holding the prompt's memory budget, in tokens.
pub const BUDGET_ENV: &str = "CLAUDEOPS_MEMORY_BUDGET";
/// The prompt's memory budget when [`BUDGET_ENV`] is not set, in tokens.
pub const DEFAULT_BUDGET_TOKENS: usize = 2000;

/// Confidences are kept on this grid (1e-9) so that repeated ±0.1 steps do not drift
/// (0.7 - 0.1 - 0.1 - 0.1 - 0.1 is exactly 0.3, and so still active).
const CONFIDENCE_GRID: f64 = 1e9;

pub type MemoryId = i64;

/// A stored memory. Times are unix milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    pub id: MemoryId,
    pub site: SiteName,
    /// `category` or `service:category`, normalised by [`normalize_key`].
    pub key: String,
    pub value: String,
    /// In `[0, 1]`.
    pub confidence: f64,
    /// Injected into prompts. Kept equal to `confidence >= ACTIVE_THRESHOLD` by
    /// [`merge`]; operators may set it by hand.
    pub active: bool,
    /// The session whose report last set or confirmed the value; `None` when an
    /// operator wrote it (or the session was deleted).
    pub session_id: Option<SessionId>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// A memory about to be stored as given (an operator's, through the API). Agents'
/// reports go through the store's `remember`, which applies [`merge`] instead.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMemory {
    pub site: SiteName,
    pub key: String,
    pub value: String,
    pub confidence: f64,
    pub active: bool,
    pub session_id: Option<SessionId>,
    /// Both the creation and the update time.
    pub created_at_ms: i64,
}

impl NewMemory {
    /// An operator's memory: confidence [`INITIAL_CONFIDENCE`], active, no session.
    pub fn new(
        site: SiteName,
        key: impl Into<String>,
        value: impl Into<String>,
        created_at_ms: i64,
    ) -> NewMemory {
        NewMemory {
            site,
            key: key.into(),
            value: value.into(),
            confidence: INITIAL_CONFIDENCE,
            active: true,
            session_id: None,
            created_at_ms,
        }
    }
}

/// Why a memory's key or value cannot be stored.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum InvalidMemory {
    #[error("invalid memory key {key:?}: use 1-100 characters of a-z, 0-9, '_', ':', '.' and '-'")]
    Key { key: String },
    #[error("memory value is empty")]
    EmptyValue,
    #[error("memory confidence is not a number")]
    Confidence,
    #[error(
        "invalid memory {part} {value:?}: use 1-100 characters of a-z, 0-9, '_', '.' and '-' (no ':')"
    )]
    Part { part: &'static str, value: String },
}

/// The key as stored: trimmed and lower-cased, 1-[`MAX_KEY_CHARS`] characters of
/// `[a-z0-9_:.-]`.
pub fn normalize_key(key: &str) -> Result<String, InvalidMemory> {
    let normalized = key.trim().to_lowercase();
    let valid = !normalized.is_empty()
        && normalized.chars().count() <= MAX_KEY_CHARS
        && normalized.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b':' | b'.' | b'-')
        });
    if valid {
        Ok(normalized)
    } else {
        Err(InvalidMemory::Key {
            key: key.to_owned(),
        })
    }
}

/// The value as stored: trimmed, then cut to [`MAX_VALUE_CHARS`] characters (and
/// trimmed again, so a cut never leaves trailing blanks). May be empty.
pub fn normalize_value(value: &str) -> String {
    let value = value.trim();
    match value.char_indices().nth(MAX_VALUE_CHARS) {
        Some((cut, _)) => value[..cut].trim_end().to_owned(),
        None => value.to_owned(),
    }
}

/// [`normalize_value`], refusing a value that is empty once trimmed.
pub fn validate_value(value: &str) -> Result<String, InvalidMemory> {
    let value = normalize_value(value);
    if value.is_empty() {
        Err(InvalidMemory::EmptyValue)
    } else {
        Ok(value)
    }
}

/// A confidence as stored: clamped to `[0, 1]` (an operator's 1.5 is 1.0) and
/// snapped to a fine grid so ±0.1 steps stay exact. `Confidence` for NaN.
pub fn clamp_confidence(confidence: f64) -> Result<f64, InvalidMemory> {
    if confidence.is_nan() {
        return Err(InvalidMemory::Confidence);
    }
    let snapped = (confidence.clamp(MIN_CONFIDENCE, MAX_CONFIDENCE) * CONFIDENCE_GRID).round()
        / CONFIDENCE_GRID;
    Ok(snapped.clamp(MIN_CONFIDENCE, MAX_CONFIDENCE))
}

/// Whether a memory of this confidence is active.
pub fn is_active(confidence: f64) -> bool {
    confidence >= ACTIVE_THRESHOLD
}

/// What a report did to the stored memory of its site and key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeKind {
    /// No memory had the key: a new one is written.
    New,
    /// Same value: confidence up.
    Confirmed,
    /// Different value: confidence down, the stored value stays.
    Contradicted,
    /// Different value, and the stored one fell below the threshold: the new value
    /// is stored at the initial confidence.
    Replaced,
}

impl MergeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MergeKind::New => "new",
            MergeKind::Confirmed => "confirmed",
            MergeKind::Contradicted => "contradicted",
            MergeKind::Replaced => "replaced",
        }
    }
}

/// What to write for one reported memory: the row's new value, confidence and
/// active flag.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeOutcome {
    pub kind: MergeKind,
    pub value: String,
    pub confidence: f64,
    /// Always `confidence >= ACTIVE_THRESHOLD`.
    pub active: bool,
}

impl MergeOutcome {
    /// The session to record as the memory's source: the reporting one when the
    /// report set or confirmed the value (a confirmation without a session keeps the
    /// old source), the old source when it only contradicted it.
    pub fn session_id(
        &self,
        existing: Option<&Memory>,
        reporting: Option<SessionId>,
    ) -> Option<SessionId> {
        let previous = existing.and_then(|m| m.session_id);
        match self.kind {
            MergeKind::New | MergeKind::Replaced => reporting,
            MergeKind::Confirmed => reporting.or(previous),
            MergeKind::Contradicted => previous,
        }
    }
}

/// Applies one report of `value` to the stored memory of the same site and key
/// (`None`: there is none). `value` is normalised with [`normalize_value`] before
/// it is compared. A stored confidence outside `[0, 1]` (or NaN) counts as clamped
/// (NaN as 0).
pub fn merge(existing: Option<&Memory>, value: &str) -> MergeOutcome {
    let value = normalize_value(value);
    let Some(existing) = existing else {
        return outcome(MergeKind::New, value, INITIAL_CONFIDENCE);
    };
    let current = clamp_confidence(existing.confidence).unwrap_or(MIN_CONFIDENCE);
    if existing.value == value {
        let raised = (current + CONFIDENCE_STEP).min(MAX_CONFIDENCE);
        return outcome(MergeKind::Confirmed, value, raised);
    }
    let lowered = current - CONFIDENCE_STEP;
    if is_active(snap(lowered)) {
        outcome(MergeKind::Contradicted, existing.value.clone(), lowered)
    } else {
        outcome(MergeKind::Replaced, value, INITIAL_CONFIDENCE)
    }
}

fn snap(confidence: f64) -> f64 {
    clamp_confidence(confidence).unwrap_or(MIN_CONFIDENCE)
}

fn outcome(kind: MergeKind, value: String, confidence: f64) -> MergeOutcome {
    let confidence = snap(confidence);
    MergeOutcome {
        kind,
        value,
        confidence,
        active: is_active(confidence),
    }
}

/// Prompt order: highest confidence first, then most recently updated, then newest id.
pub fn prompt_order(a: &Memory, b: &Memory) -> Ordering {
    b.confidence
        .total_cmp(&a.confidence)
        .then(b.updated_at_ms.cmp(&a.updated_at_ms))
        .then(b.id.cmp(&a.id))
}

/// The line a memory takes in the prompt: `- key: value`, line breaks and other
/// control characters of the value turned into spaces.
pub fn render_line(memory: &Memory) -> String {
    let value: String = memory
        .value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!("- {}: {}", memory.key, value)
}

/// Estimated tokens of a rendered line: its bytes / 4, rounded up.
pub fn estimate_tokens(line: &str) -> usize {
    line.len().div_ceil(4)
}

/// The active memories to inject, in [`prompt_order`], as long as their lines fit in
/// `budget_tokens` together: the first memory that does not fit ends the list, so a
/// lower-ranked memory never displaces a higher-ranked one.
pub fn select_for_prompt(memories: &[Memory], budget_tokens: usize) -> Vec<&Memory> {
    let mut ranked: Vec<&Memory> = memories.iter().filter(|m| m.active).collect();
    ranked.sort_by(|a, b| prompt_order(a, b));
    let mut used = 0usize;
    let mut selected = Vec::new();
    for memory in ranked {
        let cost = estimate_tokens(&render_line(memory));
        match used.checked_add(cost) {
            Some(total) if total <= budget_tokens => {
                used = total;
                selected.push(memory);
            }
            _ => break,
        }
    }
    selected
}

/// The memories as prompt lines, one `- key: value` a line, in the given order; empty
/// for none.
pub fn render(memories: &[&Memory]) -> String {
    memories
        .iter()
        .map(|m| render_line(m))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The budget from the value of [`BUDGET_ENV`]: a whole number of tokens, or
/// [`DEFAULT_BUDGET_TOKENS`] when unset or unreadable.
pub fn budget_from_env_value(value: Option<&str>) -> usize {
    value
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(DEFAULT_BUDGET_TOKENS)
}

impl Memory {
    /// The service the memory is about: the key before its first `:` (`web` of
    /// `web:port`); `None` for a key without one (a site-wide memory).
    pub fn service(&self) -> Option<&str> {
        split_key(&self.key).0
    }

    /// The kind of fact: the key after its first `:`, or the whole key.
    pub fn category(&self) -> &str {
        split_key(&self.key).1
    }
}

/// A key's (service, category): split at the first `:`; no service when there is
/// none (or nothing before it).
pub fn split_key(key: &str) -> (Option<&str>, &str) {
    match key.split_once(':') {
        Some((service, category)) if !service.is_empty() => (Some(service), category),
        Some((_, category)) => (None, category),
        None => (None, key),
    }
}

/// The stored key of a (service, category) pair, as the original's API names a
/// memory: `category`, or `service:category` when a service is given (blank counts
/// as none). Both are trimmed and lower-cased and may not hold `:`.
pub fn key_of(service: Option<&str>, category: &str) -> Result<String, InvalidMemory> {
    let part = |part: &'static str, value: &str| {
        let normalized = value.trim().to_lowercase();
        let valid = !normalized.is_empty()
            && normalized.chars().count() <= MAX_KEY_CHARS
            && normalized.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
            });
        if valid {
            Ok(normalized)
        } else {
            Err(InvalidMemory::Part {
                part,
                value: value.to_owned(),
            })
        }
    };
    let category = part("category", category)?;
    let key = match service.map(str::trim).filter(|s| !s.is_empty()) {
        Some(service) => format!("{}:{category}", part("service", service)?),
        None => category,
    };
    normalize_key(&key)
}

/// A day, in milliseconds.
const DAY_MS: i64 = 24 * 3600 * 1000;
/// How long a memory may go unconfirmed before it decays, unless configured.
pub const DEFAULT_DECAY_GRACE_MS: i64 = 30 * DAY_MS;
/// Past the grace, a memory loses one [`CONFIDENCE_STEP`] per this much time.
pub const DECAY_STEP_EVERY_MS: i64 = 7 * DAY_MS;

/// When stale memories lose confidence: after `grace_ms` without a confirmation or
/// an edit, one [`CONFIDENCE_STEP`] per whole `every_ms` past the grace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecayRule {
    pub grace_ms: i64,
    pub every_ms: i64,
}

impl DecayRule {
    /// The rule with the given grace and a step a week; `None` (no decay) for a
    /// grace of zero or less.
    pub fn after(grace_ms: i64) -> Option<DecayRule> {
        (grace_ms > 0).then_some(DecayRule {
            grace_ms,
            every_ms: DECAY_STEP_EVERY_MS,
        })
    }

    /// Whole steps due for a memory last updated at `updated_at_ms`, at `now_ms`.
    pub fn steps(&self, updated_at_ms: i64, now_ms: i64) -> i64 {
        let past_grace = now_ms
            .saturating_sub(updated_at_ms)
            .saturating_sub(self.grace_ms);
        if past_grace <= 0 || self.every_ms <= 0 {
            0
        } else {
            past_grace / self.every_ms
        }
    }

    /// The latest `updated_at_ms` of a memory with a step due at `now_ms`: only
    /// memories updated at or before it need a look.
    pub fn due_at_or_before(&self, now_ms: i64) -> i64 {
        now_ms
            .saturating_sub(self.grace_ms)
            .saturating_sub(self.every_ms.max(1))
    }
}

/// What decay writes to a stale memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Decayed {
    pub confidence: f64,
    /// `confidence >= ACTIVE_THRESHOLD`: decay only ever turns a memory off.
    pub active: bool,
    /// The old `updated_at_ms` plus the steps taken, so the same steps are never
    /// taken again and the next one comes a whole step later.
    pub updated_at_ms: i64,
    pub steps: i64,
}

/// Applies `rule` to a memory at `now_ms`: `None` when nothing is due (inactive
/// memories do not decay; fresh ones are in their grace). Confidence never goes
/// below [`MIN_CONFIDENCE`].
pub fn decay(memory: &Memory, rule: &DecayRule, now_ms: i64) -> Option<Decayed> {
    if !memory.active {
        return None;
    }
    let steps = rule.steps(memory.updated_at_ms, now_ms);
    if steps == 0 {
        return None;
    }
    let current = clamp_confidence(memory.confidence).unwrap_or(MIN_CONFIDENCE);
    // Past ten steps everything is at 0; the cap keeps the float exact.
    let lost = CONFIDENCE_STEP * steps.min(10) as f64;
    let confidence = snap(current - lost);
    Some(Decayed {
        confidence,
        active: is_active(confidence),
        updated_at_ms: memory
            .updated_at_ms
            .saturating_add(steps.saturating_mul(rule.every_ms)),
        steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const EPSILON: f64 = 1e-9;

    fn memory(key: &str, value: &str, confidence: f64) -> Memory {
        Memory {
            id: 1,
            site: SiteName::new("local").expect("site"),
            key: key.to_owned(),
            value: value.to_owned(),
            confidence,
            active: is_active(confidence),
            session_id: Some(1),
            created_at_ms: 0,
            updated_at_ms: 0,
        }
    }

    /// Applies an outcome the way the store does.
    fn apply(existing: Option<Memory>, value: &str, session: SessionId) -> Memory {
        let outcome = merge(existing.as_ref(), value);
        let session_id = outcome.session_id(existing.as_ref(), Some(session));
        let mut stored = existing.unwrap_or_else(|| memory("k", "", 0.0));
        stored.value = outcome.value;
        stored.confidence = outcome.confidence;
        stored.active = outcome.active;
        stored.session_id = session_id;
        stored
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < EPSILON
    }

    #[test]
    fn new_memories_start_at_point_seven() {
        let outcome = merge(None, "  listens on 8080 ");
        assert_eq!(outcome.kind, MergeKind::New);
        assert_eq!(outcome.value, "listens on 8080");
        assert!(close(outcome.confidence, 0.7));
        assert!(outcome.active);
        assert_eq!(outcome.session_id(None, Some(4)), Some(4));
    }

    #[test]
    fn confirmations_raise_and_cap() {
        let mut m = memory("web:port", "8080", 0.7);
        for expected in [0.8, 0.9, 1.0, 1.0, 1.0] {
            let outcome = merge(Some(&m), "8080");
            assert_eq!(outcome.kind, MergeKind::Confirmed);
            assert!(close(outcome.confidence, expected), "{outcome:?}");
            assert!(outcome.confidence <= 1.0);
            m.confidence = outcome.confidence;
        }
        assert_eq!(m.confidence, 1.0, "exactly capped");
    }

    #[test]
    fn contradictions_lower_then_replace() {
        let mut m = apply(None, "8080", 1);
        let mut kinds = Vec::new();
        for session in 2..=7 {
            let outcome = merge(Some(&m), "9090");
            kinds.push((outcome.kind, outcome.confidence));
            m = apply(Some(m), "9090", session);
        }
        let expected = [
            (MergeKind::Contradicted, 0.6),
            (MergeKind::Contradicted, 0.5),
            (MergeKind::Contradicted, 0.4),
            (MergeKind::Contradicted, 0.3),
            (MergeKind::Replaced, 0.7),
            (MergeKind::Confirmed, 0.8),
        ];
        for ((kind, got), (want_kind, want)) in kinds.iter().zip(expected) {
            assert_eq!(*kind, want_kind);
            assert!(close(*got, want), "{got} != {want}");
        }
        assert_eq!(m.value, "9090");
        assert_eq!(m.session_id, Some(7));
        assert!(m.active);
    }

    #[test]
    fn exactly_point_three_is_active() {
        let m = memory("k", "a", 0.4);
        let outcome = merge(Some(&m), "b");
        assert_eq!(outcome.kind, MergeKind::Contradicted);
        assert_eq!(outcome.confidence, 0.3);
        assert!(outcome.active);
        assert_eq!(outcome.value, "a");
        assert_eq!(outcome.session_id(Some(&m), Some(9)), Some(1));
    }

    #[test]
    fn inactive_memories_recover_or_get_replaced() {
        let m = memory("k", "a", 0.1);
        assert!(!m.active);
        let confirmed = merge(Some(&m), "a");
        assert_eq!(confirmed.kind, MergeKind::Confirmed);
        assert!(close(confirmed.confidence, 0.2));
        assert!(!confirmed.active);
        let replaced = merge(Some(&m), "b");
        assert_eq!(replaced.kind, MergeKind::Replaced);
        assert_eq!((replaced.value.as_str(), replaced.active), ("b", true));
        let recovered = merge(Some(&memory("k", "a", 0.2)), "a");
        assert!(close(recovered.confidence, 0.3) && recovered.active);
    }

    #[test]
    fn out_of_range_stored_confidence_is_clamped() {
        let high = merge(Some(&memory("k", "a", 7.0)), "a");
        assert_eq!(high.confidence, 1.0);
        let nan = merge(Some(&memory("k", "a", f64::NAN)), "b");
        assert_eq!(nan.kind, MergeKind::Replaced);
        assert_eq!(clamp_confidence(1.5), Ok(1.0));
        assert_eq!(clamp_confidence(-0.5), Ok(0.0));
        assert_eq!(clamp_confidence(f64::NAN), Err(InvalidMemory::Confidence));
        assert_eq!(clamp_confidence(0.95), Ok(0.95));
    }

    #[test]
    fn a_confirmation_without_a_session_keeps_the_source() {
        let m = memory("k", "a", 0.7);
        let outcome = merge(Some(&m), "a");
        assert_eq!(outcome.session_id(Some(&m), None), Some(1));
        let replaced = merge(Some(&memory("k", "a", 0.2)), "b");
        assert_eq!(replaced.session_id(Some(&m), None), None);
    }

    #[test]
    fn validates_keys() {
        let cases = [
            ("nginx:port", Some("nginx:port")),
            ("  Timing ", Some("timing")),
            ("svc-a.b_c:dependency", Some("svc-a.b_c:dependency")),
            ("", None),
            ("   ", None),
            ("has space", None),
            ("ünïcode", None),
            ("a/b", None),
        ];
        for (key, want) in cases {
            assert_eq!(normalize_key(key).ok().as_deref(), want, "{key:?}");
        }
        assert!(normalize_key(&"k".repeat(100)).is_ok());
        assert!(normalize_key(&"k".repeat(101)).is_err());
    }

    #[test]
    fn cuts_long_values_on_char_boundaries() {
        let long = "é".repeat(1500);
        let cut = normalize_value(&long);
        assert_eq!(cut.chars().count(), MAX_VALUE_CHARS);
        assert_eq!(normalize_value(&"x".repeat(1000)).len(), 1000);
        assert_eq!(validate_value("  "), Err(InvalidMemory::EmptyValue));
        assert_eq!(validate_value(" v ").as_deref(), Ok("v"));
        // A value equal once cut confirms the stored one.
        let stored = memory("k", &normalize_value(&long), 0.7);
        assert_eq!(merge(Some(&stored), &long).kind, MergeKind::Confirmed);
    }

    #[test]
    fn selects_by_confidence_then_recency_within_budget() {
        let mut a = memory("a", "x", 0.7);
        a.updated_at_ms = 10;
        a.id = 1;
        let mut b = memory("b", "x", 0.9);
        b.id = 2;
        let mut c = memory("c", "x", 0.7);
        c.updated_at_ms = 20;
        c.id = 3;
        let mut off = memory("d", "x", 0.9);
        off.active = false;
        off.id = 4;
        let all = vec![a, b, c, off];
        let keys = |v: Vec<&Memory>| v.iter().map(|m| m.key.clone()).collect::<Vec<_>>();
        assert_eq!(keys(select_for_prompt(&all, 2000)), ["b", "c", "a"]);
        // "- b: x" is 6 bytes: 2 tokens each.
        assert_eq!(estimate_tokens("- b: x"), 2);
        assert_eq!(keys(select_for_prompt(&all, 4)), ["b", "c"]);
        assert_eq!(keys(select_for_prompt(&all, 5)), ["b", "c"]);
        assert!(select_for_prompt(&all, 1).is_empty());
        assert!(select_for_prompt(&[], 2000).is_empty());
    }

    #[test]
    fn a_memory_that_does_not_fit_ends_the_list() {
        let mut big = memory("big", &"v".repeat(400), 0.9);
        big.id = 1;
        let mut small = memory("small", "v", 0.8);
        small.id = 2;
        let all = vec![big, small];
        assert!(select_for_prompt(&all, 50).is_empty());
        assert_eq!(select_for_prompt(&all, 200).len(), 2);
    }

    #[test]
    fn renders_lines() {
        let a = memory("web:port", "listens on 8080", 0.9);
        let b = memory("nas:disk", "fills on\nSundays", 0.8);
        assert_eq!(
            render(&[&a, &b]),
            "- web:port: listens on 8080\n- nas:disk: fills on Sundays"
        );
        assert_eq!(render(&[]), "");
    }

    #[test]
    fn budget_from_env() {
        assert_eq!(budget_from_env_value(None), 2000);
        assert_eq!(budget_from_env_value(Some("4000")), 4000);
        assert_eq!(budget_from_env_value(Some("lots")), 2000);
    }

    #[test]
    fn memories_serialize() {
        let m = memory("web:port", "8080", 0.8);
        let json = serde_json::to_value(&m).expect("serialize");
        assert_eq!(json["site"], "local");
        assert_eq!(json["confidence"], 0.8);
        let back: Memory = serde_json::from_value(json).expect("deserialize");
        assert_eq!(back, m);
    }

    #[test]
    fn keys_split_into_service_and_category() {
        let cases = [
            ("nginx:port", Some("nginx"), "port"),
            ("timing", None, "timing"),
            ("a:b:c", Some("a"), "b:c"),
            (":odd", None, "odd"),
        ];
        for (key, service, category) in cases {
            assert_eq!(split_key(key), (service, category), "{key}");
            let m = memory(key, "v", 0.7);
            assert_eq!((m.service(), m.category()), (service, category), "{key}");
        }
    }

    #[test]
    fn keys_are_built_from_service_and_category() {
        assert_eq!(key_of(Some("Nginx "), " Port").as_deref(), Ok("nginx:port"));
        assert_eq!(key_of(None, "timing").as_deref(), Ok("timing"));
        assert_eq!(key_of(Some("  "), "timing").as_deref(), Ok("timing"));
        for (service, category) in [
            (None, ""),
            (None, "a:b"),
            (Some("we b"), "port"),
            (Some("a:b"), "port"),
            (None, "ünï"),
        ] {
            assert!(
                matches!(key_of(service, category), Err(InvalidMemory::Part { .. })),
                "{service:?} {category:?}"
            );
        }
        // Too long together, though each part fits.
        let long = "x".repeat(60);
        assert!(matches!(
            key_of(Some(&long), &long),
            Err(InvalidMemory::Key { .. })
        ));
        // Round trip.
        let key = key_of(Some("web"), "dependency").unwrap_or_default();
        assert_eq!(split_key(&key), (Some("web"), "dependency"));
    }

    const DAY: i64 = 24 * 3600 * 1000;

    fn stale(confidence: f64, updated_days_ago: i64, now: i64) -> Memory {
        let mut m = memory("web:port", "8080", confidence);
        m.active = true;
        m.updated_at_ms = now - updated_days_ago * DAY;
        m
    }

    #[test]
    fn decay_follows_the_originals_schedule() {
        let rule = DecayRule::after(DEFAULT_DECAY_GRACE_MS).unwrap_or_else(|| panic!("rule"));
        let now = 1_000 * DAY;
        // (confidence, days since updated) -> (steps, confidence after, active after)
        let cases = [
            (0.7, 15, None),
            (0.7, 30, None),
            (0.7, 36, None),
            (0.7, 37, Some((1, 0.6, true))),
            (0.7, 44, Some((2, 0.5, true))),
            (0.4, 44, Some((2, 0.2, false))),
            (0.5, 44, Some((2, 0.3, true))),
            (0.7, 30 + 7 * 50, Some((50, 0.0, false))),
            (1.0, 30 + 7 * 9, Some((9, 0.1, false))),
        ];
        for (confidence, days, want) in cases {
            let m = stale(confidence, days, now);
            let got = decay(&m, &rule, now);
            match (got, want) {
                (None, None) => {}
                (Some(d), Some((steps, c, active))) => {
                    assert_eq!(d.steps, steps, "{confidence} {days}");
                    assert!(close(d.confidence, c), "{confidence} {days}: {d:?}");
                    assert_eq!(d.active, active, "{confidence} {days}");
                    assert_eq!(d.updated_at_ms, m.updated_at_ms + steps * 7 * DAY);
                }
                (got, want) => panic!("{confidence} {days}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn decay_is_taken_once_and_spares_inactive_memories() {
        let rule = DecayRule::after(30 * DAY).unwrap_or_else(|| panic!("rule"));
        let now = 500 * DAY;
        let mut m = stale(0.7, 44, now);
        let first = decay(&m, &rule, now).unwrap_or_else(|| panic!("due"));
        m.confidence = first.confidence;
        m.updated_at_ms = first.updated_at_ms;
        // Applied again at once: nothing more is due, until a whole week later.
        assert_eq!(decay(&m, &rule, now), None);
        assert_eq!(decay(&m, &rule, now + 7 * DAY - 1), None);
        let next = decay(&m, &rule, now + 7 * DAY).unwrap_or_else(|| panic!("due"));
        assert_eq!(next.steps, 1);
        assert!(close(next.confidence, 0.4));
        // Applied three times a day for two months, the steps add up to the same
        // as at once (while the memory stays active: an inactive one stops).
        let mut daily = stale(0.9, 0, 0);
        let mut at = 0;
        while at <= 60 * DAY {
            if let Some(d) = decay(&daily, &rule, at) {
                daily.confidence = d.confidence;
                daily.active = d.active;
                daily.updated_at_ms = d.updated_at_ms;
            }
            at += DAY / 3;
        }
        let once =
            decay(&stale(0.9, 60, 60 * DAY), &rule, 60 * DAY).unwrap_or_else(|| panic!("due"));
        assert!(
            close(daily.confidence, once.confidence),
            "{daily:?} {once:?}"
        );
        assert!(close(once.confidence, 0.5) && daily.active);
        // Inactive memories stay as they are; a grace of 0 is no decay at all.
        let mut off = stale(0.7, 400, now);
        off.active = false;
        assert_eq!(decay(&off, &rule, now), None);
        assert_eq!(DecayRule::after(0), None);
        assert!(rule.due_at_or_before(now) == now - 37 * DAY);
    }

    proptest! {
        #[test]
        fn confidence_stays_in_range_and_active_tracks_it(
            start in proptest::option::of((0.0f64..=1.0, 0usize..3)),
            reports in proptest::collection::vec(0usize..3, 0..60),
        ) {
            const VALUES: [&str; 3] = ["a", "b", "c"];
            let mut stored = start.map(|(confidence, v)| {
                let mut m = memory("k", VALUES[v], confidence);
                m.active = true;
                m
            });
            for (i, v) in reports.into_iter().enumerate() {
                let before = stored.clone();
                let outcome = merge(stored.as_ref(), VALUES[v]);
                prop_assert!((0.0..=1.0).contains(&outcome.confidence), "{outcome:?}");
                prop_assert_eq!(outcome.active, outcome.confidence >= ACTIVE_THRESHOLD);
                match (&before, outcome.kind) {
                    (None, kind) => prop_assert_eq!(kind, MergeKind::New),
                    (Some(m), MergeKind::Confirmed) => {
                        prop_assert_eq!(&m.value, VALUES[v]);
                        prop_assert!(outcome.confidence >= m.confidence - EPSILON);
                    }
                    (Some(m), MergeKind::Contradicted) => {
                        prop_assert_ne!(m.value.as_str(), VALUES[v]);
                        prop_assert_eq!(&outcome.value, &m.value);
                        prop_assert!(outcome.active);
                    }
                    (Some(m), MergeKind::Replaced) => {
                        prop_assert_ne!(m.value.as_str(), VALUES[v]);
                        prop_assert_eq!(outcome.value.as_str(), VALUES[v]);
                        prop_assert_eq!(outcome.confidence, INITIAL_CONFIDENCE);
                    }
                    (Some(_), MergeKind::New) => prop_assert!(false, "new over a stored memory"),
                }
                let session = SessionId::try_from(i).unwrap_or_default();
                stored = Some(apply(before, VALUES[v], session));
            }
        }

        #[test]
        fn selection_fits_the_budget_in_order(
            specs in proptest::collection::vec((0u8..=10, any::<bool>(), 0i64..5, "[a-z ]{0,80}"), 0..30),
            budget in 0usize..400,
        ) {
            let memories: Vec<Memory> = specs
                .into_iter()
                .enumerate()
                .map(|(i, (tenths, active, updated, value))| {
                    let mut m = memory(&format!("k{i}"), &value, f64::from(tenths) / 10.0);
                    m.id = i64::try_from(i).unwrap_or_default();
                    m.active = active;
                    m.updated_at_ms = updated;
                    m
                })
                .collect();
            let selected = select_for_prompt(&memories, budget);
            let used: usize = selected.iter().map(|m| estimate_tokens(&render_line(m))).sum();
            prop_assert!(used <= budget);
            prop_assert!(selected.iter().all(|m| m.active));
            for pair in selected.windows(2) {
                prop_assert_eq!(prompt_order(pair[0], pair[1]), Ordering::Less);
            }
        }
    }
}
