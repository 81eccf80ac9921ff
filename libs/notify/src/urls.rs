//! The Apprise URLs and the redaction of anything that might echo them.
//!
//! Apprise URLs carry passwords and tokens (`tgram://BOT_TOKEN/CHAT`,
//! `ntfys://user:pass@host/topic`). They live only inside [`AppriseUrls`]: it
//! has no `Display`, no `Serialize`, and its `Debug` prints the count. Every
//! other part of the crate names a URL by its 1-based position (`url #2`).
//! This module must not log, and must not put a URL into an error message.

use std::fmt;

/// The environment variable the control plane reads the list from.
pub const URLS_ENV: &str = "CLAUDEOPS_APPRISE_URLS";

/// Tokens shorter than this are not redacted on their own (a one-letter path
/// segment would otherwise erase every occurrence of that letter); whole URLs
/// are always redacted.
const MIN_TOKEN_LEN: usize = 3;

/// The configured notification URLs. Cheap to share behind an `Arc`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AppriseUrls {
    urls: Vec<String>,
    /// (token, the 1-based indexes of the URLs holding it), longest first.
    tokens: Vec<(String, Vec<usize>)>,
}

/// Why the URL list was refused. Never contains a URL or part of one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error(
        "apprise url #{index} has no scheme: write each entry of CLAUDEOPS_APPRISE_URLS as scheme://..."
    )]
    NoScheme { index: usize },
    #[error(
        "apprise url #{index} contains whitespace: percent-encode it (%20) or remove it from CLAUDEOPS_APPRISE_URLS"
    )]
    Whitespace { index: usize },
}

impl AppriseUrls {
    /// Parses a comma-separated list (`CLAUDEOPS_APPRISE_URLS`). Empty entries
    /// are skipped; an empty string gives an empty list (notifications off).
    pub fn parse(list: &str) -> Result<AppriseUrls, UrlError> {
        let mut urls = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let index = urls.len() + 1;
            if entry.chars().any(char::is_whitespace) {
                return Err(UrlError::Whitespace { index });
            }
            let scheme_ok = entry.split_once("://").is_some_and(|(scheme, _)| {
                !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric())
            });
            if !scheme_ok {
                return Err(UrlError::NoScheme { index });
            }
            urls.push(entry.to_owned());
        }
        Ok(AppriseUrls::from_valid(urls))
    }

    /// Reads `CLAUDEOPS_APPRISE_URLS`; unset means no URLs.
    pub fn from_env() -> Result<AppriseUrls, UrlError> {
        AppriseUrls::parse(&std::env::var(URLS_ENV).unwrap_or_default())
    }

    fn from_valid(urls: Vec<String>) -> AppriseUrls {
        let mut tokens: Vec<(String, Vec<usize>)> = Vec::new();
        for (i, url) in urls.iter().enumerate() {
            for token in url_tokens(url) {
                match tokens.iter_mut().find(|t| t.0.eq_ignore_ascii_case(&token)) {
                    Some(t) => t.1.push(i + 1),
                    None => tokens.push((token, vec![i + 1])),
                }
            }
        }
        tokens.sort_by_key(|t| std::cmp::Reverse(t.0.len()));
        AppriseUrls { urls, tokens }
    }

    pub fn len(&self) -> usize {
        self.urls.len()
    }

    pub fn is_empty(&self) -> bool {
        self.urls.is_empty()
    }

    /// The 1-based indexes, for iterating deliveries.
    pub fn indexes(&self) -> impl Iterator<Item = usize> + use<> {
        1..=self.urls.len()
    }

    /// The URL at a 1-based index. Crate-private: only the Apprise runner may
    /// see it, to put it in the child's environment.
    pub(crate) fn get(&self, index: usize) -> Option<&str> {
        index
            .checked_sub(1)
            .and_then(|i| self.urls.get(i))
            .map(String::as_str)
    }

    /// Replaces every URL, and each of its host, user, password, path and query
    /// tokens, by `url #N` (ASCII case-insensitive, one left-to-right pass, so a
    /// replacement is never itself rewritten).
    pub fn redact(&self, text: &str) -> String {
        self.redact_for(None, text)
    }

    /// Like [`AppriseUrls::redact`], for the output of a delivery to URL
    /// `index`: a token several URLs share (a common host) is labelled with
    /// that URL rather than the first one holding it.
    pub fn redact_for(&self, index: Option<usize>, text: &str) -> String {
        if self.tokens.is_empty() {
            return text.to_owned();
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        'scan: while !rest.is_empty() {
            for (token, owners) in &self.tokens {
                let hit = rest
                    .get(..token.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(token));
                if hit {
                    let label = index
                        .filter(|i| owners.contains(i))
                        .or_else(|| owners.first().copied())
                        .unwrap_or(0);
                    out.push_str("url #");
                    out.push_str(&label.to_string());
                    rest = &rest[token.len()..];
                    continue 'scan;
                }
            }
            let mut chars = rest.chars();
            if let Some(c) = chars.next() {
                out.push(c);
            }
            rest = chars.as_str();
        }
        out
    }
}

impl fmt::Debug for AppriseUrls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppriseUrls")
            .field("count", &self.urls.len())
            .finish()
    }
}

