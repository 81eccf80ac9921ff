//! What each row of the original becomes here, or why it cannot be imported.
//! Pure: no clock, no database.
//!
//! A row is refused only when what it is about cannot be read: a session
//! without a start time or tier, an event without a time or message, a memory
//! without a category or observation, a cooldown action without a service,
//! kind or time. Everything else is imported, adjusted where our rules differ,
//! and each adjustment is said in the plan's `notes`:
//!
//! - a session still `running` in the original is failed here (one running
//!   session per site, and this one's worker is gone); `escalated` is
//!   `completed` (its child carries the chain on); a session with a parent
//!   was started by escalation;
//! - times are the original's RFC 3339 (UTC, `Z`) or SQLite's
//!   `YYYY-MM-DD HH:MM:SS` (its `datetime('now')`, UTC), with fractions or an
//!   offset if present; plain numbers are unix seconds (milliseconds when too
//!   large for seconds);
//! - event levels outside info, warning and critical are read the way the
//!   original read an agent's levels;
//! - memory keys are `service:category` or `category` in our key alphabet.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::UNIX_EPOCH;

use claudeops_core::event::EventLevel;
use claudeops_core::ledger::{self, ActionKind, ActionStatus};
use claudeops_core::memory::{self, INITIAL_CONFIDENCE, MAX_KEY_CHARS};
use claudeops_core::{SessionStatus, Tier, Trigger};
use serde_json::{Value, json};

use super::{Cell, LegacyCooldown, LegacyEvent, LegacyMemory, LegacySession};

/// Numbers at least this large are milliseconds, not seconds (as seconds, they
/// would be after the year 5000).
const MILLISECONDS_FROM: i64 = 100_000_000_000;

/// A session as it is written here.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SessionPlan {
    pub(crate) legacy_id: i64,
    pub(crate) stamp: String,
    /// The original's id of its parent, to be mapped to ours.
    pub(crate) parent: Option<i64>,
    pub(crate) tier: Tier,
    pub(crate) model: String,
    pub(crate) trigger: Trigger,
    pub(crate) status: SessionStatus,
    pub(crate) prompt: Option<String>,
    pub(crate) started_at_ms: i64,
    pub(crate) ended_at_ms: i64,
    pub(crate) cost_usd: f64,
    pub(crate) turns: i64,
    pub(crate) exit_code: Option<i32>,
    pub(crate) response: Option<String>,
    pub(crate) structured: Value,
    pub(crate) error: Option<String>,
    pub(crate) notes: Vec<String>,
}

/// An event as it is written here.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EventPlan {
    pub(crate) legacy_id: i64,
    pub(crate) stamp: String,
    /// The original's session id, to be mapped to ours.
    pub(crate) session: Option<i64>,
    pub(crate) ts_ms: i64,
    pub(crate) level: EventLevel,
    pub(crate) service: Option<String>,
    pub(crate) message: String,
    pub(crate) notes: Vec<String>,
}

/// A memory as it is written here, but for its key's number.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MemoryPlan {
    pub(crate) legacy_id: i64,
    pub(crate) stamp: String,
    pub(crate) session: Option<i64>,
    /// `service:category` or `category`; a second memory with the same one is
    /// written as `key.2`, and so on ([`numbered_key`]).
    pub(crate) key: String,
    pub(crate) value: String,
    pub(crate) confidence: f64,
    pub(crate) active: bool,
    pub(crate) created_at_ms: i64,
    pub(crate) updated_at_ms: i64,
    pub(crate) notes: Vec<String>,
}

/// A cooldown action as it is written into the ledger.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ActionPlan {
    pub(crate) legacy_id: i64,
    pub(crate) stamp: String,
    pub(crate) session: Option<i64>,
    pub(crate) service: String,
    pub(crate) kind: ActionKind,
    pub(crate) status: ActionStatus,
    pub(crate) args: Value,
    pub(crate) result: Option<String>,
    pub(crate) at_ms: i64,
    pub(crate) notes: Vec<String>,
}

