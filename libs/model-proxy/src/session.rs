//! Sessions: what each token may do, and what it has used.
//!
//! A session is registered with a [`Grant`] and gets a [`SessionKey`]; the key's
//! token is what the session's CLI sends instead of the model key. The registry
//! keeps only a SHA-256 of each token, compared in constant time, so neither a
//! lookup's timing nor a dump of the registry gives a token away. Dropping the
//! key ends the session: its token is refused from then on and its open streams
//! are cut.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::pricing::{Price, Usage};

/// Every token starts with this, so one found in a log or a file is recognised.
pub const TOKEN_PREFIX: &str = "claudeops-session-";

/// What a session may do through the proxy.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    /// The session this grant belongs to (for logs and the meter).
    pub session_id: i64,
    /// The models the session's tier may ask for: exact ids, or the aliases
    /// `haiku`, `sonnet` and `opus`, each matching any id that contains it.
    pub models: Vec<String>,
    /// Stop the session once its cost reaches this many USD; `None`: no cap.
    /// [`SessionKey::lower_cap`] can lower it while the session runs.
    pub max_cost_usd: Option<f64>,
    /// Which limit `max_cost_usd` is, for the message the model and the
    /// operator read, e.g. "the session cap CLAUDEOPS_MAX_SESSION_COST_USD=0.50".
    pub cap_reason: String,
}

impl Grant {
    /// Whether the grant allows `model`.
    pub fn allows(&self, model: &str) -> bool {
        self.models.iter().any(|allowed| {
            if matches!(allowed.as_str(), "haiku" | "sonnet" | "opus") {
                model.contains(allowed.as_str())
            } else {
                model == allowed
            }
        })
    }
}

/// What a session has used so far (a snapshot).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Meter {
    /// Requests forwarded upstream.
    pub requests: u64,
    /// Requests refused (a model the tier may not use, the cap, a bad body).
    pub refused: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
    /// Cost in USD at the prices of [`crate::pricing`].
    pub cost_usd: f64,
    /// Bytes of every request body read (forwarded or refused after reading).
    pub request_bytes_total: u64,
    /// The largest request body read.
    pub request_bytes_max: u64,
    /// The models of the forwarded requests, each once, in the order first asked.
    pub models: Vec<String>,
}

/// Where a session stands; watched by its open streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Open,
    /// The cost reached the cap.
    Capped,
    /// The key was dropped.
    Ended,
}

/// One registered session.
pub(crate) struct Session {
    token_hash: [u8; 32],
    /// The grant as opened; its cap may since have been lowered (see `Ledger`).
    pub grant: Grant,
    ledger: Mutex<Ledger>,
    state: watch::Sender<State>,
}

/// What a session used and the cap it is held to, changed together.
pub(crate) struct Ledger {
    pub meter: Meter,
    max_cost_usd: Option<f64>,
    cap_reason: String,
}

impl Ledger {
    fn reached(&self) -> bool {
        self.max_cost_usd
            .is_some_and(|max| self.meter.cost_usd >= max)
    }
}

impl Session {
    pub fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn state(&self) -> State {
        *self.state.borrow()
    }

    pub fn watch(&self) -> watch::Receiver<State> {
        self.state.subscribe()
    }

    /// Records a request body's size.
    pub fn record_body(&self, bytes: u64) {
        let m = &mut self.ledger().meter;
        m.request_bytes_total += bytes;
        m.request_bytes_max = m.request_bytes_max.max(bytes);
    }

    pub fn record_refused(&self) {
        self.ledger().meter.refused += 1;
    }

    pub fn record_forwarded(&self, model: &str) {
        let m = &mut self.ledger().meter;
        m.requests += 1;
        if !m.models.iter().any(|known| known == model) {
            m.models.push(model.to_owned());
        }
    }

    /// Whether the session may still send: not capped, not ended, and its cost
    /// below the cap. Caps the session when the cost already reached it.
    pub fn check_cap(&self) -> State {
        let reached = self.ledger().reached();
        if reached {
            self.cap();
        }
        self.state()
    }

    /// Adds `delta` at the price of `model`; returns the state after it (capped
    /// when the cost reached the cap).
    pub fn charge(&self, model: &str, delta: &Usage) -> State {
        let reached = {
            let mut ledger = self.ledger();
            let m = &mut ledger.meter;
            m.input_tokens += delta.input_tokens;
            m.output_tokens += delta.output_tokens;
            m.cache_creation_input_tokens += delta.cache_creation_input_tokens;
            m.cache_read_input_tokens += delta.cache_read_input_tokens;
            m.cost_usd += Price::of(model).cost(delta);
            ledger.reached()
        };
        if reached {
            self.cap();
        }
        self.state()
    }

