//! The OpenAPI document (`/api/openapi.json`) against the real router, on a
//! control plane with a session, output, a ledger action, a memory, an
//! incident and a settings change in it: every documented operation is
//! served (a request reaches its handler, never the not-found page or a 405),
//! and answers with a status and content type its operation documents, its
//! JSON matching the documented schema. The schema-only types of
//! `http/openapi/` are checked here against what the handlers really send.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use claudeops_control_plane::http;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::fake_worker::FakeWorker;
use crate::support::{TOKEN, TestApp, eventually, no_escalation};

/// The document, and a validator per (path, method, status, media type).
struct Contract {
    document: Value,
}

impl Contract {
    fn new() -> Contract {
        let document = serde_json::to_value(http::openapi::document())
            .unwrap_or_else(|e| panic!("the document: {e}"));
        Contract { document }
    }

    /// Every operation: (path template, method).
    fn operations(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (path, item) in self.document["paths"].as_object().into_iter().flatten() {
            for (method, _) in item.as_object().into_iter().flatten() {
                out.push((path.clone(), method.clone()));
            }
        }
        out
    }

    /// Checks an answer against the operation's documented responses.
    fn check(&self, template: &str, method: &str, answer: &Answer) {
        let at = format!("{} {template} ({})", method.to_uppercase(), answer.uri);
        let responses = &self.document["paths"][template][method]["responses"];
        let status = answer.status.as_str();
        let Some(response) = responses.get(status) else {
            panic!(
                "{at}: answered {status}, which is not documented: {}",
                answer.text
            );
        };
        let essence = answer
            .content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim();
        let content = response["content"].as_object();
        if answer.text.is_empty() && content.is_none() {
            return;
        }
        let Some(media) = content.into_iter().flatten().find_map(|(name, media)| {
            (name.split(';').next().unwrap_or_default().trim() == essence).then_some(media)
        }) else {
            panic!(
                "{at}: {status} as {essence:?} is not documented: {}",
                answer.text
            );
        };
        match essence {
            "application/json" => {
                let body: Value = serde_json::from_str(&answer.text)
                    .unwrap_or_else(|e| panic!("{at}: not JSON ({e}): {}", answer.text));
                self.validate(&at, &media["schema"], &body);
            }
            "text/event-stream" => {
                let events = server_sent_events(&answer.text);
                assert!(!events.is_empty(), "{at}: no event in {}", answer.text);
                for event in &events {
                    self.validate(&at, &media["schema"], event);
                    self.validate_data(&at, &media["schema"], event);
                }
            }
            _ => {}
        }
    }

    /// A schema with the document's components beside it, so `$ref`s resolve.
    fn validator(&self, at: &str, schema: &Value) -> jsonschema::Validator {
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.document["components"],
            "allOf": [schema],
        });
        jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap_or_else(|e| panic!("{at}: the schema: {e}"))
    }

    fn validate(&self, at: &str, schema: &Value, instance: &Value) {
        let errors: Vec<String> = self
            .validator(at, schema)
            .iter_errors(instance)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{at}: does not match its schema:\n{}\n{instance:#}",
            errors.join("\n")
        );
    }

    /// An event's `data` against the `contentSchema` of the branch it matches
    /// (JSON Schema only annotates `contentSchema`; this checks it).
    fn validate_data(&self, at: &str, schema: &Value, event: &Value) {
        let schema = match schema["$ref"].as_str() {
            Some(reference) => {
                let name = reference.rsplit('/').next().unwrap_or_default();
                &self.document["components"]["schemas"][name]
            }
            None => schema,
        };
        let branches = schema["oneOf"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| vec![schema.clone()]);
        for branch in branches {
            let content = &branch["properties"]["data"]["contentSchema"];
            if content.is_null() || !self.validator(at, &branch).is_valid(event) {
                continue;
            }
            let data: Value = serde_json::from_str(event["data"].as_str().unwrap_or_default())
                .unwrap_or_else(|e| panic!("{at}: the data is not JSON ({e}): {event}"));
            self.validate(at, content, &data);
        }
    }
}

