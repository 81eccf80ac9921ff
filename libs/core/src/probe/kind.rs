//! The closed set of probe kinds and the URL schemes that pick them. What each
//! kind does on the wire lives in `claudeops-probe` (one file per kind); this is
//! the part discovery and the control plane need: which schemes exist, a kind's
//! name, the placeholders it fills and its default conditions.

use serde::{Deserialize, Serialize};

use super::placeholder::Placeholder;

/// The kind of a probe, from its url's scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeKind {
    Http,
    Tcp,
    Tls,
    Dns,
    Docker,
    Postgres,
    Mysql,
    Redis,
}

/// The URL schemes a probe may use, and the kind each picks.
pub const SCHEMES: &[(&str, ProbeKind)] = &[
    ("http", ProbeKind::Http),
    ("https", ProbeKind::Http),
    ("tcp", ProbeKind::Tcp),
    ("tls", ProbeKind::Tls),
    ("dns", ProbeKind::Dns),
    ("docker", ProbeKind::Docker),
    ("postgres", ProbeKind::Postgres),
    ("postgresql", ProbeKind::Postgres),
    ("mysql", ProbeKind::Mysql),
    ("mariadb", ProbeKind::Mysql),
    ("redis", ProbeKind::Redis),
];

impl ProbeKind {
    /// The kind a scheme picks (case-insensitive), `None` for any other.
    pub fn from_scheme(scheme: &str) -> Option<ProbeKind> {
        SCHEMES
            .iter()
            .find(|(s, _)| s.eq_ignore_ascii_case(scheme))
            .map(|(_, k)| *k)
    }

    /// The kind of `SCHEME://...`, `None` without a known scheme.
    pub fn from_url(url: &str) -> Option<ProbeKind> {
        url.trim()
            .split_once("://")
            .and_then(|(scheme, _)| ProbeKind::from_scheme(scheme))
    }

    pub fn name(self) -> &'static str {
        match self {
            ProbeKind::Http => "http",
            ProbeKind::Tcp => "tcp",
            ProbeKind::Tls => "tls",
            ProbeKind::Dns => "dns",
            ProbeKind::Docker => "docker",
            ProbeKind::Postgres => "postgres",
            ProbeKind::Mysql => "mysql",
            ProbeKind::Redis => "redis",
        }
    }

    /// The placeholders an attempt of this kind fills.
    pub fn placeholders(self) -> &'static [Placeholder] {
        use Placeholder::*;
        match self {
            ProbeKind::Http => &[
                Status,
                ResponseTime,
                Body,
                Connected,
                CertificateExpiration,
                Ip,
            ],
            ProbeKind::Tcp => &[Connected, ResponseTime, Ip],
            ProbeKind::Tls => &[Connected, ResponseTime, Ip, CertificateExpiration],
            ProbeKind::Dns => &[DnsRcode, Body, Ip, Connected, ResponseTime],
            ProbeKind::Docker => &[
                Running,
                State,
                Health,
                RestartCount,
                OomKilled,
                ExitCode,
                CrashLoop,
                Connected,
                ResponseTime,
            ],
            ProbeKind::Postgres | ProbeKind::Mysql | ProbeKind::Redis => {
                &[Connected, ResponseTime, Body]
            }
        }
    }

    /// The conditions used when a spec names none.
    pub fn default_conditions(self) -> &'static [&'static str] {
        match self {
            ProbeKind::Http => &["[STATUS] < 400"],
            ProbeKind::Dns => &["[DNS_RCODE] == NOERROR"],
            ProbeKind::Docker => &[
                "[RUNNING] == true",
                "[HEALTH] != unhealthy",
                "[OOM_KILLED] == false",
                "[CRASH_LOOP] == false",
            ],
            _ => &["[CONNECTED] == true"],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_pick_kinds() {
        for (url, kind) in [
            ("https://a/b", Some(ProbeKind::Http)),
            ("HTTP://a", Some(ProbeKind::Http)),
            (" tcp://a:1", Some(ProbeKind::Tcp)),
            ("postgresql://u@h/db", Some(ProbeKind::Postgres)),
            ("mariadb://h/db", Some(ProbeKind::Mysql)),
            ("ftp://h", None),
            ("h:80", None),
        ] {
            assert_eq!(ProbeKind::from_url(url), kind, "{url}");
        }
        for (scheme, kind) in SCHEMES {
            assert_eq!(ProbeKind::from_scheme(scheme), Some(*kind), "{scheme}");
        }
    }

    #[test]
    fn default_conditions_read_only_filled_placeholders() {
        for (_, kind) in SCHEMES {
            for condition in kind.default_conditions() {
                let named = kind
                    .placeholders()
                    .iter()
                    .any(|p| condition.starts_with(&p.to_string()));
                assert!(named, "{} default `{condition}`", kind.name());
            }
        }
    }
}
