//! Who may look and who may change things: the API token, named users with a
//! role, and the dashboard logins made from either.
//!
//! Every page and read endpoint needs a login or the bearer token unless it is
//! public (`http::guard`); every mutating endpoint needs `Authorization: Bearer
//! TOKEN` or a dashboard login cookie plus the login's CSRF token (a form field
//! or `X-CSRF-Token`), and a role that may make the change. The cookie is
//! `HttpOnly; SameSite=Strict`, and `Secure` when the dashboard is served over
//! https (`CLAUDEOPS_PUBLIC_URL`); logins live in memory and end with the
//! process. Tokens are compared in constant time and never logged; failed
//! logins are counted per client and refused for a while past a limit.
//!
//! A top-level module, not under `http/`: `App` holds the `Auth`, and `http/`
//! reads `App`, so keeping it here keeps the module graph free of cycles.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE};
use base64::Engine;
use claudeops_pki::constant_time_eq;

pub const SESSION_COOKIE: &str = "claudeops_session";
pub const LOGIN_COOKIE: &str = "claudeops_login";
pub const TOKEN_FILE: &str = "api-token";
/// A dashboard login lasts this long.
const LOGIN_TTL_MS: i64 = 12 * 3600 * 1000;
/// Failed logins a client may make within [`FAILURE_WINDOW_MS`]; past it, the
/// client is refused until its oldest failure leaves the window.
pub const MAX_FAILED_LOGINS: usize = 10;
const FAILURE_WINDOW_MS: i64 = 15 * 60 * 1000;
/// Clients whose failures are remembered at once; the oldest are forgotten
/// past this, so a flood of addresses cannot grow memory without bound.
const MAX_TRACKED_CLIENTS: usize = 10_000;
/// The name audit records give the API token's holder.
pub const TOKEN_ACTOR: &str = "api token";

/// What a user may do. Ordered: each role may do all the one before may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Reads every page and read endpoint.
    Viewer,
    /// Also Run Now, Stop, approve, acknowledge, maintenance, probes, memories.
    Operator,
    /// Also the settings and workers (revoke). The API token is an admin.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?}: use viewer, operator or admin"))
    }
}

struct WebLogin {
    csrf: String,
    expires_ms: i64,
    started_ms: i64,
    user: String,
    role: Role,
}

pub struct Auth {
    api_token: String,
    logins: Mutex<HashMap<String, WebLogin>>,
    /// Failed login times per client, oldest first.
    failures: Mutex<HashMap<IpAddr, Vec<i64>>>,
    secure_cookies: bool,
}

/// A logged-in dashboard viewer.
#[derive(Debug, Clone)]
pub struct Login {
    pub id: String,
    pub csrf: String,
    /// The user's name, or [`TOKEN_ACTOR`] for a login made with the token.
    pub user: String,
    pub role: Role,
}

pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Auth {
    pub fn new(api_token: String) -> Auth {
        Auth {
            api_token,
            logins: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            secure_cookies: false,
        }
    }

    /// Marks the login cookie `Secure` (the dashboard is served over https).
    pub fn with_secure_cookies(mut self, secure: bool) -> Auth {
        self.secure_cookies = secure;
        self
    }

    /// Uses the configured token, or the one kept in the state dir, or makes one
    /// and keeps it there (mode 0600). Returns the file when the token is in one.
    pub fn load_or_create(
        configured: Option<&str>,
        state_dir: &Path,
    ) -> std::io::Result<(Auth, Option<PathBuf>)> {
        if let Some(token) = configured {
            return Ok((Auth::new(token.to_owned()), None));
        }
        let path = state_dir.join(TOKEN_FILE);
        let token = match std::fs::read_to_string(&path) {
            Ok(token) if !token.trim().is_empty() => token.trim().to_owned(),
            _ => {
                let token = random_token();
                claudeops_pki::write_secret_file(&path, format!("{token}\n").as_bytes())?;
                token
            }
        };
        Ok((Auth::new(token), Some(path)))
    }

    /// A key for `purpose` (signing links), derived from the API token: it
    /// never leaves the control plane, replicas sharing the token agree on
    /// it, and a new token voids what the old one signed.
    pub fn derive_key(&self, purpose: &str) -> Vec<u8> {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, self.api_token.as_bytes());
        let tag = ring::hmac::sign(&key, format!("claudeops key: {purpose}").as_bytes());
        tag.as_ref().to_vec()
    }

    pub fn token_matches(&self, candidate: &str) -> bool {
        constant_time_eq(candidate.as_bytes(), self.api_token.as_bytes())
    }

    /// True if the request carries the API token as a bearer token.
    pub fn bearer_ok(&self, headers: &HeaderMap) -> bool {
        headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| self.token_matches(t.trim()))
    }

    /// Trades the API token for a dashboard login (an admin's).
    pub fn login(&self, token: &str, now_ms: i64) -> Option<Login> {
        if !self.token_matches(token.trim()) {
            return None;
        }
        Some(self.start_login(TOKEN_ACTOR, Role::Admin, now_ms))
    }

    /// A dashboard login for a user whose password was checked (`Users::verify`).
    pub fn start_login(&self, user: &str, role: Role, now_ms: i64) -> Login {
        let login = Login {
            id: random_token(),
            csrf: random_token(),
            user: user.to_owned(),
            role,
        };
        let mut logins = lock(&self.logins);
        logins.retain(|_, l| l.expires_ms > now_ms);
        logins.insert(
            login.id.clone(),
            WebLogin {
                csrf: login.csrf.clone(),
                expires_ms: now_ms + LOGIN_TTL_MS,
                started_ms: now_ms,
                user: login.user.clone(),
                role,
            },
        );
        login
    }

    /// The login named by the request's cookie, if it is current.
    pub fn login_of(&self, headers: &HeaderMap, now_ms: i64) -> Option<Login> {
        let id = cookie(headers, SESSION_COOKIE)?;
        let logins = lock(&self.logins);
        let login = logins.get(&id).filter(|l| l.expires_ms > now_ms)?;
        Some(Login {
            csrf: login.csrf.clone(),
            user: login.user.clone(),
            role: login.role,
            id,
        })
    }

    /// Who is asking, for audit records and "acknowledged by": the API token's
    /// holder or the dashboard login's user; `None` when neither.
    pub fn actor(&self, headers: &HeaderMap, now_ms: i64) -> Option<String> {
        if self.bearer_ok(headers) {
            return Some(TOKEN_ACTOR.to_owned());
        }
        self.login_of(headers, now_ms).map(|login| login.user)
    }

    /// The asker's role: the token is an admin's; a login has its user's role.
    pub fn role_of(&self, headers: &HeaderMap, now_ms: i64) -> Option<Role> {
        if self.bearer_ok(headers) {
            return Some(Role::Admin);
        }
        self.login_of(headers, now_ms).map(|login| login.role)
    }

    pub fn logout(&self, id: &str) {
        lock(&self.logins).remove(id);
    }

    /// Ends every login of a user (removed, or given a new role or password).
    pub fn logout_user(&self, user: &str) {
        lock(&self.logins).retain(|_, l| l.user != user);
    }

    /// Ends the logins of users who were removed, or whose role or password
    /// changed after they logged in (`user add` in another process).
    /// `users` is every user with its role and when it last changed.
    pub fn end_stale_logins(&self, users: &[(String, Role, i64)]) {
        lock(&self.logins).retain(|_, l| {
            l.user == TOKEN_ACTOR
                || users.iter().any(|(name, role, updated_ms)| {
                    *name == l.user && *role == l.role && *updated_ms <= l.started_ms
                })
        });
    }

    /// A dashboard request is allowed to change things: logged in as an
    /// operator or admin, and the CSRF token it sent is the login's.
    pub fn form_ok(&self, headers: &HeaderMap, csrf: &str, now_ms: i64) -> bool {
        self.login_of(headers, now_ms).is_some_and(|l| {
            l.role >= Role::Operator && constant_time_eq(l.csrf.as_bytes(), csrf.as_bytes())
        })
    }

    /// Either a bearer token, or a login with the CSRF token in `X-CSRF-Token`.
    pub fn api_ok(&self, headers: &HeaderMap, now_ms: i64) -> bool {
        if self.bearer_ok(headers) {
            return true;
        }
        let header = headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        !header.is_empty() && self.form_ok(headers, header, now_ms)
    }

    /// `Err(seconds to wait)` when the client has failed to log in too often.
    pub fn login_allowed(&self, client: IpAddr, now_ms: i64) -> Result<(), u64> {
        let failures = lock(&self.failures);
        let Some(times) = failures.get(&client) else {
            return Ok(());
        };
        let recent: Vec<i64> = times
            .iter()
            .copied()
            .filter(|t| *t > now_ms - FAILURE_WINDOW_MS)
            .collect();
        if recent.len() < MAX_FAILED_LOGINS {
            return Ok(());
        }
        let oldest = recent[recent.len() - MAX_FAILED_LOGINS];
        let wait_ms = oldest + FAILURE_WINDOW_MS - now_ms;
        Err(u64::try_from(wait_ms.max(1000) / 1000).unwrap_or(1))
    }

    /// Counts a failed login of the client.
    pub fn login_failed(&self, client: IpAddr, now_ms: i64) {
        let mut failures = lock(&self.failures);
        if failures.len() >= MAX_TRACKED_CLIENTS && !failures.contains_key(&client) {
            failures.retain(|_, times| times.iter().any(|t| *t > now_ms - FAILURE_WINDOW_MS));
            if failures.len() >= MAX_TRACKED_CLIENTS
                && let Some(stalest) = failures
                    .iter()
                    .min_by_key(|(_, times)| times.last().copied().unwrap_or(i64::MIN))
                    .map(|(ip, _)| *ip)
            {
                failures.remove(&stalest);
            }
        }
        let times = failures.entry(client).or_default();
        times.retain(|t| *t > now_ms - FAILURE_WINDOW_MS);
        times.push(now_ms);
    }

    /// A successful login clears the client's failures.
    pub fn login_succeeded(&self, client: IpAddr) {
        lock(&self.failures).remove(&client);
    }

    /// A `Set-Cookie` value for our cookies.
    pub fn set_cookie(&self, name: &str, value: &str, max_age_secs: i64) -> String {
        let secure = if self.secure_cookies { "; Secure" } else { "" };
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}")
    }
}

