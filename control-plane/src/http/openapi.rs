//! The OpenAPI 3.1 document of the whole HTTP surface, generated from the
//! code (ADR 0007): every route is registered in `http::api_router` through
//! `utoipa_axum`'s `routes!`, from a handler annotated with
//! `#[utoipa::path]`, so what is served and what is documented are one list.
//! Served at `/api/openapi.json` and `/api/openapi.yaml`; `/api/docs` is a
//! reference page that renders the JSON (the web UI's embedded
//! `api-docs.html` and `api-docs.js`: nothing comes from the internet).
//!
//! What it must not do: describe a route the router does not serve, or carry
//! a secret (the document is open, like every read).

pub mod answers;
pub mod chat;
pub mod schemas;
pub mod streams;

use std::sync::OnceLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::auth::SESSION_COOKIE;

/// The security schemes' names, as operations name them.
pub const API_TOKEN: &str = "api_token";
pub const DASHBOARD_LOGIN: &str = "dashboard_login";
pub const CSRF_HEADER: &str = "csrf_header";
pub const CHAT_KEY: &str = "chat_key";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Claude Ops control plane",
        description = "The control plane's HTTP surface: the REST API under `/api/v1` (the original's paths and field names), the OpenAI- and Ollama-compatible chat endpoints, the alert webhook, the Prometheus scrape, each session's live output as server-sent events, and the dashboard's pages and forms. Private by default: every operation needs a bearer token or a dashboard login, except health, stats, the public status pages and badges (and the webhook and chat endpoints, which check their own credentials). Generated from the code.",
    ),
    modifiers(&Security),
    tags(
        (name = "sessions", description = "Sessions: the list, one session with its escalation chain, a manual trigger and a stop."),
        (name = "stream", description = "A session's output as server-sent events."),
        (name = "events", description = "What happened, newest first."),
        (name = "stats", description = "The overview figures (the Homepage widget's endpoint)."),
        (name = "config", description = "Runtime settings of the fleet and of each site, and their audit trail."),
        (name = "memories", description = "What the agent remembers about each site's services."),
        (name = "ledger", description = "The cooldown ledger, the audit trail of remediation actions, and the approval gates."),
        (name = "health", description = "Liveness and readiness, native probes, incidents and discovered inventories."),
        (name = "notifications", description = "Delivery attempts of notifications, and a test send."),
        (name = "models", description = "The models the configured upstream serves."),
        (name = "workers", description = "Enrolled workers, and revocation."),
        (name = "webhook", description = "Alerts from Alertmanager, Grafana, Uptime Kuma, Healthchecks.io, Gatus or any tool that POSTs JSON."),
        (name = "chat-openai", description = "The OpenAI-compatible chat endpoints (a question starts a session)."),
        (name = "chat-ollama", description = "The Ollama-compatible chat endpoints (a question starts a session)."),
        (name = "metrics", description = "The fleet's Prometheus scrape target."),
        (name = "dashboard", description = "The dashboard's HTML pages."),
        (name = "public", description = "Opt-in public status pages and their services' badges (`CLAUDEOPS_STATUS_PAGES`); no login."),
        (name = "forms", description = "The dashboard's forms: URL-encoded posts checked against the login's CSRF token; a post without a login is sent to `/login`."),
        (name = "assets", description = "Static files, icons and the service worker, all embedded in the binary."),
        (name = "reference", description = "This document and its reference page."),
    )
)]
struct ApiDoc;

/// The four ways in: the API token, a dashboard login (cookie, plus the CSRF
/// token for API changes), and the chat key.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(description))
                    .build(),
            )
        };
        components.add_security_scheme(
            API_TOKEN,
            bearer(
                "The API token (`CLAUDEOPS_API_TOKEN`, or the one generated into the state dir) as `Authorization: Bearer TOKEN`. Every change needs it (or a dashboard login with its CSRF token); reads are open.",
            ),
        );
        components.add_security_scheme(
            DASHBOARD_LOGIN,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                SESSION_COOKIE,
                "A dashboard login, from `POST /login` (HttpOnly, SameSite=Strict).",
            ))),
        );
        components.add_security_scheme(
            CSRF_HEADER,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-CSRF-Token",
                "The login's CSRF token, with the login's cookie, for a change through the REST API.",
            ))),
        );
        components.add_security_scheme(
            CHAT_KEY,
            bearer(
                "`CLAUDEOPS_CHAT_API_KEY` as `Authorization: Bearer KEY`: the chat endpoints and the webhook. Unset, they answer 503.",
            ),
        );
    }
}

