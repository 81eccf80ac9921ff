//! Maintenance windows silence a service's failures (probes recorded, no
//! incident, no session); after the window a failure is handled as any other.
//! An incident's page and JSON tell its story; acknowledging it names who and
//! stops its reminders.

use axum::http::{Method, StatusCode};
use claudeops_proto::v1::{self as pb, worker_message};
use serde_json::{Value, json};

use crate::fake_worker::FakeWorker;
use crate::support::{TestApp, eventually};

fn failing(at_ms: i64) -> worker_message::Body {
    worker_message::Body::Probes(pb::ProbeReport {
        results: vec![pb::ProbeResult {
            probe: "web-http".to_owned(),
            service: "web".to_owned(),
            kind: "http".to_owned(),
            ok: false,
            latency_ms: 12,
            message: "status 502, expected 200".to_owned(),
            evidence: "<html>bad gateway</html>".to_owned(),
            at_ms,
            state: pb::ProbeState::Down as i32,
        }],
        complete_set: false,
        probe_names: Vec::new(),
    })
}

async fn attempts_stored(app: &TestApp, n: usize) {
    eventually("the attempts to be stored", || async {
        let probes = app
            .state
            .context
            .store
            .list_probes(None, 100)
            .await
            .unwrap_or_default();
        probes
            .iter()
            .any(|p| p.probe == "web-http" && p.history.len() >= n)
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_failure_during_maintenance_opens_nothing_until_the_window_ends() {
    let app = TestApp::start().await;
    let mut worker = FakeWorker::connect_new(&app, "home").await;

    // Refused windows say why.
    for (body, needle) in [
        (
            json!({"site": "home", "duration": "1h", "reason": ""}),
            "reason",
        ),
        (
            json!({"site": "home", "duration": "soon", "reason": "x"}),
            "duration",
        ),
        (
            json!({"site": "home", "duration": "45d", "reason": "x"}),
            "30 days",
        ),
        (
            json!({"site": "../etc", "duration": "1h", "reason": "x"}),
            "site",
        ),
        (
            json!({"site": "home", "reason": "x"}),
            "ends_at or duration",
        ),
    ] {
        let (status, answer) = app
            .request(
                Method::POST,
                "/api/v1/maintenance",
                Some(body.clone()),
                true,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert!(answer.to_string().contains(needle), "{body}: {answer}");
    }
    let (status, _) = app
        .request(
            Method::POST,
            "/api/v1/maintenance",
            Some(json!({"site": "home", "duration": "1h", "reason": "x"})),
            false,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, window) = app
        .request(
            Method::POST,
            "/api/v1/maintenance",
            Some(
                json!({"site": "home", "service": "web", "duration": "1h", "reason": "disk swap"}),
            ),
            true,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{window}");
    assert_eq!(window["active"], true);
    assert_eq!(window["created_by"], "api token");
    let id = window["id"].as_i64().unwrap_or_else(|| panic!("{window}"));

    // Every page says so.
    let (cookie, csrf) = app.login();
    let (_, page) = app.page(Method::GET, "/sessions", &cookie, &[]).await;
    assert!(
        page.contains("maintenance-banner") && page.contains("disk swap"),
        "{page}"
    );

    // The probe fails: recorded, but no incident and no session.
    worker.send(failing(1_000)).await;
    worker.send(failing(2_000)).await;
    attempts_stored(&app, 2).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.get("/api/v1/incidents").await, json!([]));
    assert_eq!(app.session_count().await, 0);

    // Ended early from the page: the next failure opens the incident and its session.
    let (status, _) = app
        .page(
            Method::POST,
            &format!("/maintenance/{id}/end"),
            &cookie,
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(app.get("/api/v1/maintenance").await["windows"], json!([]));
    let (_, page) = app.page(Method::GET, "/sessions", &cookie, &[]).await;
    assert!(!page.contains("maintenance-banner"));
    worker.send(failing(3_000)).await;
    let job = worker.run_job().await;
    assert_eq!(job.trigger, "incident");
    let incidents = app.get("/api/v1/incidents").await;
    assert_eq!(incidents.as_array().map_or(0, Vec::len), 1, "{incidents}");
    // The events say who started and ended the window.
    let messages: Vec<String> = app
        .events("site=home")
        .await
        .iter()
        .filter_map(|e| e["message"].as_str().map(str::to_owned))
        .collect();
    assert!(
        messages.iter().any(
            |m| m.starts_with(&format!("maintenance #{id} of home / web from"))
                && m.contains("by api token: disk swap")
        ),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains(&format!(
            "maintenance #{id} of home / web ended early by api token"
        ))),
        "{messages:?}"
    );
}

#[tokio::test]
async fn an_incident_tells_its_story_and_an_acknowledgement_names_who_and_stops_reminders() {
    let app = TestApp::start().await;
    let mut worker = FakeWorker::connect_new(&app, "home").await;
    worker.send(failing(1_000)).await;
    let job = worker.run_job().await;
    let incidents = app.get("/api/v1/incidents").await;
    let id = incidents[0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{incidents}"));
    assert_eq!(
        app.state
            .incidents
            .remindable()
            .await
            .iter()
            .map(|i| i.id)
            .collect::<Vec<_>>(),
        [id],
        "an open incident is reminded of"
    );

    let detail = app.get(&format!("/api/v1/incidents/{id}")).await;
    let kinds: Vec<&str> = detail["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["kind"].as_str())
        .collect();
    assert_eq!(kinds.first(), Some(&"opened"), "{detail}");
    assert!(kinds.contains(&"session"), "{detail}");
    assert!(
        detail["timeline"]
            .to_string()
            .contains(&format!("session #{} started", job.session_id)),
        "{detail}"
    );
    assert_eq!(detail["acknowledged_by"], Value::Null);
    assert!(detail["duration_seconds"].as_i64().is_some_and(|d| d >= 0));

    // Acknowledged from the page, by a named user.
    app.state
        .users
        .put(
            "alice",
            claudeops_control_plane::auth::Role::Operator,
            "alice-long-password",
            0,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let login = app.state.auth.start_login(
        "alice",
        claudeops_control_plane::auth::Role::Operator,
        claudeops_control_plane::clock::now_ms(),
    );
    let cookie = format!(
        "{}={}",
        claudeops_control_plane::auth::SESSION_COOKIE,
        login.id
    );
    let (_, page) = app
        .page(Method::GET, &format!("/incidents/{id}"), &cookie, &[])
        .await;
    assert!(
        page.contains("Acknowledge") && page.contains("Timeline"),
        "{page}"
    );
    let (status, _) = app
        .page(
            Method::POST,
            &format!("/incidents/{id}/acknowledge"),
            &cookie,
            &[("csrf", &login.csrf)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let detail = app.get(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(detail["acknowledged_by"], "alice", "{detail}");
    assert!(
        detail["timeline"]
            .to_string()
            .contains("acknowledged by alice"),
        "{detail}"
    );
    assert!(
        app.state.incidents.remindable().await.is_empty(),
        "no reminders once acknowledged"
    );
    // Again through the API: the first acknowledgement stays.
    let (status, again) = app
        .request(
            Method::POST,
            &format!("/api/v1/incidents/{id}/acknowledge"),
            None,
            true,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (again["acknowledged_by"].clone(), again["new"].clone()),
        (json!("alice"), json!(false))
    );
    let (_, list) = app.page(Method::GET, "/incidents", &cookie, &[]).await;
    assert!(list.contains("Acknowledged by alice"), "the list says so");
    let (status, _) = app
        .request(
            Method::POST,
            "/api/v1/incidents/999999/acknowledge",
            None,
            true,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