// --- values ---

/// The value as text, if it is one (numbers are written out).
fn text(cell: &Cell) -> Option<String> {
    match cell {
        Cell::Null => None,
        Cell::Int(v) => Some(v.to_string()),
        Cell::Real(v) => Some(v.to_string()),
        Cell::Text(v) => Some(v.clone()),
    }
}

/// The value as trimmed text, `None` when null or blank.
fn words(cell: &Cell) -> Option<String> {
    text(cell)
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// The value as a whole number: `Ok(None)` when null, `Err` when not a number.
fn int(cell: &Cell) -> Result<Option<i64>, ()> {
    match cell {
        Cell::Null => Ok(None),
        Cell::Int(v) => Ok(Some(*v)),
        Cell::Real(v) if v.fract() == 0.0 && v.abs() < 9.0e15 => Ok(Some(*v as i64)),
        Cell::Text(v) if v.trim().is_empty() => Ok(None),
        Cell::Text(v) => v.trim().parse().map(Some).map_err(|_| ()),
        Cell::Real(_) => Err(()),
    }
}

/// The value as a number: `Ok(None)` when null, `Err` when not a number.
fn real(cell: &Cell) -> Result<Option<f64>, ()> {
    match cell {
        Cell::Null => Ok(None),
        Cell::Int(v) => Ok(Some(*v as f64)),
        Cell::Real(v) => Ok(Some(*v)),
        Cell::Text(v) if v.trim().is_empty() => Ok(None),
        Cell::Text(v) => v.trim().parse().map(Some).map_err(|_| ()),
    }
}

/// A reference to another row of the original (a session id), if readable.
fn reference(cell: &Cell) -> Option<i64> {
    int(cell).ok().flatten()
}

/// The creation time as the original wrote it, for `legacy_imports`.
pub(crate) fn stamp(cell: &Cell) -> String {
    text(cell).unwrap_or_default()
}

/// A time in unix milliseconds: `Ok(None)` when null, `Err` when not a time.
pub(crate) fn time_ms(cell: &Cell) -> Result<Option<i64>, ()> {
    match cell {
        Cell::Null => Ok(None),
        Cell::Int(v) => Ok(Some(number_time(*v))),
        Cell::Real(v) if v.is_finite() && v.abs() < 1.0e15 => Ok(Some((v * 1000.0).round() as i64)),
        Cell::Real(_) => Err(()),
        Cell::Text(v) if v.trim().is_empty() => Ok(None),
        Cell::Text(v) => match v.trim().parse::<i64>() {
            Ok(n) => Ok(Some(number_time(n))),
            Err(_) => parse_time(v).map(Some).ok_or(()),
        },
    }
}

fn number_time(n: i64) -> i64 {
    if n.abs() >= MILLISECONDS_FROM {
        n
    } else {
        n.saturating_mul(1000)
    }
}

/// `2026-02-15T20:20:21Z`, `2026-02-15 20:20:21`, with a fraction of a second,
/// an offset (`+02:00`, `-0500`) or Go's ` UTC` after it.
pub(crate) fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim().to_ascii_uppercase();
    let text = text.strip_suffix(" UTC").unwrap_or(&text).trim_end();
    let (base, offset_ms) = split_offset(text)?;
    let at = humantime::parse_rfc3339_weak(base.trim_end()).ok()?;
    let ms = i64::try_from(at.duration_since(UNIX_EPOCH).ok()?.as_millis()).ok()?;
    Some(ms - offset_ms)
}

/// The time without its offset, and the offset in milliseconds (local time
/// minus UTC). Offsets come after the seconds (character 19 on).
fn split_offset(text: &str) -> Option<(&str, i64)> {
    let after_seconds = text.get(19..).unwrap_or_default();
    let Some(at) = after_seconds.rfind(['+', '-']).map(|i| i + 19) else {
        return Some((text.strip_suffix('Z').unwrap_or(text), 0));
    };
    let (base, offset) = text.split_at(at);
    let digits: String = offset[1..].chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i64 = digits[..2].parse().ok()?;
    let minutes: i64 = digits[2..].parse().ok()?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    Some((base, sign * (hours * 60 + minutes) * 60_000))
}