/// The document's frame (info, tags, security schemes) the routes are added to.
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The whole document: the frame and every route of `http::api_router`.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut document = crate::http::api_router().into_openapi();
    // axum's catch-all segment (`{*path}`) is a plain `{path}` in OpenAPI.
    let paths = std::mem::take(&mut document.paths.paths);
    document.paths.paths = paths
        .into_iter()
        .map(|(path, item)| (path.replace("{*", "{"), item))
        .collect();
    document_the_gate(&mut document);
    document
}

/// Adds to each operation the refusals of the gate in front of it
/// (`http::guard`): no login, and (for writes) a role that may not.
fn document_the_gate(document: &mut utoipa::openapi::OpenApi) {
    use axum::http::Method;
    use utoipa::openapi::RefOr;
    use utoipa::openapi::response::ResponseBuilder;

    use crate::http::guard::{Access, access};

    let refusal =
        |description: &str| RefOr::T(ResponseBuilder::new().description(description).build());
    for (path, item) in &mut document.paths.paths {
        let api_path = path.starts_with("/api/") || path == "/metrics";
        for (method, operation) in [
            (Method::GET, &mut item.get),
            (Method::POST, &mut item.post),
            (Method::PUT, &mut item.put),
            (Method::DELETE, &mut item.delete),
            (Method::PATCH, &mut item.patch),
        ] {
            let Some(operation) = operation.as_mut() else {
                continue;
            };
            let Access::Role(role) = access(&method, path) else {
                continue;
            };
            // A page: not an API path, or one that answers with HTML.
            let page = !api_path
                || operation.responses.responses.get("200").is_some_and(
                    |r| matches!(r, RefOr::T(r) if r.content.contains_key("text/html")),
                );
            let responses = &mut operation.responses.responses;
            responses.entry("401".to_owned()).or_insert_with(|| {
                refusal(if page {
                    "No login, asked for JSON or an event stream: refused (the dashboard is private; `CLAUDEOPS_PUBLIC_READS`)."
                } else {
                    "No bearer token or login: refused (the dashboard is private; `CLAUDEOPS_PUBLIC_READS`)."
                })
            });
            if page {
                responses.entry("303".to_owned()).or_insert_with(|| {
                    refusal("No login: to `/login?next=…`, which returns here after.")
                });
            }
            if role > crate::auth::Role::Viewer {
                responses.entry("403".to_owned()).or_insert_with(|| {
                    refusal(if role == crate::auth::Role::Admin {
                        "The login's role may not do this: it needs an admin."
                    } else {
                        "The login's role may not do this: it needs an operator or admin."
                    })
                });
            }
        }
    }
}

/// The document rendered once, as JSON and as YAML.
struct Rendered {
    json: Result<String, String>,
    yaml: Result<String, String>,
}

fn rendered() -> &'static Rendered {
    static RENDERED: OnceLock<Rendered> = OnceLock::new();
    RENDERED.get_or_init(|| {
        let document = document();
        Rendered {
            json: serde_json::to_string_pretty(&document).map_err(|e| e.to_string()),
            yaml: serde_norway::to_string(&document).map_err(|e| e.to_string()),
        }
    })
}

fn answer(content_type: &'static str, body: &'static Result<String, String>) -> Response {
    match body {
        Ok(text) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            text.as_str(),
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "the OpenAPI document could not be rendered");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the document could not be rendered",
            )
                .into_response()
        }
    }
}

/// `GET /api/openapi.json`.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    operation_id = "openapi_json",
    tag = "reference",
    summary = "This document, as JSON",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document.", content_type = "application/json", body = Object),
    )
)]
pub async fn json() -> Response {
    answer("application/json", &rendered().json)
}

/// `GET /api/openapi.yaml`.
#[utoipa::path(
    get,
    path = "/api/openapi.yaml",
    operation_id = "openapi_yaml",
    tag = "reference",
    summary = "This document, as YAML",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document.", content_type = "application/yaml", body = Object),
    )
)]
pub async fn yaml() -> Response {
    answer("application/yaml", &rendered().yaml)
}

