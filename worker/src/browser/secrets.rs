//! The worker's secrets for browser work, and the redaction of every known
//! secret from everything the worker hands on.
//!
//! Credentials come from the worker's own environment,
//! `BROWSER_CRED_{SERVICE}_{FIELD}`; the CLI's environment is an allow-list
//! that never holds them (`crate::job`). Secrets read from a page
//! (`browser_read_secret`) join them for the worker's lifetime. The model only
//! ever names a secret; the worker types the value.
//!
//! [`Redactor`] replaces each known value, raw, percent-encoded and in base64
//! (at each of the three byte alignments, so a value inside a larger encoded
//! blob such as a Basic credential is found too), with `[redacted]`. It runs on
//! every browser reply, every CLI output line and every message to the
//! control plane.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";
/// The prefix of credential variables in the worker's environment.
pub const CRED_PREFIX: &str = "BROWSER_CRED_";
/// A secret shorter than this cannot be redacted without mangling ordinary
/// text, so it is refused.
pub const MIN_SECRET: usize = 6;
/// The longest secret accepted.
pub const MAX_SECRET: usize = 4096;

/// Whether `name` is a secret's name: `[A-Z][A-Z0-9_]*`, at most 128 characters.
pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && b[0].is_ascii_uppercase()
        && b.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
}

/// The patterns to replace, longest first; shared by every user.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    patterns: Arc<RwLock<Vec<String>>>,
}

impl Redactor {
    pub fn new() -> Redactor {
        Redactor::default()
    }

    /// The process's redactor: every secret this worker knows, applied to all
    /// it sends to the control plane and every session output line.
    pub fn global() -> &'static Redactor {
        static GLOBAL: std::sync::OnceLock<Redactor> = std::sync::OnceLock::new();
        GLOBAL.get_or_init(Redactor::new)
    }

    /// Adds one secret value (and its encodings).
    pub fn add(&self, secret: &str) {
        let mut found = encodings(secret);
        let mut patterns = self
            .patterns
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        found.retain(|p| !patterns.contains(p));
        patterns.extend(found);
        patterns.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    }

    pub fn is_empty(&self) -> bool {
        self.patterns
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_empty()
    }

    /// `text` with every known secret replaced. Every match of every pattern
    /// is found in the original text first, and overlapping matches are
    /// merged before anything is replaced: a pattern that overlaps a secret
    /// can never cut it in half.
    pub fn redact(&self, text: &str) -> String {
        let patterns = self
            .patterns
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for pattern in patterns.iter() {
            spans.extend(
                text.match_indices(pattern.as_str())
                    .map(|(at, m)| (at, at + m.len())),
            );
        }
        if spans.is_empty() {
            return text.to_owned();
        }
        spans.sort_unstable();
        let mut out = String::with_capacity(text.len());
        let mut done = 0;
        let mut current: Option<(usize, usize)> = None;
        for (start, end) in spans {
            match current {
                Some((s, e)) if start <= e => current = Some((s, e.max(end))),
                _ => {
                    if let Some((s, e)) = current {
                        out.push_str(&text[done..s]);
                        out.push_str(REDACTED);
                        done = e;
                    }
                    current = Some((start, end));
                }
            }
        }
        if let Some((s, e)) = current {
            out.push_str(&text[done..s]);
            out.push_str(REDACTED);
            done = e;
        }
        out.push_str(&text[done..]);
        out
    }

    /// Redacts `text` in place; true when anything changed.
    pub fn redact_in_place(&self, text: &mut String) -> bool {
        if self.is_empty() {
            return false;
        }
        let redacted = self.redact(text);
        if redacted == *text {
            false
        } else {
            *text = redacted;
            true
        }
    }

    /// Redacts every string in a JSON value.
    pub fn redact_json(&self, value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(s) => {
                self.redact_in_place(s);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| self.redact_json(v)),
            serde_json::Value::Object(map) => {
                let keys: Vec<String> = map.keys().cloned().collect();
                for key in keys {
                    let clean = self.redact(&key);
                    if clean != key
                        && let Some(value) = map.remove(&key)
                    {
                        map.insert(clean, value);
                    }
                }
                map.values_mut().for_each(|v| self.redact_json(v));
            }
            _ => {}
        }
    }
}

