//! Runtime configuration: `GET/PUT /api/v1/config` and the config page's form,
//! per-site overrides, the audit trail, secrets kept write-only, and all of it
//! surviving a restart.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::fake_worker::FakeWorker;
use crate::support::TestApp;

/// The value of the `name`d input of a page (the first one), if any.
fn input_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let value = tag.split("value=\"").nth(1)?;
    Some(value[..value.find('"')?].to_owned())
}

#[tokio::test]
async fn the_api_round_trips_validates_and_audits() {
    let app = TestApp::start().await;
    let before = app.get("/api/v1/config").await;
    // The original's fields, in its types.
    for field in [
        "interval",
        "tier1_model",
        "tier2_model",
        "tier3_model",
        "dry_run",
        "max_tier",
        "state_dir",
        "results_dir",
        "repos_dir",
    ] {
        assert!(!before[field].is_null(), "{field} missing: {before}");
    }
    assert_eq!(before["interval"], 0);
    assert_eq!(before["dry_run"], false);

    let change = json!({"interval": 1800, "tier2_model": "sonnet-x", "max_daily_cost_usd": 2.5});
    let (status, json) = app
        .request(Method::PUT, "/api/v1/config", Some(change.clone()), false)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{json}");
    let (status, json) = app
        .request(Method::PUT, "/api/v1/config", Some(change), true)
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["interval"], 1800);
    assert_eq!(json["tier2_model"], "sonnet-x");
    assert_eq!(json["max_daily_cost_usd"], 2.5);
    assert_eq!(
        json["tier1_model"], before["tier1_model"],
        "untouched fields stay"
    );
    assert_eq!(json["overrides"]["interval"], 1800);
    assert_eq!(app.get("/api/v1/stats").await["interval_seconds"], 1800);

    // Every problem at once, and nothing applied.
    let bad = json!({"interval": -1, "tier1_model": "", "max_tier": 7, "dry_run": "maybe", "colour": "red"});
    let (status, json) = app
        .request(Method::PUT, "/api/v1/config", Some(bad), true)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
    assert_eq!(json["problems"].as_array().map(Vec::len), Some(5), "{json}");
    assert!(
        json["error"]
            .as_str()
            .is_some_and(|e| e.contains("max_tier")),
        "{json}"
    );
    assert_eq!(app.get("/api/v1/config").await["interval"], 1800);

    // Not JSON: 415 as the original documents.
    let response = app.send(Method::PUT, "/api/v1/config", None, true).await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let trail = app.get("/api/v1/config/changes").await;
    let changes = trail["changes"].as_array().cloned().unwrap_or_default();
    let interval = changes
        .iter()
        .find(|c| c["field"] == "interval")
        .unwrap_or_else(|| panic!("no interval change: {trail}"));
    assert_eq!(interval["actor"], "api token");
    assert_eq!(interval["scope"], "global");
    assert_eq!(interval["before"], "0");
    assert_eq!(interval["after"], "1800");
    assert_eq!(changes.len(), 3, "one row per changed field: {trail}");
}

