//! Homelab applications' own health endpoints, on top of an HTTP probe:
//! `service-api: { app: sonarr, api-key-env: SONARR_API_KEY }` with `url` the
//! app's base url. The key comes from the environment and is sent as the app
//! expects (header or query); the reply is judged the app's way.

use reqwest::Url;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};

use crate::observation::Observation;
use crate::probe::{Ctx, SpecError};
use crate::spec::ServiceApi;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Sonarr, Radarr (`/api/v3/health`), Prowlarr, Lidarr, Readarr (`/api/v1/health`).
    Arr,
    /// Bazarr `/api/system/health`: `{"data": [issues]}`.
    Bazarr,
    /// Jellyfin `/health`: `Healthy`.
    Jellyfin,
    /// Overseerr, Jellyseerr `/api/v1/status`: JSON with `version`.
    Seerr,
    /// Home Assistant `/api/`: `{"message": "API running."}` with a bearer token.
    HomeAssistant,
    /// SABnzbd `/api?mode=queue&output=json&apikey=KEY`.
    Sabnzbd,
    /// Plex `/identity`: a `MediaContainer`.
    Plex,
}

/// (app, kind, path, key required, key header)
const APPS: &[(&str, Kind, &str, bool, Option<&str>)] = &[
    (
        "sonarr",
        Kind::Arr,
        "/api/v3/health",
        true,
        Some("x-api-key"),
    ),
    (
        "radarr",
        Kind::Arr,
        "/api/v3/health",
        true,
        Some("x-api-key"),
    ),
    (
        "prowlarr",
        Kind::Arr,
        "/api/v1/health",
        true,
        Some("x-api-key"),
    ),
    (
        "lidarr",
        Kind::Arr,
        "/api/v1/health",
        true,
        Some("x-api-key"),
    ),
    (
        "readarr",
        Kind::Arr,
        "/api/v1/health",
        true,
        Some("x-api-key"),
    ),
    (
        "bazarr",
        Kind::Bazarr,
        "/api/system/health",
        true,
        Some("x-api-key"),
    ),
    ("jellyfin", Kind::Jellyfin, "/health", false, None),
    (
        "overseerr",
        Kind::Seerr,
        "/api/v1/status",
        false,
        Some("x-api-key"),
    ),
    (
        "jellyseerr",
        Kind::Seerr,
        "/api/v1/status",
        false,
        Some("x-api-key"),
    ),
    ("home-assistant", Kind::HomeAssistant, "/api/", true, None),
    ("homeassistant", Kind::HomeAssistant, "/api/", true, None),
    ("sabnzbd", Kind::Sabnzbd, "/api", true, None),
    ("plex", Kind::Plex, "/identity", false, Some("x-plex-token")),
];

/// The app names a spec may use.
pub fn app_names() -> Vec<&'static str> {
    APPS.iter().map(|a| a.0).collect()
}

#[derive(Debug, Clone)]
pub(crate) struct App {
    pub name: &'static str,
    pub kind: Kind,
    path: &'static str,
    header: Option<&'static str>,
    key: Option<String>,
    key_env: Option<String>,
}

pub(crate) fn compile(ctx: &mut Ctx<'_>, api: &ServiceApi) -> Result<App, SpecError> {
    let wanted = api.app.trim().to_ascii_lowercase();
    let Some(&(name, kind, path, needs_key, header)) = APPS.iter().find(|a| a.0 == wanted) else {
        return Err(ctx.error(
            "service-api.app",
            format!(
                "`{}` is not a known app; use one of {} (or a plain HTTP probe)",
                api.app,
                app_names().join(", ")
            ),
        ));
    };
    let key = match api.api_key_env.as_deref().map(str::trim) {
        Some(var) if !var.is_empty() => Some(ctx.env("service-api.api-key-env", var)?),
        _ if needs_key => {
            return Err(ctx.error(
                "service-api.api-key-env",
                format!(
                    "{name} needs an API key: name the environment variable that holds it, e.g. `{}_API_KEY`",
                    name.to_ascii_uppercase().replace('-', "_")
                ),
            ));
        }
        _ => None,
    };
    Ok(App {
        name,
        kind,
        path,
        header,
        key,
        key_env: api.api_key_env.clone(),
    })
}

