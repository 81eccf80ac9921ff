//! History pages, the probe history API, public status pages and badges, over
//! attempts stored as a worker reports them.

use axum::http::{Method, StatusCode};
use claudeops_control_plane::clock::now_ms;
use claudeops_core::SiteName;
use claudeops_core::health::{ProbeAttempt, ProbeState};

use crate::support::TestApp;

const HOUR: i64 = 3_600_000;

fn attempt(probe: &str, service: &str, ok: bool, at_ms: i64, latency_ms: i64) -> ProbeAttempt {
    ProbeAttempt {
        probe: probe.into(),
        service: service.into(),
        kind: "http".into(),
        ok,
        latency_ms,
        message: if ok {
            "HTTP 200 from http://192.0.2.7:8080/health".into()
        } else {
            "HTTP 502 from http://192.0.2.7:8080/health".into()
        },
        evidence: if ok {
            String::new()
        } else {
            "upstream secret-ish body".into()
        },
        at_ms,
        state: if ok { ProbeState::Up } else { ProbeState::Down },
    }
}

/// 30 days of web-http (one failure in 10 in the last day, all good before),
/// and a db probe the status page does not show.
async fn seeded() -> TestApp {
    let app = TestApp::with(|c| c.status_pages = vec!["home=home:web".into()]).await;
    let now = now_ms();
    let mut attempts = Vec::new();
    for h in (1..30 * 24).rev() {
        attempts.push(attempt("web-http", "web", true, now - h * HOUR, 40));
    }
    for i in 0..10 {
        attempts.push(attempt(
            "web-http",
            "web",
            i != 3,
            now - 30 * 60_000 + i * 60_000,
            80,
        ));
    }
    attempts.push(attempt("db-tcp", "db", false, now - 60_000, 3));
    let site = SiteName::new("home".to_owned()).unwrap_or_else(|e| panic!("{e}"));
    app.state
        .context
        .store
        .record_probe_attempts(&site, &attempts)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    app
}

#[tokio::test]
async fn a_probes_history_counts_uptime_over_each_window() {
    let app = seeded().await;
    let json = app.get("/api/v1/probes/home/web-http/history").await;
    let windows: Vec<(String, i64, i64)> = json["uptime"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| {
            (
                u["window"].as_str().unwrap_or_default().to_owned(),
                u["attempts"].as_i64().unwrap_or(-1),
                u["successes"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    // 24 h: the 23 hourly attempts of the last day (plus the hour holding
    // the window's start) and the 10 recent ones, one failed.
    assert_eq!(windows[0].0, "24h");
    assert!(
        (33..=35).contains(&windows[0].1) && windows[0].2 == windows[0].1 - 1,
        "{json}"
    );
    assert_eq!(
        (windows[2].0.as_str(), windows[2].1, windows[2].2),
        ("30d", 729, 728),
        "{json}"
    );
    let percent = json["uptime"][2]["percent"].as_f64().unwrap_or_default();
    assert!((percent - 728.0 * 100.0 / 729.0).abs() < 1e-9, "{percent}");
    assert_eq!(json["recent"].as_array().map_or(0, Vec::len), 90, "{json}");
    assert_eq!(json["state"], "up");
    assert!(
        json["hourly"]
            .as_array()
            .is_some_and(|h| (168..=170).contains(&h.len())),
        "{json}"
    );
    assert!(
        json["daily"]
            .as_array()
            .is_some_and(|d| (29..=31).contains(&d.len())),
        "{json}"
    );
    assert_eq!(json["certificate_days_left"], serde_json::Value::Null);
    let (status, _) = app
        .request(Method::GET, "/api/v1/probes/home/nope/history", None, true)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn probe_and_service_pages_draw_their_history() {
    let app = seeded().await;
    let (cookie, _) = app.login();
    let (status, page) = app
        .page(Method::GET, "/probes/home/web-http", &cookie, &[])
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    for needle in [
        "class=\"latency-chart\"",
        "Response time over the last 7 days",
        "class=\"beats\"",
        "The latest 90 attempts: 89 passed, 1 failed.",
        "class=\"day-strip\"",
        "99.86%",
        "href=\"/services/home/web\"",
    ] {
        assert!(page.contains(needle), "the probe page lacks {needle}");
    }
    let (status, page) = app
        .page(Method::GET, "/services/home/web", &cookie, &[])
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("href=\"/probes/home/web-http\""), "{page}");
    let (status, _) = app
        .page(Method::GET, "/probes/home/nope", &cookie, &[])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .page(Method::GET, "/services/nowhere/web", &cookie, &[])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The health page links every probe and service to its history.
    let (_, health) = app.page(Method::GET, "/health", &cookie, &[]).await;
    for link in [
        "/probes/home/web-http",
        "/probes/home/db-tcp",
        "/services/home/db",
    ] {
        assert!(
            health.contains(&format!("href=\"{link}\"")),
            "health lacks {link}"
        );
    }
}

#[tokio::test]
async fn the_public_status_page_shows_only_what_was_made_public() {
    let app = seeded().await;
    // No login.
    let (status, page) = app.page(Method::GET, "/status/home", "", &[]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(">web<"), "{page}");
    assert!(page.contains("All services are up"), "{page}");
    for secret in [
        ">db<",
        "db-tcp",
        "192.0.2.7",
        "HTTP 502",
        "secret-ish",
        "/sessions/",
        "nav",
    ] {
        assert!(!page.contains(secret), "the public page shows {secret:?}");
    }
    let (status, _) = app.page(Method::GET, "/status/nope", "", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn badges_show_public_services_only() {
    let app = seeded().await;
    let (status, badge) = app
        .page(Method::GET, "/badge/web/status.svg", "", &[])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        badge.starts_with("<svg") && badge.contains(">up<") && badge.contains(">web<"),
        "{badge}"
    );
    let (status, badge) = app
        .page(Method::GET, "/badge/web/uptime.svg?window=30d", "", &[])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        badge.contains(">99.86%<") && badge.contains("uptime 30d"),
        "{badge}"
    );
    // A service on no public page is not told apart from one that does not exist.
    for path in [
        "/badge/db/status.svg",
        "/badge/nothing/status.svg",
        "/badge/web/status.svg?site=lab",
    ] {
        let (status, badge) = app.page(Method::GET, path, "", &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            badge.contains(">unknown<") && !badge.contains(">down<"),
            "{path}: {badge}"
        );
    }
    let (status, _) = app
        .page(Method::GET, "/badge/web/uptime.svg?window=1y", "", &[])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Content type and caching, for READMEs and Homepage.
    let response = app
        .send(Method::GET, "/badge/web/status.svg", None, false)
        .await;
    let headers = response.headers();
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("image/svg+xml; charset=utf-8")
    );
    assert_eq!(
        headers.get("cache-control").and_then(|v| v.to_str().ok()),
        Some("public, max-age=60")
    );
}