/// The events of a finished stream as `{event, id, data}` objects (the
/// event's name defaults to `message`; comments are left out).
fn server_sent_events(text: &str) -> Vec<Value> {
    let mut events = Vec::new();
    for block in text.split("\n\n") {
        let mut event = serde_json::Map::new();
        let mut data: Vec<&str> = Vec::new();
        for line in block.lines().filter(|l| !l.starts_with(':')) {
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "data" => data.push(value),
                "event" | "id" => {
                    event.insert(field.to_owned(), json!(value));
                }
                _ => {}
            }
        }
        if !data.is_empty() {
            event.entry("event").or_insert(json!("message"));
            event.insert("data".to_owned(), json!(data.join("\n")));
            events.push(Value::Object(event));
        }
    }
    events
}

struct Answer {
    uri: String,
    status: StatusCode,
    content_type: String,
    text: String,
}

/// One request through the router: bearer token always, a JSON or form body.
async fn call(app: &TestApp, method: &str, uri: &str, body: Option<(&str, String)>) -> Answer {
    let method = Method::from_bytes(method.to_uppercase().as_bytes())
        .unwrap_or_else(|e| panic!("{method}: {e}"));
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
    let request = match body {
        Some((content_type, text)) => builder
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(text)),
        None => {
            builder = builder.header(header::ACCEPT, "*/*");
            builder.body(Body::empty())
        }
    }
    .unwrap_or_else(|e| panic!("{uri}: {e}"));
    let response = http::router(app.state.clone())
        .oneshot(request)
        .await
        .unwrap_or_else(|e| match e {});
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = if content_type.starts_with("text/event-stream") {
        // A stream that follows what happens ends only when its subject does:
        // tell it of a change, then read until it has been quiet for a second.
        app.state
            .context
            .changes
            .publish(claudeops_control_plane::changes::Kind::Event, Some("home"));
        let mut body = response.into_body();
        let mut bytes = Vec::new();
        while let Ok(Some(frame)) =
            tokio::time::timeout(std::time::Duration::from_secs(1), body.frame()).await
        {
            let frame = frame.unwrap_or_else(|e| panic!("{uri}: {e}"));
            if let Some(data) = frame.data_ref() {
                bytes.extend_from_slice(data);
            }
        }
        bytes.into()
    } else {
        response
            .into_body()
            .collect()
            .await
            .unwrap_or_else(|e| panic!("{uri}: {e}"))
            .to_bytes()
    };
    Answer {
        uri: uri.to_owned(),
        status,
        content_type,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// A request of `template` with its path parameters filled from the seeds.
fn uri_of(template: &str, session: i64, memory: i64) -> String {
    let id = if template.starts_with("/api/v1/memories") || template.starts_with("/memories") {
        memory.to_string()
    } else if template.contains("/workers/") {
        "no-such-worker".to_owned()
    } else {
        session.to_string()
    };
    template
        .replace("{id}", &id)
        .replace("{site}", "home")
        .replace("{name}", "no-such-probe")
        .replace("{source}", "alertmanager")
        .replace("{path}", "app.css")
        .replace("{name}", "web-http")
        .replace("{service}", "web")
        .replace("{slug}", "home")
}

/// The body a request of the operation carries: one that is refused before
/// anything starts (an unknown field), or a form without a login.
fn body_of(document: &Value, template: &str, method: &str) -> Option<(&'static str, String)> {
    let content = document["paths"][template][method]["requestBody"]["content"].as_object()?;
    if content.contains_key("application/x-www-form-urlencoded") {
        Some((
            "application/x-www-form-urlencoded",
            "csrf=forged".to_owned(),
        ))
    } else {
        Some(("application/json", json!({ "bogus": true }).to_string()))
    }
}

#[tokio::test]
async fn every_operation_is_served_and_answers_as_documented() {
    let app = TestApp::with(|c| {
        c.chat_api_key = Some(TOKEN.to_owned());
        // The model upstream (model list, alert briefs) is a closed local port.
        c.anthropic_base_url = Some("http://127.0.0.1:9".to_owned());
    })
    .await;
    let contract = Contract::new();
    let mut worker = FakeWorker::connect_new(&app, "home").await;

    // A finished session with output and a ledger action.
    let trigger = json!({ "site": "home", "prompt": "look around", "start_tier": 2 }).to_string();
    let answer = call(
        &app,
        "post",
        "/api/v1/sessions/trigger",
        Some(("application/json", trigger)),
    )
    .await;
    contract.check("/api/v1/sessions/trigger", "post", &answer);
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    let session = serde_json::from_str::<Value>(&answer.text).unwrap_or_default()["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no id: {}", answer.text));
    worker.run_job().await;
    worker.output(session, 1..=3).await;
    worker.reserve(1, session, "restart", "web").await;
    worker
        .finish(session, 3, 0.02, &no_escalation("all good"))
        .await;
    eventually("the session's end", || async {
        let detail = app.get(&format!("/api/v1/sessions/{session}")).await;
        (detail["status"] != "running").then_some(())
    })
    .await;

    // A memory and a settings change, through the API.
    let memory = json!({ "site": "home", "service": "web", "category": "port", "observation": "listens on 8080" });
    let answer = call(
        &app,
        "post",
        "/api/v1/memories",
        Some(("application/json", memory.to_string())),
    )
    .await;
    contract.check("/api/v1/memories", "post", &answer);
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    let memory = serde_json::from_str::<Value>(&answer.text).unwrap_or_default()["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no id: {}", answer.text));
    let edit = json!({ "confidence": 0.9 }).to_string();
    let answer = call(
        &app,
        "put",
        &format!("/api/v1/memories/{memory}"),
        Some(("application/json", edit)),
    )
    .await;
    contract.check("/api/v1/memories/{id}", "put", &answer);
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let change = json!({ "max_tier": 2, "notify_digest_time": "off" }).to_string();
    let answer = call(
        &app,
        "put",
        "/api/v1/config",
        Some(("application/json", change)),
    )
    .await;
    contract.check("/api/v1/config", "put", &answer);
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let change = json!({ "dry_run": true }).to_string();
    let answer = call(
        &app,
        "put",
        "/api/v1/sites/home/config",
        Some(("application/json", change)),
    )
    .await;
    contract.check("/api/v1/sites/{site}/config", "put", &answer);
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);

    // An incident, from an alert.
    let alert = json!({
        "version": "4", "status": "firing", "receiver": "claude-ops",
        "alerts": [{ "status": "firing", "labels": { "alertname": "WebDown", "service": "web" },
                     "annotations": { "summary": "web answers 502" } }],
    });
    let answer = call(
        &app,
        "post",
        "/api/v1/webhook",
        Some(("application/json", alert.to_string())),
    )
    .await;
    contract.check("/api/v1/webhook", "post", &answer);
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.text);

    // The lists have rows, so their schemas are checked against real ones.
    for (path, key) in [
        ("/api/v1/sessions", Some("sessions")),
        ("/api/v1/events", Some("events")),
        ("/api/v1/memories", Some("memories")),
        ("/api/v1/cooldowns", Some("cooldowns")),
        ("/api/v1/config/changes", Some("changes")),
        ("/api/v1/actions", None),
        ("/api/v1/incidents", None),
        ("/api/v1/workers", None),
    ] {
        let json = app.get(path).await;
        let list = key.map_or(&json, |k| &json[k]);
        assert!(
            list.as_array().is_some_and(|l| !l.is_empty()),
            "{path} is empty, so its rows' schema goes unchecked: {json}"
        );
    }

    // Every operation, in the document's order.
    for (template, method) in contract.operations() {
        let uri = uri_of(&template, session, memory);
        let body = body_of(&contract.document, &template, &method);
        let answer = call(&app, &method, &uri, body).await;
        assert_ne!(
            answer.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {uri}"
        );
        assert!(
            !answer.text.contains("There is no such page."),
            "{method} {uri} reached the not-found page, not its handler"
        );
        contract.check(&template, &method, &answer);
    }
}