/// A cookie's value from the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                *k,
                HeaderValue::from_str(v).unwrap_or_else(|e| panic!("{e}")),
            );
        }
        h
    }

    #[test]
    fn bearer_and_login_checks() {
        let auth = Auth::new("s3cret-token-0123456789".into());
        assert!(auth.bearer_ok(&headers(&[(
            "authorization",
            "Bearer s3cret-token-0123456789"
        )])));
        assert!(!auth.bearer_ok(&headers(&[("authorization", "Bearer nope")])));
        assert!(!auth.bearer_ok(&headers(&[])));
        assert!(auth.login("wrong", 0).is_none());

        let login = auth
            .login("s3cret-token-0123456789", 0)
            .unwrap_or_else(|| panic!("login"));
        let cookie = format!("other=1; {SESSION_COOKIE}={}", login.id);
        let h = headers(&[("cookie", &cookie)]);
        assert!(auth.form_ok(&h, &login.csrf, 1));
        assert!(
            !auth.form_ok(&h, "forged", 1),
            "a wrong CSRF token is refused"
        );
        assert!(
            !auth.form_ok(&h, &login.csrf, LOGIN_TTL_MS + 1),
            "logins expire"
        );
        let with_header = headers(&[("cookie", &cookie), ("x-csrf-token", &login.csrf)]);
        assert!(auth.api_ok(&with_header, 1));
        assert!(
            !auth.api_ok(&h, 1),
            "a cookie alone is not enough for the API"
        );
        auth.logout(&login.id);
        assert!(!auth.form_ok(&h, &login.csrf, 1));
    }

    #[test]
    fn roles_decide_what_a_login_may_change() {
        let auth = Auth::new("s3cret-token-0123456789".into());
        let viewer = auth.start_login("vera", Role::Viewer, 0);
        let cookie = format!("{SESSION_COOKIE}={}", viewer.id);
        let h = headers(&[("cookie", &cookie), ("x-csrf-token", &viewer.csrf)]);
        assert!(
            !auth.form_ok(&h, &viewer.csrf, 1),
            "a viewer changes nothing"
        );
        assert!(!auth.api_ok(&h, 1));
        assert_eq!(auth.role_of(&h, 1), Some(Role::Viewer));
        assert_eq!(auth.actor(&h, 1).as_deref(), Some("vera"));

        let operator = auth.start_login("otto", Role::Operator, 0);
        let cookie = format!("{SESSION_COOKIE}={}", operator.id);
        let h = headers(&[("cookie", &cookie)]);
        assert!(auth.form_ok(&h, &operator.csrf, 1));
        auth.end_stale_logins(&[("otto".into(), Role::Operator, 0)]);
        assert!(auth.login_of(&h, 1).is_some(), "unchanged: kept");
        auth.end_stale_logins(&[("otto".into(), Role::Operator, 5)]);
        assert!(auth.login_of(&h, 1).is_none(), "changed since: ended");
        let operator = auth.start_login("otto", Role::Operator, 10);
        let cookie = format!("{SESSION_COOKIE}={}", operator.id);
        let h = headers(&[("cookie", &cookie)]);
        auth.end_stale_logins(&[]);
        assert!(auth.login_of(&h, 11).is_none(), "removed: ended");
        let operator = auth.start_login("otto", Role::Operator, 10);
        let cookie = format!("{SESSION_COOKIE}={}", operator.id);
        let h = headers(&[("cookie", &cookie)]);
        auth.logout_user("otto");
        assert!(auth.login_of(&h, 11).is_none(), "the user's logins end");
        let token_login = auth
            .login("s3cret-token-0123456789", 0)
            .unwrap_or_else(|| panic!("login"));
        auth.end_stale_logins(&[]);
        let cookie = format!("{SESSION_COOKIE}={}", token_login.id);
        assert!(
            auth.login_of(&headers(&[("cookie", &cookie)]), 1).is_some(),
            "token logins stay"
        );

        let bearer = headers(&[("authorization", "Bearer s3cret-token-0123456789")]);
        assert_eq!(auth.role_of(&bearer, 1), Some(Role::Admin));
        assert_eq!(auth.actor(&bearer, 1).as_deref(), Some(TOKEN_ACTOR));
        assert!("root".parse::<Role>().is_err());
        assert_eq!("operator".parse::<Role>(), Ok(Role::Operator));
        assert!(Role::Viewer < Role::Operator && Role::Operator < Role::Admin);
    }

    #[test]
    fn failed_logins_are_limited_per_client() {
        let auth = Auth::new("s3cret-token-0123456789".into());
        let client: IpAddr = [192, 0, 2, 10].into();
        let other: IpAddr = [192, 0, 2, 11].into();
        for i in 0..MAX_FAILED_LOGINS {
            assert_eq!(auth.login_allowed(client, 1000), Ok(()), "attempt {i}");
            auth.login_failed(client, 1000 + i as i64);
        }
        let wait = auth
            .login_allowed(client, 2000)
            .expect_err("refused past the limit");
        assert!(wait > 0 && wait <= 15 * 60, "{wait}");
        assert_eq!(auth.login_allowed(other, 2000), Ok(()), "per client");
        assert_eq!(
            auth.login_allowed(client, 1000 + FAILURE_WINDOW_MS + 1),
            Ok(()),
            "the window passes"
        );
        auth.login_succeeded(client);
        assert_eq!(auth.login_allowed(client, 2000), Ok(()));
    }

    #[test]
    fn cookies_are_secure_over_https() {
        let plain = Auth::new("s3cret-token-0123456789".into());
        assert!(!plain.set_cookie("a", "b", 1).contains("Secure"));
        let secure = Auth::new("s3cret-token-0123456789".into()).with_secure_cookies(true);
        let cookie = secure.set_cookie("a", "b", 1);
        assert!(
            cookie.contains("; Secure") && cookie.contains("HttpOnly"),
            "{cookie}"
        );
    }

    #[test]
    fn generates_and_keeps_a_token() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (a, path) = Auth::load_or_create(None, dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let path = path.unwrap_or_else(|| panic!("a token file"));
        let (b, _) = Auth::load_or_create(None, dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.api_token, b.api_token);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)
            .map(|m| m.permissions().mode())
            .unwrap_or(0);
        assert_eq!(mode & 0o777, 0o600);
    }
}
