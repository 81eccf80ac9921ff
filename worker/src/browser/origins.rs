//! Origins: which pages the browser may load (`CLAUDEOPS_BROWSER_ALLOWED_ORIGINS`)
//! and which of them a service's credentials may be typed into
//! (`CLAUDEOPS_BROWSER_CRED_ORIGINS`). Pure: parsing and matching only.
//!
//! An origin is a scheme, a host and a port, compared exactly (after the
//! URL standard's normalisation: lower-case host, default port dropped).
//! `https://app.example` does not allow `https://evil.app.example` or
//! `http://app.example`.

use std::collections::BTreeMap;
use std::fmt;

use url::Url;

/// One web origin: `scheme://host[:port]`, http or https only.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    /// The origin of an `http` or `https` URL; `None` for any other scheme
    /// (`about:`, `data:`, `file:`, `chrome:`...) or a URL that does not parse.
    pub fn of(url: &str) -> Option<Origin> {
        let url = Url::parse(url).ok()?;
        Origin::of_url(&url)
    }

    fn of_url(url: &Url) -> Option<Origin> {
        let scheme = url.scheme();
        if scheme != "http" && scheme != "https" {
            return None;
        }
        let host = url.host_str()?.to_ascii_lowercase();
        let port = url.port_or_known_default()?;
        Some(Origin {
            scheme: scheme.to_owned(),
            host,
            port,
        })
    }

    /// Parses one configured origin. A path, query, fragment or user name is
    /// refused: an origin names a site, not a page.
    pub fn parse(text: &str) -> Result<Origin, String> {
        let text = text.trim();
        let url = Url::parse(text).map_err(|e| format!("{text:?} is not an origin: {e}"))?;
        let origin = Origin::of_url(&url)
            .ok_or_else(|| format!("{text:?} is not an http or https origin"))?;
        if !url.username().is_empty()
            || url.password().is_some()
            || url.path() != "/"
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(format!(
                "{text:?} is not an origin: write only scheme://host[:port], with no path, query or user"
            ));
        }
        Ok(origin)
    }

    /// A rule for Chromium's proxy bypass list: this scheme, host and port.
    pub fn bypass_rule(&self) -> String {
        format!("{}://{}:{}", self.scheme, self.host, self.port)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let default = match self.scheme.as_str() {
            "http" => 80,
            _ => 443,
        };
        if self.port == default {
            write!(f, "{}://{}", self.scheme, self.host)
        } else {
            write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
        }
    }
}

/// The origins the browser may load anything from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    origins: Vec<Origin>,
}

/// What the allow-list says of one request URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Loads nothing from the network (`about:blank`, `data:`, `blob:`).
    Local,
    Blocked(String),
}

impl AllowList {
    /// Parses `CLAUDEOPS_BROWSER_ALLOWED_ORIGINS` entries.
    pub fn parse(entries: &[String]) -> Result<AllowList, Vec<String>> {
        let mut origins = Vec::new();
        let mut errors = Vec::new();
        for entry in entries.iter().filter(|e| !e.trim().is_empty()) {
            match Origin::parse(entry) {
                Ok(origin) if !origins.contains(&origin) => origins.push(origin),
                Ok(_) => {}
                Err(error) => errors.push(error),
            }
        }
        if errors.is_empty() {
            Ok(AllowList { origins })
        } else {
            Err(errors)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.origins.is_empty()
    }

    pub fn origins(&self) -> &[Origin] {
        &self.origins
    }

    /// The allowed hosts, each once.
    pub fn hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = self.origins.iter().map(|o| o.host.clone()).collect();
        hosts.sort();
        hosts.dedup();
        hosts
    }

    pub fn contains(&self, origin: &Origin) -> bool {
        self.origins.contains(origin)
    }

    /// Whether a request to `url` may go out.
    pub fn check(&self, url: &str) -> Verdict {
        let scheme = url
            .split_once(':')
            .map_or("", |(s, _)| s)
            .to_ascii_lowercase();
        match scheme.as_str() {
            "about" | "data" | "blob" => return Verdict::Local,
            "http" | "https" => {}
            other => {
                return Verdict::Blocked(format!(
                    "the scheme `{other}:` is never loaded; only http and https pages of the allowed origins"
                ));
            }
        }
        match Origin::of(url) {
            Some(origin) if self.contains(&origin) => Verdict::Allowed,
            Some(origin) => Verdict::Blocked(format!(
                "{origin} is not an allowed origin (CLAUDEOPS_BROWSER_ALLOWED_ORIGINS)"
            )),
            None => Verdict::Blocked("the URL does not parse".to_owned()),
        }
    }

    /// Chromium's proxy bypass list: the allowed origins go direct, and
    /// everything else, loopback included, goes to the refusing proxy.
    /// `<-loopback>` (which drops Chromium's implicit loopback bypass) must come
    /// first: rules before it are dropped with it.
    pub fn bypass_list(&self) -> String {
        let mut rules = vec!["<-loopback>".to_owned()];
        rules.extend(self.origins.iter().map(Origin::bypass_rule));
        rules.join(";")
    }
}

/// Which origins each service's credentials may be typed into.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredOrigins {
    services: BTreeMap<String, Vec<Origin>>,
}

