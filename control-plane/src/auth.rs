//! Who may change things: the API token, and dashboard logins made from it.
//!
//! Every mutating endpoint needs `Authorization: Bearer TOKEN` or a dashboard login
//! cookie plus the login's CSRF token (a form field or `X-CSRF-Token`). The cookie
//! is `HttpOnly; SameSite=Strict`; logins live in memory and end with the process.
//! Tokens are compared in constant time and never logged.
//!
//! A top-level module, not under `http/`: `App` holds the `Auth`, and `http/`
//! reads `App`, so keeping it here keeps the module graph free of cycles.

use std::collections::HashMap;
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

struct WebLogin {
    csrf: String,
    expires_ms: i64,
}

pub struct Auth {
    api_token: String,
    logins: Mutex<HashMap<String, WebLogin>>,
}

/// A logged-in dashboard viewer.
#[derive(Debug, Clone)]
pub struct Login {
    pub id: String,
    pub csrf: String,
}

pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Auth {
    pub fn new(api_token: String) -> Auth {
        Auth {
            api_token,
            logins: Mutex::new(HashMap::new()),
        }
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

    fn lock(&self) -> MutexGuard<'_, HashMap<String, WebLogin>> {
        self.logins
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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

    /// Trades the API token for a dashboard login.
    pub fn login(&self, token: &str, now_ms: i64) -> Option<Login> {
        if !self.token_matches(token.trim()) {
            return None;
        }
        let login = Login {
            id: random_token(),
            csrf: random_token(),
        };
        let mut logins = self.lock();
        logins.retain(|_, l| l.expires_ms > now_ms);
        logins.insert(
            login.id.clone(),
            WebLogin {
                csrf: login.csrf.clone(),
                expires_ms: now_ms + LOGIN_TTL_MS,
            },
        );
        Some(login)
    }

    /// The login named by the request's cookie, if it is current.
    pub fn login_of(&self, headers: &HeaderMap, now_ms: i64) -> Option<Login> {
        let id = cookie(headers, SESSION_COOKIE)?;
        let logins = self.lock();
        let login = logins.get(&id).filter(|l| l.expires_ms > now_ms)?;
        Some(Login {
            csrf: login.csrf.clone(),
            id,
        })
    }

    /// Who is asking, for audit records and "acknowledged by": the API token's
    /// holder or the dashboard login's user; `None` when neither.
    pub fn actor(&self, headers: &HeaderMap, now_ms: i64) -> Option<String> {
        if self.bearer_ok(headers) {
            return Some("api token".to_owned());
        }
        self.login_of(headers, now_ms).map(|login| {
            format!(
                "dashboard login {:08x}",
                claudeops_core::alert::fnv1a(&[login.id.as_bytes()]) as u32
            )
        })
    }

    pub fn logout(&self, id: &str) {
        self.lock().remove(id);
    }

    /// A dashboard request is allowed to change things: logged in, and the CSRF
    /// token it sent is the login's.
    pub fn form_ok(&self, headers: &HeaderMap, csrf: &str, now_ms: i64) -> bool {
        self.login_of(headers, now_ms)
            .is_some_and(|l| constant_time_eq(l.csrf.as_bytes(), csrf.as_bytes()))
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

/// A `Set-Cookie` value for our cookies.
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64) -> String {
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}")
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