#[tokio::test]
async fn secrets_are_write_only() {
    let app = TestApp::start().await;
    let secret = "json://127.0.0.1:9/hook-secret-token";
    let (status, json) = app
        .request(
            Method::PUT,
            "/api/v1/config",
            Some(json!({"apprise_urls": secret})),
            true,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["apprise_urls"], true);
    assert!(
        app.state.notifications.notifier().is_some(),
        "the notifier restarted with the URL"
    );
    let (cookie, _) = app.login();
    let (_, page) = app.page(Method::GET, "/config", &cookie, &[]).await;
    for text in [
        app.get("/api/v1/config").await.to_string(),
        app.get("/api/v1/config/changes").await.to_string(),
        page,
    ] {
        assert!(
            !text.contains("hook-secret-token"),
            "the secret leaked: {text}"
        );
    }
    let trail = app.get("/api/v1/config/changes").await;
    assert_eq!(trail["changes"][0]["before"], "not set", "{trail}");
    assert_eq!(trail["changes"][0]["after"], "set", "{trail}");
    // Cleared: notifications stop.
    let (status, _) = app
        .request(
            Method::PUT,
            "/api/v1/config",
            Some(json!({"apprise_urls": ""})),
            true,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(app.state.notifications.notifier().is_none());
}

#[tokio::test]
async fn a_site_override_applies_to_that_site_only_and_survives_a_restart() {
    let app = TestApp::start().await;
    let (status, json) = app
        .request(
            Method::PUT,
            "/api/v1/sites/lab/config",
            Some(json!({"tier1_model": "haiku-lab", "max_tier": 1})),
            true,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["tier1_model"], "haiku-lab");
    // A fleet-wide setting cannot be a site's.
    let (status, json) = app
        .request(
            Method::PUT,
            "/api/v1/sites/lab/config",
            Some(json!({"max_daily_cost_usd": 1})),
            true,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");

    let mut lab = FakeWorker::connect_new(&app, "lab").await;
    let mut home = FakeWorker::connect_new(&app, "home").await;
    let id = app.start_session("lab", 1).await;
    let job = lab.run_job().await;
    assert_eq!((job.session_id, job.model.as_str()), (id, "haiku-lab"));
    let id = app.start_session("home", 1).await;
    let job = home.run_job().await;
    let fleet_model = app.get("/api/v1/config").await["tier1_model"].clone();
    assert_eq!(job.session_id, id);
    assert_eq!(json!(job.model), fleet_model);
    // The lab's max tier is 1; home's is the fleet's 3.
    let (status, json) = app.trigger("lab", 2).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
    drop((lab, home));

    let app = app.restarted().await;
    let lab = app.get("/api/v1/sites/lab/config").await;
    assert_eq!(lab["tier1_model"], "haiku-lab", "{lab}");
    assert_eq!(lab["max_tier"], 1, "{lab}");
    assert_eq!(
        lab["overrides"],
        json!({"tier1_model": "haiku-lab", "max_tier": 1})
    );
    let config = app.get("/api/v1/config").await;
    assert_eq!(config["site_overrides"]["lab"]["max_tier"], 1, "{config}");
    // `null` returns a field to the fleet's value.
    let (status, json) = app
        .request(
            Method::PUT,
            "/api/v1/sites/lab/config",
            Some(json!({"max_tier": null})),
            true,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["max_tier"], 3);
    assert_eq!(json["overrides"], json!({"tier1_model": "haiku-lab"}));
}

#[tokio::test]
async fn the_forms_change_settings_with_a_csrf_token() {
    let app = TestApp::start().await;
    let (cookie, csrf) = app.login();
    let (status, page) = app.page(Method::GET, "/config", &cookie, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(input_value(&page, "tier3_model").as_deref(), Some("opus"));
    assert_eq!(input_value(&page, "interval").as_deref(), Some("0"));

    // Without the CSRF token nothing changes.
    let (status, _) = app
        .page(
            Method::POST,
            "/config",
            &cookie,
            &[("csrf", "wrong"), ("interval", "600")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(app.get("/api/v1/config").await["interval"], 0);

    let (status, page) = app
        .page(
            Method::POST,
            "/config",
            &cookie,
            &[
                ("csrf", &csrf),
                ("interval", "600"),
                ("tier3_model", "opus"),
                ("dry_run", "true"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Saved: dry_run, interval."), "{page}");
    let config = app.get("/api/v1/config").await;
    assert_eq!(
        (config["interval"].clone(), config["dry_run"].clone()),
        (json!(600), json!(true))
    );
    assert_eq!(
        config["overrides"],
        json!({"interval": 600, "dry_run": true}),
        "only what changed is an override"
    );

    // Bad values: every problem on the page, 400, nothing changed.
    let (status, page) = app
        .page(
            Method::POST,
            "/config",
            &cookie,
            &[
                ("csrf", &csrf),
                ("interval", "soon"),
                ("max_session_cost_usd", "-3"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("interval:") && page.contains("max_session_cost_usd:"),
        "{page}"
    );
    assert_eq!(app.get("/api/v1/config").await["interval"], 600);

    // A site's form: a blank field follows the fleet.
    let (status, page) = app
        .page(
            Method::POST,
            "/sites/lab/settings",
            &cookie,
            &[
                ("csrf", &csrf),
                ("interval", "120"),
                ("dry_run", ""),
                ("tier1_model", ""),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let lab = app.get("/api/v1/sites/lab/config").await;
    assert_eq!(lab["overrides"], json!({"interval": 120}), "{lab}");
    assert_eq!(lab["dry_run"], true, "inherited from the fleet: {lab}");
    let trail = app.get("/api/v1/config/changes").await;
    let last = &trail["changes"][0];
    assert_eq!(
        (last["scope"].clone(), last["field"].clone()),
        (json!("site:lab"), json!("interval"))
    );
    assert!(last["actor"] == "api token", "{trail}");
    let (_, page) = app
        .page(Method::GET, "/sites/lab/settings", &cookie, &[])
        .await;
    assert_eq!(input_value(&page, "interval").as_deref(), Some("120"));
}

#[tokio::test]
async fn concurrent_changes_of_one_scope_lose_nothing() {
    let app = TestApp::start().await;
    let changes = [
        json!({"interval": 900}),
        json!({"tier1_model": "haiku-a"}),
        json!({"tier2_model": "sonnet-b"}),
        json!({"tier3_model": "opus-c"}),
        json!({"dry_run": true}),
        json!({"max_tier": 2}),
        json!({"max_chain_cost_usd": 1.5}),
        json!({"notify_digest_time": "07:30"}),
    ];
    let puts = changes
        .iter()
        .map(|c| app.request(Method::PUT, "/api/v1/config", Some(c.clone()), true));
    for (status, json) in futures_util::future::join_all(puts).await {
        assert_eq!(status, StatusCode::OK, "{json}");
    }
    let overrides = app.get("/api/v1/config").await["overrides"].clone();
    for change in &changes {
        for (field, value) in change.as_object().into_iter().flatten() {
            assert_eq!(&overrides[field], value, "{field} was lost: {overrides}");
        }
    }
    let trail = app.get("/api/v1/config/changes").await;
    assert_eq!(
        trail["changes"].as_array().map(Vec::len),
        Some(changes.len()),
        "{trail}"
    );
}