impl CredOrigins {
    /// Parses `CLAUDEOPS_BROWSER_CRED_ORIGINS` entries, `SERVICE=ORIGIN` each
    /// (a service may be named more than once). Every origin must also be an
    /// allowed one, or the browser could never load the page.
    pub fn parse(entries: &[String], allowed: &AllowList) -> Result<CredOrigins, Vec<String>> {
        let mut services: BTreeMap<String, Vec<Origin>> = BTreeMap::new();
        let mut errors = Vec::new();
        for entry in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            let Some((service, origin)) = entry.split_once('=') else {
                errors.push(format!(
                    "{entry:?}: expected SERVICE=ORIGIN, e.g. SONARR=https://sonarr.example"
                ));
                continue;
            };
            let service = service.trim();
            if !valid_service(service) {
                errors.push(format!(
                    "{entry:?}: the service {service:?} must be upper-case letters, digits and `_`, starting with a letter (as in BROWSER_CRED_{{SERVICE}}_{{FIELD}})"
                ));
                continue;
            }
            match Origin::parse(origin) {
                Ok(origin) if !allowed.contains(&origin) => errors.push(format!(
                    "{entry:?}: {origin} is not in CLAUDEOPS_BROWSER_ALLOWED_ORIGINS, so its pages could never load"
                )),
                Ok(origin) => {
                    let list = services.entry(service.to_owned()).or_default();
                    if !list.contains(&origin) {
                        list.push(origin);
                    }
                }
                Err(error) => errors.push(format!("{entry:?}: {error}")),
            }
        }
        for a in services.keys() {
            for b in services.keys() {
                if b.len() > a.len() + 1
                    && b.starts_with(a.as_str())
                    && b.as_bytes()[a.len()] == b'_'
                {
                    errors.push(format!(
                        "the services {a} and {b} overlap: a credential named {b}_FIELD could belong to either; rename one"
                    ));
                }
            }
        }
        if errors.is_empty() {
            Ok(CredOrigins { services })
        } else {
            Err(errors)
        }
    }

    /// The service a secret's name (`SERVICE_FIELD`) belongs to: the longest
    /// configured service that prefixes it with a `_` after.
    pub fn service_of<'a>(&'a self, name: &str) -> Option<&'a str> {
        self.services
            .keys()
            .filter(|s| {
                name.len() > s.len() + 1
                    && name.starts_with(s.as_str())
                    && name.as_bytes()[s.len()] == b'_'
            })
            .max_by_key(|s| s.len())
            .map(String::as_str)
    }

    pub fn origins_of(&self, service: &str) -> &[Origin] {
        self.services.get(service).map_or(&[], Vec::as_slice)
    }

    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.services.keys().map(String::as_str)
    }
}

/// `[A-Z][A-Z0-9_]*`, at most 64 characters.
pub fn valid_service(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_uppercase()
        && b.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> AllowList {
        AllowList::parse(&entries.iter().map(|e| (*e).to_owned()).collect::<Vec<_>>())
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn origins_compare_exactly() {
        let allowed = list(&["https://App.Example", "http://127.0.0.1:8123"]);
        for (url, ok) in [
            ("https://app.example/settings?x=1", true),
            ("https://app.example:443/", true),
            ("http://app.example/", false),
            ("https://evil.app.example/", false),
            ("https://app.example.evil.invalid/", false),
            ("https://app.example:8443/", false),
            ("http://127.0.0.1:8123/login", true),
            ("http://127.0.0.1:8124/", false),
            ("http://localhost:8123/", false),
            ("https://user:pw@app.example/", true),
        ] {
            assert_eq!(allowed.check(url) == Verdict::Allowed, ok, "{url}");
        }
        assert_eq!(allowed.check("about:blank"), Verdict::Local);
        assert_eq!(allowed.check("data:text/html,hi"), Verdict::Local);
        for url in [
            "file:///etc/passwd",
            "chrome://settings",
            "ftp://app.example/",
            "ws://app.example/",
            "javascript:alert(1)",
        ] {
            assert!(matches!(allowed.check(url), Verdict::Blocked(_)), "{url}");
        }
        assert_eq!(
            allowed.bypass_list(),
            "<-loopback>;https://app.example:443;http://127.0.0.1:8123"
        );
    }

    #[test]
    fn configured_origins_are_origins_only() {
        for bad in [
            "app.example",
            "https://app.example/path",
            "https://app.example/?q",
            "https://u@app.example",
            "ftp://app.example",
            "",
        ] {
            assert!(Origin::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Origin::parse("https://app.example:443/").map(|o| o.to_string()),
            Ok("https://app.example".to_owned())
        );
        assert!(AllowList::parse(&["nope".to_owned(), "https://ok.example".to_owned()]).is_err());
    }

    #[test]
    fn credentials_belong_to_services_and_their_origins() {
        let allowed = list(&["https://sonarr.example", "https://prowlarr.example"]);
        let entries: Vec<String> = [
            "SONARR=https://sonarr.example",
            "SONARR4K=https://prowlarr.example",
        ]
        .iter()
        .map(|e| (*e).to_owned())
        .collect();
        let creds = CredOrigins::parse(&entries, &allowed).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(creds.service_of("SONARR_PASS"), Some("SONARR"));
        assert_eq!(creds.service_of("SONARR4K_API_KEY"), Some("SONARR4K"));
        assert_eq!(creds.service_of("SONARR"), None);
        assert_eq!(creds.service_of("SONARRX_PASS"), None);
        assert_eq!(creds.service_of("RADARR_PASS"), None);
        assert_eq!(creds.origins_of("SONARR").len(), 1);
        let overlap = [
            "SONARR=https://sonarr.example".to_owned(),
            "SONARR_4K=https://prowlarr.example".to_owned(),
        ];
        assert!(CredOrigins::parse(&overlap, &allowed).is_err_and(|e| e[0].contains("overlap")));
        for bad in [
            "SONARR",
            "sonarr=https://sonarr.example",
            "SONARR=https://elsewhere.example",
            "SONARR=not a url",
        ] {
            assert!(
                CredOrigins::parse(&[bad.to_owned()], &allowed).is_err(),
                "{bad}"
            );
        }
    }
}