/// The forms a secret may take in text: raw, percent-encoded (both the
/// URL-component and the form flavour), and base64 (standard and URL-safe) at
/// each alignment. Forms shorter than [`MIN_SECRET`] are left out: they would
/// match ordinary text.
pub fn encodings(secret: &str) -> Vec<String> {
    let mut out = vec![secret.to_owned()];
    // JSON strings (the CLI's stream-json lines), and the URL encodings in use:
    // RFC 3986, encodeURIComponent, and the form flavour, each in both cases.
    if let Ok(json) = serde_json::to_string(secret) {
        out.push(json[1..json.len() - 1].to_owned());
    }
    for keep in [RFC3986, URI_COMPONENT, FORM, FORM_TILDE, QUERY] {
        for lower_hex in [false, true] {
            out.push(percent(secret, keep, lower_hex));
        }
    }
    let bytes = secret.as_bytes();
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for lead in 0..3usize {
            let mut input = vec![0u8; lead];
            input.extend_from_slice(bytes);
            let encoded = engine.encode(&input);
            // Characters whose bits come from the filler, and the last one
            // whose bits depend on what follows the secret, are not part of it.
            let start = (lead * 4).div_ceil(3);
            let end = (input.len() * 8) / 6;
            if end > start
                && let Some(middle) = encoded.get(start..end)
            {
                out.push(middle.to_owned());
            }
        }
    }
    out.retain(|p| p.len() >= MIN_SECRET);
    out.sort();
    out.dedup();
    out
}

/// Characters left as they are, besides letters and digits, by RFC 3986,
/// by `encodeURIComponent`, and by `application/x-www-form-urlencoded`
/// (which writes a space as `+`).
const RFC3986: &[u8] = b"-_.~";
const URI_COMPONENT: &[u8] = b"-_.!~*'()";
const FORM: &[u8] = b"-_.* ";
/// Python's `quote_plus`.
const FORM_TILDE: &[u8] = b"-_.~ ";
/// What the URL standard leaves in a query (and so what a browser's address shows).
const QUERY: &[u8] = b"!$%&'()*+,-./:;=?@[\\]^_`{|}~";