/// Why a time column cannot be used.
fn not_a_time(column: &str, cell: &Cell) -> String {
    format!("{column} {cell} is not a time")
}

// --- sessions ---

/// Sessions in the order they can be written: a parent before its children
/// (by depth in the chain, then id). A chain that loops is cut where it loops.
pub(crate) fn parent_first(sessions: &[LegacySession]) -> Vec<&LegacySession> {
    let parents: HashMap<i64, Option<i64>> = sessions
        .iter()
        .map(|s| (s.id, reference(&s.parent_session_id)))
        .collect();
    let depth = |id: i64| {
        let mut seen = HashSet::from([id]);
        let mut at = id;
        while let Some(Some(parent)) = parents.get(&at) {
            if !seen.insert(*parent) {
                break;
            }
            at = *parent;
        }
        seen.len()
    };
    let mut ordered: Vec<(usize, &LegacySession)> =
        sessions.iter().map(|s| (depth(s.id), s)).collect();
    ordered.sort_by_key(|(depth, s)| (*depth, s.id));
    ordered.into_iter().map(|(_, s)| s).collect()
}

pub(crate) fn session(s: &LegacySession) -> Result<SessionPlan, String> {
    let mut notes = Vec::new();
    let started_at_ms = time_ms(&s.started_at)
        .ok()
        .flatten()
        .ok_or_else(|| not_a_time("started_at", &s.started_at))?;
    let tier = int(&s.tier)
        .ok()
        .flatten()
        .and_then(|t| Tier::try_from(t).ok())
        .ok_or_else(|| format!("tier {} is not 1, 2 or 3", s.tier))?;
    let parent = reference(&s.parent_session_id);
    let raw_status = words(&s.status).unwrap_or_default();
    let was_running = raw_status.eq_ignore_ascii_case("running");
    let (status, error) = status(&raw_status, s.id, &mut notes);
    let trigger = if parent.is_some() {
        Trigger::Escalation
    } else {
        match words(&s.trigger) {
            None => Trigger::Scheduled,
            Some(t) => Trigger::from_str(&t.to_lowercase()).unwrap_or_else(|_| {
                notes.push(format!("trigger {t:?} is unknown: imported as scheduled"));
                Trigger::Scheduled
            }),
        }
    };
    let duration_ms = int(&s.duration_ms).ok().flatten().filter(|d| *d >= 0);
    let ended_at_ms = match time_ms(&s.ended_at) {
        Ok(Some(ended)) if ended >= started_at_ms => ended,
        Ok(Some(_)) => {
            notes.push("ended_at is before started_at: imported as ending when it started".into());
            started_at_ms
        }
        unknown => {
            if unknown.is_err() {
                notes.push(format!(
                    "{}: its end is taken as unknown",
                    not_a_time("ended_at", &s.ended_at)
                ));
            } else if !was_running {
                notes.push(
                    "no ended_at: imported as ending after its duration, or when it started".into(),
                );
            }
            started_at_ms.saturating_add(duration_ms.unwrap_or(0))
        }
    };
    let cost_usd = match real(&s.cost_usd) {
        Ok(Some(cost)) if cost.is_finite() && cost >= 0.0 => cost,
        Ok(None) => 0.0,
        _ => {
            notes.push(format!(
                "cost_usd {} is not a cost: imported as 0",
                s.cost_usd
            ));
            0.0
        }
    };
    let turns = int(&s.num_turns).ok().flatten().unwrap_or(0).max(0);
    let exit_code = int(&s.exit_code)
        .ok()
        .flatten()
        .and_then(|c| i32::try_from(c).ok());
    let mut legacy = json!({ "id": s.id, "status": raw_status });
    for (name, cell) in [
        ("prompt_file", &s.prompt_file),
        ("log_file", &s.log_file),
        ("context", &s.context),
    ] {
        if let Some(value) = words(cell) {
            legacy[name] = Value::String(value);
        }
    }
    if let Some(duration) = duration_ms {
        legacy["duration_ms"] = json!(duration);
    }
    let mut structured = json!({ "legacy": legacy });
    if let Some(summary) = words(&s.summary) {
        structured["summary"] = Value::String(summary);
    }
    Ok(SessionPlan {
        legacy_id: s.id,
        stamp: stamp(&s.started_at),
        parent,
        tier,
        model: words(&s.model).unwrap_or_else(|| "unknown".to_owned()),
        trigger,
        status,
        prompt: words(&s.prompt_text),
        started_at_ms,
        ended_at_ms,
        cost_usd,
        turns,
        exit_code,
        response: text(&s.response).filter(|r| !r.trim().is_empty()),
        structured,
        error,
        notes,
    })
}