    /// Holds the session to `max_cost_usd` from now on if that is lower than
    /// its cap (or it had none); returns the state after it.
    pub fn lower_cap(&self, max_cost_usd: f64, reason: &str) -> State {
        {
            let mut ledger = self.ledger();
            if ledger.max_cost_usd.is_none_or(|max| max_cost_usd < max) {
                ledger.max_cost_usd = Some(max_cost_usd);
                reason.clone_into(&mut ledger.cap_reason);
            }
        }
        self.check_cap()
    }

    fn cap(&self) {
        self.state.send_if_modified(|s| {
            let open = *s == State::Open;
            if open {
                *s = State::Capped;
                tracing::warn!(
                    session_id = self.grant.session_id,
                    "the session's model cost reached its cap; its requests are refused from now on"
                );
            }
            open
        });
    }

    /// The message the client gets once the cap stopped the session.
    pub fn stop_message(&self) -> String {
        let ledger = self.ledger();
        format!(
            "Claude Ops stopped this session: its model cost reached ${:.4}, \
             at or over the ${:.4} limit of {}. Every further request of this session is refused.",
            ledger.meter.cost_usd,
            ledger.max_cost_usd.unwrap_or(0.0),
            ledger.cap_reason
        )
    }
}

/// The registered sessions of one proxy.
#[derive(Default)]
pub(crate) struct Registry {
    sessions: Mutex<Vec<Arc<Session>>>,
}

impl Registry {
    fn list(&self) -> MutexGuard<'_, Vec<Arc<Session>>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers `grant` under a new random token.
    pub fn open(self: &Arc<Self>, grant: Grant) -> SessionKey {
        let token = format!("{TOKEN_PREFIX}{}", hex::encode(rand::random::<[u8; 32]>()));
        let session = Arc::new(Session {
            token_hash: hash(&token),
            ledger: Mutex::new(Ledger {
                meter: Meter::default(),
                max_cost_usd: grant.max_cost_usd,
                cap_reason: grant.cap_reason.clone(),
            }),
            grant,
            state: watch::channel(State::Open).0,
        });
        self.list().push(session.clone());
        SessionKey {
            token,
            session,
            registry: Arc::downgrade(self),
        }
    }

    /// The session whose token is `token`. Every registered hash is compared,
    /// each in constant time, whatever matches.
    pub fn find(&self, token: &str) -> Option<Arc<Session>> {
        let presented = hash(token);
        let mut found = None;
        for session in self.list().iter() {
            if constant_time_eq(&session.token_hash, &presented) {
                found = Some(session.clone());
            }
        }
        found
    }

    fn remove(&self, session: &Arc<Session>) {
        self.list().retain(|s| !Arc::ptr_eq(s, session));
    }
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// A session's registration. Its token goes into the CLI's `ANTHROPIC_API_KEY`;
/// dropping it ends the session (the token is refused, open streams are cut).
pub struct SessionKey {
    token: String,
    session: Arc<Session>,
    registry: Weak<Registry>,
}

impl SessionKey {
    /// The token the session's CLI authenticates with. It is a secret of the
    /// session: pass it through the environment, never argv or a log line.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The session this key was opened for.
    pub fn session_id(&self) -> i64 {
        self.session.grant.session_id
    }

    /// What the session has used so far.
    pub fn meter(&self) -> Meter {
        self.session.ledger().meter.clone()
    }

    /// Holds the session to a lower cap from now on, e.g. what is left of the
    /// day's fleet budget when other sessions spent part of it; `reason` names
    /// that limit in the stop message. A cap above the current one is ignored.
    /// When the session's cost already reached it, the session is stopped now:
    /// its open streams are cut and [`SessionKey::capped`] resolves.
    pub fn lower_cap(&self, max_cost_usd: f64, reason: &str) {
        self.session.lower_cap(max_cost_usd, reason);
    }

    /// Whether the cost cap has stopped the session.
    pub fn is_capped(&self) -> bool {
        self.session.state() == State::Capped
    }