impl App {
    /// Points `url` (the app's base url) at the health endpoint and adds the key.
    pub fn apply(&self, url: &mut Url, headers: &mut HeaderMap) {
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base}{}", self.path));
        if self.kind == Kind::Sabnzbd {
            let mut q = url.query_pairs_mut();
            q.append_pair("mode", "queue").append_pair("output", "json");
            if let Some(key) = &self.key {
                q.append_pair("apikey", key);
            }
        }
        let Some(key) = &self.key else {
            return;
        };
        let value = match self.kind {
            Kind::HomeAssistant => HeaderValue::from_str(&format!("Bearer {key}")),
            _ => HeaderValue::from_str(key),
        };
        let Ok(mut value) = value else {
            return;
        };
        value.set_sensitive(true);
        match (self.kind, self.header) {
            (Kind::HomeAssistant, _) => {
                headers.insert(AUTHORIZATION, value);
            }
            (_, Some(h)) => {
                headers.insert(HeaderName::from_static(h), value);
            }
            _ => {}
        }
    }

    /// Reads the app's verdict from the reply.
    pub fn judge(&self, obs: &mut Observation) {
        let Some(status) = obs.status else {
            return;
        };
        if status == 401 || status == 403 {
            let var = self.key_env.as_deref().unwrap_or("the api key variable");
            obs.fault = Some(format!(
                "{}: API key rejected (HTTP {status}); check {var}",
                self.name
            ));
            return;
        }
        if status >= 400 {
            return;
        }
        let verdict = match self.kind {
            Kind::Arr => arr_health(obs.json()),
            Kind::Bazarr => bazarr_health(obs.json()),
            Kind::Jellyfin => match obs.body.as_deref().map(str::trim) {
                Some("Healthy") => Ok("Healthy".to_owned()),
                Some(other) => Err(format!("reports `{}`", crate::attempt::one_line(other, 60))),
                None => Err("sent no body".to_owned()),
            },
            Kind::Seerr => match obs.json().and_then(|j| j.get("version")) {
                Some(v) => Ok(format!("version {}", v.as_str().unwrap_or(&v.to_string()))),
                None => Err("status has no `version`".to_owned()),
            },
            Kind::HomeAssistant => match obs.json().and_then(|j| j.get("message")) {
                Some(m) => Ok(m.as_str().unwrap_or_default().to_owned()),
                None => Err("/api/ did not answer `API running.`".to_owned()),
            },
            Kind::Sabnzbd => sabnzbd_queue(obs.json()),
            Kind::Plex => match obs.body.as_deref() {
                Some(b) if b.contains("MediaContainer") => Ok("MediaContainer".to_owned()),
                _ => Err("/identity has no MediaContainer".to_owned()),
            },
        };
        match verdict {
            Ok(note) => obs.summary = format!("{}; {}: {note}", obs.summary, self.name),
            Err(why) => obs.fault = Some(format!("{}: {why}", self.name)),
        }
    }
}

/// `[{source, type, message}]`: `error` entries fail, `warning`s pass with a note.
fn arr_health(json: Option<&serde_json::Value>) -> Result<String, String> {
    let Some(items) = json.and_then(|j| j.as_array()) else {
        return Err("health is not a JSON list".to_owned());
    };
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for item in items {
        let field = |k: &str| item.get(k).and_then(|v| v.as_str()).unwrap_or("");
        let line = format!("{}: {}", field("source"), field("message"));
        match field("type").to_ascii_lowercase().as_str() {
            "error" => errors.push(line),
            "warning" => warnings.push(line),
            _ => {}
        }
    }
    if !errors.is_empty() {
        return Err(format!("health: {}", errors.join("; ")));
    }
    if warnings.is_empty() {
        Ok("healthy".to_owned())
    } else {
        Ok(format!("warnings: {}", warnings.join("; ")))
    }
}

fn bazarr_health(json: Option<&serde_json::Value>) -> Result<String, String> {
    let Some(items) = json.and_then(|j| j.get("data")).and_then(|d| d.as_array()) else {
        return Err("health has no `data` list".to_owned());
    };
    if items.is_empty() {
        return Ok("healthy".to_owned());
    }
    let lines: Vec<String> = items
        .iter()
        .map(|i| {
            let f = |k: &str| i.get(k).and_then(|v| v.as_str()).unwrap_or("");
            format!("{}: {}", f("object"), f("issue"))
        })
        .collect();
    Err(format!("health: {}", lines.join("; ")))
}

fn sabnzbd_queue(json: Option<&serde_json::Value>) -> Result<String, String> {
    let Some(json) = json else {
        return Err("queue reply is not JSON".to_owned());
    };
    if let Some(e) = json.get("error").and_then(|e| e.as_str()) {
        return Err(e.to_owned());
    }
    let Some(queue) = json.get("queue") else {
        return Err("reply has no `queue`".to_owned());
    };
    let text = |k: &str| {
        queue
            .get(k)
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .unwrap_or_default()
    };
    Ok(format!(
        "queue {}, paused {}, {} GB free",
        text("status"),
        text("paused"),
        text("diskspace1")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judges_arr_health_lists() {
        let json: serde_json::Value = serde_json::json!([
            {"source": "IndexerStatusCheck", "type": "warning", "message": "one indexer down"},
            {"source": "DownloadClientCheck", "type": "error", "message": "cannot reach client"},
            {"source": "UpdateCheck", "type": "notice", "message": "update"}
        ]);
        assert_eq!(
            arr_health(Some(&json)),
            Err("health: DownloadClientCheck: cannot reach client".to_owned())
        );
        let json = serde_json::json!([{"source": "S", "type": "warning", "message": "m"}]);
        assert_eq!(arr_health(Some(&json)), Ok("warnings: S: m".to_owned()));
        assert_eq!(
            arr_health(Some(&serde_json::json!([]))),
            Ok("healthy".to_owned())
        );
        assert!(arr_health(Some(&serde_json::json!({}))).is_err());
    }

    #[test]
    fn judges_bazarr_and_sabnzbd() {
        assert_eq!(
            bazarr_health(Some(&serde_json::json!({"data": []}))),
            Ok("healthy".to_owned())
        );
        let bad = serde_json::json!({"data": [{"object": "Sonarr", "issue": "unreachable"}]});
        assert_eq!(
            bazarr_health(Some(&bad)),
            Err("health: Sonarr: unreachable".to_owned())
        );
        let q = serde_json::json!({"queue": {"status": "Idle", "paused": false, "diskspace1": "120.5"}});
        assert_eq!(
            sabnzbd_queue(Some(&q)),
            Ok("queue Idle, paused false, 120.5 GB free".to_owned())
        );
        let e = serde_json::json!({"status": false, "error": "API Key Incorrect"});
        assert_eq!(sabnzbd_queue(Some(&e)), Err("API Key Incorrect".to_owned()));
    }
}