/// `GET /api/docs`: the reference page (its script fetches the JSON).
#[utoipa::path(
    get,
    path = "/api/docs",
    operation_id = "api_docs",
    tag = "reference",
    summary = "The API reference page",
    description = "Renders `/api/openapi.json` in the browser with the dashboard's own embedded script and stylesheet.",
    responses(answers::Page,)
)]
pub async fn docs() -> Response {
    match claudeops_web_ui::asset("api-docs.html") {
        Some((content_type, body)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use serde_json::Value;

    use super::*;

    fn document_json() -> Value {
        serde_json::to_value(document()).unwrap_or_else(|e| panic!("{e}"))
    }

    async fn served(response: Response) -> (StatusCode, String, String) {
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        (
            status,
            content_type,
            String::from_utf8_lossy(&body).into_owned(),
        )
    }

    /// Every operation: (path, method, operation).
    fn operations(document: &Value) -> Vec<(String, String, Value)> {
        let mut out = Vec::new();
        for (path, item) in document["paths"].as_object().into_iter().flatten() {
            for (method, operation) in item.as_object().into_iter().flatten() {
                out.push((path.clone(), method.clone(), operation.clone()));
            }
        }
        out
    }

    #[tokio::test]
    async fn the_served_json_is_a_valid_openapi_3_1_document() {
        let (status, content_type, body) = served(json().await).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "application/json");
        let served: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(served, document_json());
        assert_eq!(served["openapi"], "3.1.0");
        // The OpenAPI Initiative's schema of 3.1 documents (its
        // `src/schemas/validation/schema.yaml`, branch v3.1-dev, Apache-2.0),
        // as JSON: it checks the document's structure, not its schemas.
        let oas: Value = serde_json::from_str(include_str!("openapi/oas-3.1-schema.json"))
            .unwrap_or_else(|e| panic!("{e}"));
        let validator = jsonschema::validator_for(&oas).unwrap_or_else(|e| panic!("{e}"));
        let errors: Vec<String> = validator
            .iter_errors(&served)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "not an OpenAPI 3.1 document:\n{}",
            errors.join("\n")
        );
        // ... and each of its schemas is a JSON Schema (draft 2020-12, the
        // dialect of OpenAPI 3.1).
        for (name, schema) in served["components"]["schemas"]
            .as_object()
            .into_iter()
            .flatten()
        {
            if let Err(e) = jsonschema::meta::validate(schema) {
                panic!("schema {name}: {e}");
            }
        }
    }

    #[tokio::test]
    async fn the_yaml_is_the_same_document() {
        let (status, content_type, body) = served(yaml().await).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "application/yaml");
        let parsed: Value = serde_norway::from_str(&body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed, document_json());
    }

    /// The routes come only through `routes!` in `http::api_router`, one call
    /// per path, and each handler named there is one operation of the
    /// document: a route added any other way (axum's `route`, `nest` or
    /// `merge`, another router) would be served undocumented, and fails here.
    #[test]
    fn every_route_is_documented() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let this_file = src.join("http").join("openapi.rs");
        let mut files = vec![src.clone()];
        let mut sources = Vec::new();
        while let Some(path) = files.pop() {
            if path.is_dir() {
                for entry in std::fs::read_dir(&path).unwrap_or_else(|e| panic!("{e}")) {
                    files.push(entry.unwrap_or_else(|e| panic!("{e}")).path());
                }
            } else if path.extension().is_some_and(|e| e == "rs") && path != this_file {
                let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
                sources.push((path, text));
            }
        }
        for (path, text) in &sources {
            for needle in [
                ".route(",
                ".route_service(",
                ".nest(",
                ".nest_service(",
                ".merge(",
                "Router::new(",
                ".fallback_service(",
            ] {
                assert!(
                    !text.contains(needle),
                    "{} registers a route with {needle}: use routes!() in http::api_router",
                    path.display()
                );
            }
        }
        let (_, router_source) = sources
            .iter()
            .find(|(path, _)| path.ends_with("http/mod.rs"))
            .unwrap_or_else(|| panic!("no http/mod.rs"));
        let start = router_source
            .find("pub fn api_router")
            .unwrap_or_else(|| panic!("no api_router"));
        let body = &router_source[start..];
        let body = &body[..body.find("\n}\n").unwrap_or(body.len())];
        let calls: Vec<Vec<&str>> = body
            .split("routes!(")
            .skip(1)
            .map(|call| {
                call.split(')')
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|h| !h.is_empty())
                    .collect()
            })
            .collect();
        let document = document_json();
        let paths = document["paths"]
            .as_object()
            .map_or(0, serde_json::Map::len);
        let handlers: usize = calls.iter().map(Vec::len).sum();
        assert_eq!(calls.len(), paths, "one routes!() call per path");
        assert_eq!(
            handlers,
            operations(&document).len(),
            "one handler per operation"
        );
        assert_eq!(body.matches(".routes(").count(), calls.len());
    }

    /// Operation ids are unique, tags and security schemes declared, every
    /// `$ref` resolves and every path parameter is described.
    #[test]
    fn the_document_is_consistent() {
        let document = document_json();
        let tags: BTreeSet<&str> = document["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["name"].as_str())
            .collect();
        let schemes: BTreeSet<&str> = document["components"]["securitySchemes"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, _)| name.as_str())
            .collect();
        let mut ids = BTreeSet::new();
        for (path, method, operation) in operations(&document) {
            let at = format!("{method} {path}");
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            assert!(
                !id.is_empty() && ids.insert(id.clone()),
                "{at}: operation id {id:?}"
            );
            let op_tags: Vec<&str> = operation["tags"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            assert!(
                !op_tags.is_empty() && op_tags.iter().all(|t| tags.contains(t)),
                "{at}: tags {op_tags:?}"
            );
            assert!(
                operation["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{at}: summary"
            );
            for requirement in operation["security"].as_array().into_iter().flatten() {
                for (name, _) in requirement.as_object().into_iter().flatten() {
                    assert!(schemes.contains(name.as_str()), "{at}: scheme {name}");
                }
            }
            let declared: BTreeSet<&str> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str())
                .collect();
            let templated: BTreeSet<&str> = path
                .split('{')
                .skip(1)
                .filter_map(|rest| rest.split('}').next())
                .collect();
            assert_eq!(declared, templated, "{at}: path parameters");
            assert!(
                operation["responses"]
                    .as_object()
                    .is_some_and(|r| !r.is_empty()),
                "{at}: responses"
            );
        }
        let text = document.to_string();
        for reference in text.split("\"$ref\":\"").skip(1) {
            let reference = reference.split('"').next().unwrap_or_default();
            let name = reference
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("an external reference {reference}"));
            assert!(
                document["components"]["schemas"].get(name).is_some(),
                "{reference} does not resolve"
            );
        }
    }

    #[test]
    fn the_api_lists_keep_the_originals_wrapped_shape() {
        let document = document_json();
        let schemas = &document["components"]["schemas"];
        for (path, wrapper, list) in [
            ("/api/v1/sessions", "SessionList", "sessions"),
            ("/api/v1/events", "EventList", "events"),
            ("/api/v1/memories", "MemoryList", "memories"),
            ("/api/v1/cooldowns", "CooldownList", "cooldowns"),
        ] {
            let answer = &document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
                ["schema"]["$ref"];
            assert_eq!(answer, &format!("#/components/schemas/{wrapper}"), "{path}");
            assert_eq!(
                schemas[wrapper]["properties"][list]["type"], "array",
                "{path}"
            );
        }
        let stats = &schemas["StatsAnswer"];
        for field in [
            "stats",
            "last_session",
            "next_run",
            "scheduled_runs",
            "interval_seconds",
        ] {
            assert!(stats["properties"].get(field).is_some(), "stats: {field}");
        }
        for path in ["/api/v1/config", "/api/v1/sites/{site}/config"] {
            for method in ["get", "put"] {
                assert!(
                    document["paths"][path].get(method).is_some(),
                    "{method} {path}"
                );
            }
        }
    }

    /// The closed lists of path parameters are the code's own lists.
    #[test]
    fn the_webhook_sources_and_assets_are_the_codes() {
        let document = document_json();
        let enum_of = |path: &str, method: &str| -> Vec<String> {
            document["paths"][path][method]["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .flat_map(|p| p["schema"]["enum"].as_array().cloned().unwrap_or_default())
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        };
        assert_eq!(
            enum_of("/api/v1/webhook/{source}", "post"),
            crate::http::alert_sources::SOURCES
        );
        assert_eq!(
            enum_of("/static/{path}", "get"),
            claudeops_web_ui::ASSET_PATHS
        );
    }

    /// The reference page and its script and stylesheet come from this
    /// server, and the page fetches nothing but the document.
    #[tokio::test]
    async fn the_docs_page_loads_only_same_origin_assets() {
        let (status, content_type, html) = served(docs().await).await;
        assert_eq!(status, StatusCode::OK);
        assert!(content_type.starts_with("text/html"), "{content_type}");
        let mut texts = vec![("api-docs.html", html.clone())];
        for name in ["api-docs.js", "api-docs.css"] {
            let (_, bytes) =
                claudeops_web_ui::asset(name).unwrap_or_else(|| panic!("no asset {name}"));
            texts.push((name, String::from_utf8_lossy(bytes).into_owned()));
        }
        for (name, text) in &texts {
            for scheme in ["http://", "https://", "\"//", "'//", "url("] {
                assert!(!text.contains(scheme), "{name} contains {scheme}");
            }
        }
        for attribute in ["src=\"", "href=\""] {
            for value in html.split(attribute).skip(1) {
                let value = value.split('"').next().unwrap_or_default();
                assert!(
                    value.starts_with('/') && !value.starts_with("//") || value.starts_with('#'),
                    "{attribute}{value}\" is not on this server"
                );
            }
        }
        for (_, text) in &texts[1..] {
            for call in text.split("fetch(").skip(1) {
                assert!(
                    call.starts_with("\"/api/openapi.json\""),
                    "fetch({call:.40}"
                );
            }
        }
        for asset in [
            "/static/api-docs.js",
            "/static/api-docs.css",
            "/static/app.css",
        ] {
            assert!(html.contains(asset), "{asset}");
            assert!(
                claudeops_web_ui::asset(asset).is_some(),
                "{asset} is embedded"
            );
        }
    }
}