    /// Resolves once the cost cap has stopped the session, so the caller can
    /// stop the CLI; never resolves for a session that stays under its cap.
    pub async fn capped(&self) {
        let mut rx = self.session.watch();
        if rx.wait_for(|s| *s == State::Capped).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionKey")
            .field("session_id", &self.session.grant.session_id)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl Drop for SessionKey {
    fn drop(&mut self) {
        if let Some(registry) = self.registry.upgrade() {
            registry.remove(&self.session);
        }
        self.session.state.send_if_modified(|s| {
            let open = *s == State::Open;
            if open {
                *s = State::Ended;
            }
            open
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(models: &[&str]) -> Grant {
        Grant {
            session_id: 7,
            models: models.iter().map(|m| m.to_string()).collect(),
            max_cost_usd: Some(0.01),
            cap_reason: "the session cap CLAUDEOPS_MAX_SESSION_COST_USD=0.01".into(),
        }
    }

    #[test]
    fn aliases_match_by_family_and_ids_exactly() {
        let g = grant(&["haiku", "claude-sonnet-4-5-20250929"]);
        assert!(g.allows("claude-haiku-4-5-20251001"));
        assert!(g.allows("claude-3-5-haiku-20241022"));
        assert!(g.allows("claude-sonnet-4-5-20250929"));
        assert!(!g.allows("claude-sonnet-4-5"));
        assert!(!g.allows("claude-opus-4-5"));
        assert!(!grant(&[]).allows("claude-haiku-4-5"));
    }

    #[test]
    fn tokens_are_found_until_their_key_is_dropped() {
        let registry = Arc::new(Registry::default());
        let a = registry.open(grant(&["haiku"]));
        let b = registry.open(grant(&["opus"]));
        assert!(a.token().starts_with(TOKEN_PREFIX));
        assert_eq!(a.token().len(), TOKEN_PREFIX.len() + 64);
        assert_ne!(a.token(), b.token());
        let found = registry.find(a.token()).map(|s| s.grant.models.clone());
        assert_eq!(found, Some(vec!["haiku".to_string()]));
        assert!(registry.find("claudeops-session-00").is_none());
        let token = a.token().to_owned();
        let session = registry.find(&token).unwrap_or_else(|| panic!("not found"));
        drop(a);
        assert!(registry.find(&token).is_none());
        assert_eq!(session.state(), State::Ended);
        assert!(registry.find(b.token()).is_some());
        assert!(!format!("{b:?}").contains(b.token()));
    }

    #[test]
    fn the_cap_holds_once_reached() {
        let registry = Arc::new(Registry::default());
        let key = registry.open(grant(&["haiku"]));
        let session = registry
            .find(key.token())
            .unwrap_or_else(|| panic!("not found"));
        let small = Usage {
            output_tokens: 1000,
            ..Usage::default()
        };
        // 1000 output tokens of haiku 4.5: $0.005.
        assert_eq!(session.charge("claude-haiku-4-5", &small), State::Open);
        assert!(!key.is_capped());
        assert_eq!(session.charge("claude-haiku-4-5", &small), State::Capped);
        assert!(key.is_capped());
        assert_eq!(session.check_cap(), State::Capped);
        let message = session.stop_message();
        assert!(
            message.starts_with("Claude Ops stopped this session: "),
            "{message}"
        );
        assert!(message.contains("$0.0100"), "{message}");
        assert!(
            message.contains("CLAUDEOPS_MAX_SESSION_COST_USD=0.01"),
            "{message}"
        );
        // A cap above the current one changes nothing.
        let higher = registry.open(grant(&["haiku"]));
        let other = registry
            .find(higher.token())
            .unwrap_or_else(|| panic!("not found"));
        higher.lower_cap(1.0, "the day's fleet cap");
        assert!(
            other
                .stop_message()
                .contains("CLAUDEOPS_MAX_SESSION_COST_USD")
        );
        // A lower one takes over, and stops a session already past it.
        assert_eq!(other.charge("claude-haiku-4-5", &small), State::Open);
        higher.lower_cap(0.001, "the day's fleet cap CLAUDEOPS_MAX_DAILY_COST_USD");
        assert!(higher.is_capped());
        let message = other.stop_message();
        assert!(
            message.contains("$0.0010 limit of the day's fleet cap"),
            "{message}"
        );
        // A capped session stays capped when its key is dropped.
        drop(key);
        assert_eq!(session.state(), State::Capped);
    }

    #[test]
    fn a_cap_already_reached_refuses_before_any_usage() {
        let registry = Arc::new(Registry::default());
        let mut g = grant(&["haiku"]);
        g.max_cost_usd = Some(0.0);
        let key = registry.open(g);
        let session = registry
            .find(key.token())
            .unwrap_or_else(|| panic!("not found"));
        assert_eq!(session.check_cap(), State::Capped);
        assert!(key.is_capped());
    }
}