/// The pieces of a URL that may be secret, each also percent-decoded: the whole
/// URL, the part after the scheme, user, password, host, path segments, query
/// values, and the fragment.
fn url_tokens(url: &str) -> Vec<String> {
    let mut raw: Vec<&str> = vec![url];
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    raw.push(rest);
    let (before_fragment, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    raw.push(fragment);
    let (before_query, query) = before_fragment
        .split_once('?')
        .unwrap_or((before_fragment, ""));
    for pair in query.split('&') {
        // A key alone (`token`) is a word, not a secret; a lone key may be one.
        match pair.split_once('=') {
            Some((_, value)) => raw.push(value),
            None => raw.push(pair),
        }
    }
    let (authority, path) = before_query.split_once('/').unwrap_or((before_query, ""));
    raw.push(path);
    raw.extend(path.split('/'));
    let (userinfo, hostport) = authority.rsplit_once('@').unwrap_or(("", authority));
    raw.push(userinfo);
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    raw.push(user);
    raw.push(password);
    raw.push(hostport);
    raw.push(strip_port(hostport));

    let mut tokens: Vec<String> = Vec::new();
    for (i, piece) in raw.into_iter().enumerate() {
        // The whole URL (i == 0) and its remainder are kept even when short.
        let min = if i < 2 { 1 } else { MIN_TOKEN_LEN };
        for candidate in [piece.to_owned(), percent_decode(piece)] {
            if candidate.chars().count() >= min && !tokens.contains(&candidate) {
                tokens.push(candidate);
            }
        }
    }
    tokens
}

fn strip_port(hostport: &str) -> &str {
    if hostport.starts_with('[') {
        return hostport.split_once(']').map_or(hostport, |(h, _)| h);
    }
    match hostport.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => hostport,
    }
}

/// Percent-decodes `%XX` (and `+` as a space, as query strings do). Invalid
/// escapes are kept as written.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b == b'+' { b' ' } else { b });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_splits_trims_and_skips_empty_entries() {
        let urls = AppriseUrls::parse(" json://a.example/x , ,ntfys://u:p@h/t,").unwrap();
        assert_eq!(urls.len(), 2);
        assert_eq!(urls.get(1), Some("json://a.example/x"));
        assert_eq!(urls.get(2), Some("ntfys://u:p@h/t"));
        assert_eq!(urls.get(0), None);
        assert_eq!(urls.get(3), None);
        assert!(AppriseUrls::parse("").unwrap().is_empty());
    }

    #[test]
    fn parse_errors_name_the_index_never_the_url() {
        let cases = [
            (
                "json://ok/x,secret-token-no-scheme",
                UrlError::NoScheme { index: 2 },
            ),
            ("://nothing", UrlError::NoScheme { index: 1 }),
            (
                "json://a/x,json://b/with s3cr3t",
                UrlError::Whitespace { index: 2 },
            ),
        ];
        for (input, want) in cases {
            let err = AppriseUrls::parse(input).unwrap_err();
            assert_eq!(err, want, "{input}");
            let text = err.to_string();
            assert!(!text.contains("secret"), "{text}");
            assert!(!text.contains("nothing"), "{text}");
            assert!(!text.contains("s3cr3t"), "{text}");
        }
    }

    #[test]
    fn debug_prints_only_the_count() {
        let urls = AppriseUrls::parse("tgram://123456:SECRETBOT/999,json://h/p").unwrap();
        let dbg = format!("{urls:?}");
        assert_eq!(dbg, "AppriseUrls { count: 2 }");
    }

    #[test]
    fn redaction_table() {
        let urls = AppriseUrls::parse(
            "ntfys://alice:p%40ssw0rd@push.example.org:8443/alerts-topic?token=tk_9f8e7d,\
             tgram://123456789:AAHbotTokenXyz/-1001234",
        )
        .unwrap();
        let cases = [
            (
                "Failed to send to ntfys://alice:p%40ssw0rd@push.example.org:8443/alerts-topic?token=tk_9f8e7d",
                "Failed to send to url #1",
            ),
            (
                "Connection error to push.example.org.",
                "Connection error to url #1.",
            ),
            ("auth failed for ALICE", "auth failed for url #1"),
            ("password p@ssw0rd rejected", "password url #1 rejected"),
            ("token tk_9f8e7d expired", "token url #1 expired"),
            ("topic alerts-topic unknown", "topic url #1 unknown"),
            ("bot 123456789:AAHbotTokenXyz denied", "bot url #2 denied"),
            ("chat -1001234 missing", "chat url #2 missing"),
            ("nothing secret here", "nothing secret here"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(urls.redact(input), want, "{input}");
        }
    }

    #[test]
    fn a_shared_host_is_labelled_with_the_url_delivered_to() {
        let urls =
            AppriseUrls::parse("json://127.0.0.1:8080/a1b2,json://127.0.0.1:9/c3d4").unwrap();
        let text = "connection error sending to 127.0.0.1.";
        assert_eq!(urls.redact(text), "connection error sending to url #1.");
        assert_eq!(
            urls.redact_for(Some(2), text),
            "connection error sending to url #2."
        );
        assert_eq!(
            urls.redact_for(Some(2), "c3d4 and a1b2"),
            "url #2 and url #1"
        );
    }

    #[test]
    fn redaction_keeps_non_ascii_text_and_short_tokens() {
        let urls = AppriseUrls::parse("json://h.example/a/secretpath").unwrap();
        // "a" is too short to redact on its own; the host and long segment are not.
        assert_eq!(
            urls.redact("é a h.example secretpath ü"),
            "é a url #1 url #1 ü"
        );
    }

    #[test]
    fn percent_decode_table() {
        let cases = [
            ("p%40ss", "p@ss"),
            ("a+b", "a b"),
            ("bad%zz", "bad%zz"),
            ("trail%4", "trail%4"),
            ("%", "%"),
        ];
        for (input, want) in cases {
            assert_eq!(percent_decode(input), want, "{input}");
        }
    }
}