/// Our status for the original's, and the error to record with it.
fn status(raw: &str, id: i64, notes: &mut Vec<String>) -> (SessionStatus, Option<String>) {
    match raw.to_lowercase().as_str() {
        "running" => {
            notes.push("still running in the original: imported as failed".into());
            (
                SessionStatus::Failed,
                Some(format!(
                    "imported while running: the original's session #{id} had not ended when \
                     its database was imported"
                )),
            )
        }
        "escalated" => (SessionStatus::Completed, None),
        known => match SessionStatus::from_str(known) {
            Ok(status) => (status, None),
            Err(_) => {
                notes.push(format!("status {raw:?} is unknown: imported as failed"));
                (
                    SessionStatus::Failed,
                    Some(format!("the original recorded the status {raw:?}")),
                )
            }
        },
    }
}

// --- events ---

pub(crate) fn event(e: &LegacyEvent) -> Result<EventPlan, String> {
    let mut notes = Vec::new();
    let ts_ms = time_ms(&e.created_at)
        .ok()
        .flatten()
        .ok_or_else(|| not_a_time("created_at", &e.created_at))?;
    let message = words(&e.message).ok_or("message is empty")?;
    let raw = words(&e.level).unwrap_or_default();
    let level = EventLevel::from_str(&raw).unwrap_or_else(|_| {
        let level = original_level(&raw);
        notes.push(format!("level {raw:?} imported as {level}"));
        level
    });
    Ok(EventPlan {
        legacy_id: e.id,
        stamp: stamp(&e.created_at),
        session: reference(&e.session_id),
        ts_ms,
        level,
        service: words(&e.service),
        message,
        notes,
    })
}

/// How the original read a level that is not one of ours.
fn original_level(raw: &str) -> EventLevel {
    match raw.to_lowercase().as_str() {
        "warning" | "warn" | "degraded" => EventLevel::Warning,
        "critical" | "error" | "err" | "fatal" | "failure" | "failed" => EventLevel::Critical,
        _ => EventLevel::Info,
    }
}

// --- memories ---

/// One part of a key in our alphabet: lower-cased, every other character `-`.
fn key_part(raw: &str) -> String {
    raw.trim()
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '_' | '.' | '-' => c,
            _ => '-',
        })
        .collect()
}

/// The key of the original's (service, category): `service:category`, or
/// `category` for a memory about no service; `None` without a category.
pub(crate) fn memory_key(service: Option<&str>, category: &str) -> Option<String> {
    let category = key_part(category);
    if category.is_empty() {
        return None;
    }
    let key = match service.map(key_part).filter(|s| !s.is_empty()) {
        Some(service) => format!("{service}:{category}"),
        None => category,
    };
    Some(key.chars().take(MAX_KEY_CHARS).collect())
}