/// `text` percent-encoded, leaving letters, digits and `keep` (a space in
/// `keep` means "write a space as `+`"), with upper- or lower-case hex digits.
fn percent(text: &str, keep: &[u8], lower_hex: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || (b != b' ' && keep.contains(&b)) {
            out.push(char::from(b));
        } else if b == b' ' && keep.contains(&b' ') {
            out.push('+');
        } else if lower_hex {
            out.push_str(&format!("%{b:02x}"));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The secrets the browser may type: credentials from the environment, and
/// values read from pages.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    values: Arc<RwLock<BTreeMap<String, String>>>,
    redactor: Redactor,
}

impl Secrets {
    /// Reads `BROWSER_CRED_*` from `vars`. Returns the secrets and a problem
    /// line for each variable refused (never with its value).
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
        redactor: Redactor,
    ) -> (Secrets, Vec<String>) {
        let secrets = Secrets {
            values: Arc::default(),
            redactor,
        };
        let mut problems = Vec::new();
        for (key, value) in vars {
            let Some(name) = key.strip_prefix(CRED_PREFIX) else {
                continue;
            };
            match secrets.insert(name, &value) {
                Ok(()) => {}
                Err(problem) => problems.push(format!("{key}: {problem}")),
            }
        }
        (secrets, problems)
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Adds or replaces a secret; the value is redacted from then on (an old
    /// value stays redacted too).
    pub fn insert(&self, name: &str, value: &str) -> Result<(), String> {
        if !valid_name(name) {
            return Err(format!(
                "the name {name:?} must be upper-case letters, digits and `_`, as SERVICE_FIELD"
            ));
        }
        let length = value.chars().count();
        if length < MIN_SECRET {
            return Err(format!(
                "the value is shorter than {MIN_SECRET} characters, too short to keep out of every log; use a longer one"
            ));
        }
        if value.len() > MAX_SECRET {
            return Err(format!("the value is longer than {MAX_SECRET} bytes"));
        }
        if value.chars().any(char::is_control) {
            return Err("the value holds a control character".to_owned());
        }
        self.redactor.add(value);
        if let Ok(mut values) = self.values.write() {
            values.insert(name.to_owned(), value.to_owned());
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<String> {
        self.values.read().ok()?.get(name).cloned()
    }

    /// The names held (never the values).
    pub fn names(&self) -> Vec<String> {
        self.values
            .read()
            .map(|v| v.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Every value held, for masking a page before a screenshot.
    pub fn values(&self) -> Vec<String> {
        self.values
            .read()
            .map(|v| v.values().cloned().collect())
            .unwrap_or_default()
    }
}

/// Whether `word` looks like a key or token: at least 20 characters of
/// `[A-Za-z0-9_-]` with a letter and a digit. Snapshots hide such words, so a
/// key a page shows is never read by the model; `browser_read_secret` takes it
/// by reference instead.
pub fn looks_like_token(word: &str) -> bool {
    word.len() >= 20
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && word.bytes().any(|b| b.is_ascii_digit())
        && word.bytes().any(|b| b.is_ascii_alphabetic())
}

/// What replaces a token-like word in a snapshot.
pub const TOKEN: &str = "[token hidden]";

/// `text` with every token-like word hidden.
pub fn hide_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if looks_like_token(word) {
            out.push_str(TOKEN);
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_encoding_of_a_secret_is_redacted() {
        let r = Redactor::new();
        let secret = "s3cr3t pass/word+";
        r.add(secret);
        let basic = STANDARD_NO_PAD.encode(format!("admin:{secret}"));
        let url_safe = URL_SAFE_NO_PAD.encode(format!("x{secret}yz"));
        let text = format!(
            "raw {secret} | query ?p=s3cr3t%20pass%2Fword%2B | form p=s3cr3t+pass%2Fword%2B | lower s3cr3t%20pass%2fword%2b | basic {basic} | url {url_safe}"
        );
        let capital = Redactor::new();
        capital.add("Pass/Word 1");
        for form in ["Pass%2fWord%201", "Pass%2FWord+1", "Pass/Word%201"] {
            assert_eq!(capital.redact(form), REDACTED, "{form}");
        }
        let out = r.redact(&text);
        assert!(!out.contains("s3cr3t"), "{out}");
        for pattern in encodings(secret) {
            assert!(!out.contains(&pattern), "{pattern} in {out}");
        }
        assert!(!out.contains(&basic) && !out.contains(&url_safe), "{out}");
        assert_eq!(r.redact("nothing here"), "nothing here");
        let json = serde_json::to_string(&json!({"v": "pa\"ss\\w0rd!"})).unwrap_or_default();
        r.add("pa\"ss\\w0rd!");
        assert!(!r.redact(&json).contains("ss"), "{}", r.redact(&json));
    }

    #[test]
    fn a_pattern_overlapping_a_secret_never_cuts_it() {
        let r = Redactor::new();
        r.add("TOPSECRET9");
        // Longer, and so tried first: it overlaps the secret's first letter.
        r.add("value=\"T");
        let out = r.redact("field value=\"TOPSECRET9\" end");
        assert_eq!(out, "field [redacted]\" end");
    }

    #[test]
    fn secrets_come_from_the_environment_only_by_their_prefix() {
        let r = Redactor::new();
        let (secrets, problems) = Secrets::from_vars(
            [
                (
                    "BROWSER_CRED_SONARR_PASS".to_owned(),
                    "hunter2-long".to_owned(),
                ),
                ("BROWSER_CRED_SONARR_USER".to_owned(), "adm".to_owned()),
                ("BROWSER_CRED_bad".to_owned(), "whatever-long".to_owned()),
                ("HOME".to_owned(), "/root".to_owned()),
            ],
            r.clone(),
        );
        assert_eq!(secrets.names(), vec!["SONARR_PASS".to_owned()]);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems
                .iter()
                .all(|p| !p.contains("adm\"") && !p.contains("whatever"))
        );
        assert_eq!(r.redact("pw=hunter2-long"), "pw=[redacted]");
        assert!(secrets.insert("NEW_KEY", "0123456789abcdef").is_ok());
        assert_eq!(r.redact("k 0123456789abcdef"), "k [redacted]");
    }

    #[test]
    fn tokens_are_hidden_and_words_are_not() {
        assert_eq!(
            hide_tokens("API key: 3f2a9c0b7d6e5f4a3b2c1d0e9f8a7b6c (new)"),
            format!("API key: {TOKEN} (new)")
        );
        let plain = "Regenerate the configuration-management-settings now, 2026-12-05";
        assert_eq!(hide_tokens(plain), plain);
        assert!(looks_like_token("550e8400-e29b-41d4-a716-446655440000"));
        assert!(!looks_like_token("abcdefghijklmnopqrstuvwxyz"));
    }
}
