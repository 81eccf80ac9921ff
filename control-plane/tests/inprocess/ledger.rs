//! The cooldown ledger over the link: slots granted up to the limit, refused
//! past it, and one "needs human attention" alert per service per window no
//! matter how often the worker asks.

use crate::fake_worker::FakeWorker;
use crate::support::TestApp;

#[tokio::test]
async fn restarts_are_granted_up_to_the_limit_then_refused_with_one_alert() {
    let app = TestApp::with(|c| c.cooldown_max_restarts = 2).await;
    let mut worker = FakeWorker::connect_new(&app, "home").await;
    let id = app.start_session("home", 2).await;
    assert_eq!(worker.run_job().await.tier, 2);

    let mut granted = Vec::new();
    for request in 1..=2 {
        let answer = worker.reserve(request, id, "restart", "web").await;
        assert!(answer.granted, "request {request}: {answer:?}");
        assert!(answer.action_id > 0);
        granted.push(answer.action_id);
    }
    assert_ne!(granted[0], granted[1]);

    for request in 3..=6 {
        let answer = worker.reserve(request, id, "restart", "web").await;
        assert!(!answer.granted, "request {request}: {answer:?}");
        assert_eq!(answer.action_id, 0);
        assert!(!answer.reason.is_empty());
        assert!(answer.next_allowed_ms > 0, "{answer:?}");
    }

    // Another service has its own limit.
    let other = worker.reserve(7, id, "restart", "db").await;
    assert!(other.granted, "{other:?}");

    let alerts: Vec<_> = app
        .events("level=critical&service=web")
        .await
        .into_iter()
        .filter(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("needs human attention: restart of web refused"))
        })
        .collect();
    assert_eq!(
        alerts.len(),
        1,
        "one alert per service per window: {alerts:?}"
    );
    assert_eq!(alerts[0]["session_id"], id);
    let refusals = app
        .events("level=warning")
        .await
        .into_iter()
        .filter(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("cooldown: restart of web refused"))
        })
        .count();
    assert_eq!(refusals, 4, "every refusal is recorded");
    assert!(app.events("level=critical&service=db").await.is_empty());
}