/// The `n`th key for memories whose key is `key` (1 is the key itself, then
/// `key.2`, `key.3`), cut so that it stays a valid key.
pub(crate) fn numbered_key(key: &str, n: usize) -> String {
    if n <= 1 {
        return key.to_owned();
    }
    let suffix = format!(".{n}");
    let room = MAX_KEY_CHARS.saturating_sub(suffix.len());
    let base: String = key.chars().take(room).collect();
    format!("{base}{suffix}")
}

pub(crate) fn memory(m: &LegacyMemory) -> Result<MemoryPlan, String> {
    let mut notes = Vec::new();
    let service = words(&m.service);
    let category = words(&m.category).ok_or("category is empty")?;
    let key = memory_key(service.as_deref(), &category)
        .ok_or_else(|| format!("category {category:?} makes no key"))?;
    let plain = match &service {
        Some(service) => format!("{service}:{category}").to_lowercase(),
        None => category.to_lowercase(),
    };
    if memory::normalize_key(&key).is_err() {
        return Err(format!("{plain:?} makes no valid key"));
    }
    if key != plain {
        notes.push(format!(
            "service and category {plain:?} make the key {key:?}"
        ));
    }
    let observation = text(&m.observation).unwrap_or_default();
    let value = memory::validate_value(&observation).map_err(|_| "observation is empty")?;
    if value != observation.trim() {
        notes.push(format!(
            "observation cut to {} characters",
            memory::MAX_VALUE_CHARS
        ));
    }
    let confidence = match real(&m.confidence) {
        Ok(Some(c)) => memory::clamp_confidence(c).unwrap_or_else(|_| {
            notes.push(format!(
                "confidence {} imported as {INITIAL_CONFIDENCE}",
                m.confidence
            ));
            INITIAL_CONFIDENCE
        }),
        Ok(None) => INITIAL_CONFIDENCE,
        Err(()) => {
            notes.push(format!(
                "confidence {} imported as {INITIAL_CONFIDENCE}",
                m.confidence
            ));
            INITIAL_CONFIDENCE
        }
    };
    let active = match int(&m.active) {
        Ok(Some(flag)) => flag != 0,
        _ => memory::is_active(confidence),
    };
    let created = time_ms(&m.created_at).ok().flatten();
    let updated = time_ms(&m.updated_at).ok().flatten();
    let (created_at_ms, updated_at_ms) = match (created, updated) {
        (Some(c), Some(u)) => (c, u.max(c)),
        (Some(c), None) => (c, c),
        (None, Some(u)) => {
            notes.push(format!(
                "{}: imported as made when last updated",
                not_a_time("created_at", &m.created_at)
            ));
            (u, u)
        }
        (None, None) => return Err(not_a_time("created_at", &m.created_at)),
    };
    Ok(MemoryPlan {
        legacy_id: m.id,
        stamp: stamp(&m.created_at),
        session: reference(&m.session_id),
        key,
        value,
        confidence,
        active,
        created_at_ms,
        updated_at_ms,
        notes,
    })
}

// --- cooldown actions ---

pub(crate) fn cooldown(c: &LegacyCooldown) -> Result<ActionPlan, String> {
    let mut notes = Vec::new();
    let raw_service = text(&c.service).unwrap_or_default();
    let service = ledger::normalize_service(&raw_service).map_err(|e| e.to_string())?;
    let raw_kind = words(&c.action_type).unwrap_or_default();
    let kind = match raw_kind.to_lowercase().as_str() {
        "restart" => ActionKind::Restart,
        "redeployment" | "redeploy" => ActionKind::Redeploy,
        _ => {
            return Err(format!(
                "action type {} is neither restart nor redeployment",
                c.action_type
            ));
        }
    };
    let at_ms = time_ms(&c.timestamp)
        .ok()
        .flatten()
        .ok_or_else(|| not_a_time("timestamp", &c.timestamp))?;
    let status = match int(&c.success) {
        Ok(Some(0)) => ActionStatus::Failed,
        Ok(Some(_)) => ActionStatus::Succeeded,
        _ => match words(&c.success).map(|s| s.to_lowercase()).as_deref() {
            Some("true" | "yes" | "success") => ActionStatus::Succeeded,
            Some("false" | "no" | "failure") => ActionStatus::Failed,
            _ => {
                notes.push(format!(
                    "success {} is not a yes or no: imported as failed (it still counts)",
                    c.success
                ));
                ActionStatus::Failed
            }
        },
    };
    let mut args = json!({ "imported_from": "claude-ops", "legacy_id": c.id });
    if let Ok(Some(tier)) = int(&c.tier) {
        args["tier"] = json!(tier);
    }
    Ok(ActionPlan {
        legacy_id: c.id,
        stamp: stamp(&c.timestamp),
        session: reference(&c.session_id),
        service,
        kind,
        status,
        args,
        result: words(&c.error).map(|e| ledger::normalize_result(&e)),
        at_ms,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Cell {
        Cell::Text(s.to_owned())
    }

    #[test]
    fn reads_the_originals_times() {
        let at = 1_771_186_821_000; // 2026-02-15T20:20:21Z
        for (text, want) in [
            ("2026-02-15T20:20:21Z", Some(at)),
            ("2026-02-15 20:20:21", Some(at)),
            ("2026-02-15T20:20:21.250Z", Some(at + 250)),
            ("2026-02-15t20:20:21z", Some(at)),
            ("2026-02-15T22:20:21+02:00", Some(at)),
            ("2026-02-15T15:20:21-0500", Some(at)),
            ("2026-02-15 20:20:21.5 +0000 UTC", Some(at + 500)),
            (" 2026-02-15T20:20:21Z ", Some(at)),
            ("2026-02-15T20:20:21+25:00", None),
            ("2026-02-30T20:20:21Z", None),
            ("yesterday", None),
            ("2026-02-15", None),
        ] {
            assert_eq!(parse_time(text), want, "{text:?}");
        }
        assert_eq!(time_ms(&Cell::Int(1_771_186_821)), Ok(Some(at)));
        assert_eq!(time_ms(&Cell::Int(at)), Ok(Some(at)));
        assert_eq!(time_ms(&Cell::Real(1_771_186_821.25)), Ok(Some(at + 250)));
        assert_eq!(time_ms(&t("1771186821")), Ok(Some(at)));
        assert_eq!(time_ms(&Cell::Null), Ok(None));
        assert_eq!(time_ms(&t("soon")), Err(()));
    }

    #[test]
    fn builds_memory_keys_in_our_alphabet() {
        for (service, category, want) in [
            (Some("Jellyfin"), "config", Some("jellyfin:config")),
            (None, "network", Some("network")),
            (Some("  "), "network", Some("network")),
            (
                Some("media server"),
                "Disk Usage",
                Some("media-server:disk-usage"),
            ),
            (Some("a:b"), "c", Some("a-b:c")),
            (Some("x"), "  ", None),
        ] {
            assert_eq!(memory_key(service, category).as_deref(), want);
        }
        let long = "c".repeat(150);
        let key = memory_key(Some("svc"), &long).unwrap_or_default();
        assert_eq!(key.chars().count(), MAX_KEY_CHARS);
        assert_eq!(numbered_key("web:port", 1), "web:port");
        assert_eq!(numbered_key("web:port", 3), "web:port.3");
        let numbered = numbered_key(&key, 12);
        assert_eq!(numbered.chars().count(), MAX_KEY_CHARS);
        assert!(numbered.ends_with(".12"));
        assert!(memory::normalize_key(&numbered).is_ok());
    }

    fn legacy_session(id: i64, parent: Option<i64>) -> LegacySession {
        LegacySession {
            id,
            tier: Cell::Int(1),
            model: t("haiku"),
            prompt_file: t("/app/prompts/tier1-observe.md"),
            status: t("completed"),
            started_at: t("2026-02-15T20:00:00Z"),
            ended_at: t("2026-02-15T20:01:24Z"),
            exit_code: Cell::Int(0),
            log_file: Cell::Null,
            context: Cell::Null,
            response: t("all good"),
            cost_usd: Cell::Real(0.0731),
            num_turns: Cell::Int(9),
            duration_ms: Cell::Int(84_000),
            trigger: t("scheduled"),
            prompt_text: Cell::Null,
            parent_session_id: parent.map_or(Cell::Null, Cell::Int),
            summary: t("All services healthy."),
        }
    }

    #[test]
    fn sessions_keep_their_facts_and_follow_our_rules() {
        let plan = session(&legacy_session(4, None)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.status, SessionStatus::Completed);
        assert_eq!(plan.trigger, Trigger::Scheduled);
        assert_eq!(plan.ended_at_ms - plan.started_at_ms, 84_000);
        assert_eq!(plan.structured["summary"], "All services healthy.");
        assert_eq!(plan.structured["legacy"]["id"], 4);
        assert!(plan.notes.is_empty(), "{:?}", plan.notes);

        let mut running = legacy_session(5, Some(4));
        running.status = t("running");
        running.ended_at = Cell::Null;
        let plan = session(&running).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.status, SessionStatus::Failed);
        assert_eq!(plan.trigger, Trigger::Escalation);
        assert_eq!(plan.parent, Some(4));
        assert!(
            plan.error
                .as_deref()
                .unwrap_or_default()
                .contains("imported while running")
        );
        assert_eq!(plan.notes.len(), 1, "{:?}", plan.notes);

        let mut escalated = legacy_session(6, None);
        escalated.status = t("escalated");
        escalated.cost_usd = t("lots");
        let plan = session(&escalated).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.status, SessionStatus::Completed);
        assert_eq!(plan.cost_usd, 0.0);
        assert_eq!(plan.structured["legacy"]["status"], "escalated");

        let mut odd = legacy_session(7, None);
        odd.tier = Cell::Int(7);
        assert_eq!(
            session(&odd).err().as_deref(),
            Some("tier 7 is not 1, 2 or 3")
        );
        let mut odd = legacy_session(8, None);
        odd.started_at = t("sometime");
        assert!(session(&odd).is_err());
    }

    #[test]
    fn parents_come_before_their_children_and_loops_are_cut() {
        let sessions = vec![
            legacy_session(9, Some(3)),
            legacy_session(3, Some(2)),
            legacy_session(2, None),
            legacy_session(5, Some(6)),
            legacy_session(6, Some(5)),
        ];
        let order: Vec<i64> = parent_first(&sessions).iter().map(|s| s.id).collect();
        assert_eq!(order, [2, 3, 5, 6, 9]);
    }

    #[test]
    fn levels_kinds_and_flags_are_read_as_the_original_meant_them() {
        let mut e = LegacyEvent {
            id: 1,
            session_id: Cell::Null,
            level: t("error"),
            service: t(" "),
            message: t("disk full"),
            created_at: t("2026-02-15 20:20:21"),
        };
        let plan = event(&e).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(plan.level, EventLevel::Critical);
        assert_eq!(plan.service, None);
        assert_eq!(plan.notes.len(), 1);
        e.message = t("   ");
        assert_eq!(event(&e).err().as_deref(), Some("message is empty"));

        let c = LegacyCooldown {
            id: 2,
            service: t("Sonarr"),
            action_type: t("redeployment"),
            timestamp: t("2026-02-15T20:20:21Z"),
            success: Cell::Int(0),
            tier: Cell::Int(3),
            error: t("compose pull failed"),
            session_id: Cell::Int(4),
        };
        let plan = cooldown(&c).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(
            (plan.service.as_str(), plan.kind, plan.status),
            ("sonarr", ActionKind::Redeploy, ActionStatus::Failed)
        );
        assert_eq!(plan.args["tier"], 3);
        let wrong = LegacyCooldown {
            action_type: t("reboot"),
            ..c
        };
        assert!(cooldown(&wrong).is_err());
    }
}
