//! From failing probes to "verified fixed": a probe past its threshold opens an
//! incident and starts a session at the incident tier; when that session ends
//! without asking for more, the control plane has the worker re-run the probes,
//! and only their passing closes the incident.

use claudeops_proto::v1::{self as pb, control_message, worker_message};

use crate::fake_worker::FakeWorker;
use crate::support::{TestApp, eventually, no_escalation};

fn attempt(probe: &str, ok: bool, state: pb::ProbeState) -> pb::ProbeResult {
    pb::ProbeResult {
        probe: probe.to_owned(),
        service: "web".to_owned(),
        kind: "http".to_owned(),
        ok,
        latency_ms: 12,
        message: if ok {
            "status 200"
        } else {
            "status 502, expected 200"
        }
        .to_owned(),
        evidence: if ok { "" } else { "<html>bad gateway</html>" }.to_owned(),
        at_ms: 1_000,
        state: state as i32,
    }
}

fn report(results: Vec<pb::ProbeResult>) -> worker_message::Body {
    worker_message::Body::Probes(pb::ProbeReport {
        results,
        complete_set: false,
        probe_names: Vec::new(),
    })
}

#[tokio::test]
async fn failing_probes_open_an_incident_that_only_a_passing_reprobe_closes() {
    let app = TestApp::with(|c| c.incident_tier = claudeops_core::Tier::Investigate).await;
    let mut worker = FakeWorker::connect_new(&app, "home").await;

    // One failure below the probe's threshold: the state is not down yet.
    worker
        .send(report(vec![attempt(
            "web-http",
            false,
            pb::ProbeState::Unknown,
        )]))
        .await;
    let store = &app.state.context.store;
    eventually("the first attempt to be stored", || async {
        let checks = app.get("/api/v1/checks").await;
        (checks.to_string().contains("web-http")).then_some(())
    })
    .await;
    assert_eq!(app.get("/api/v1/incidents").await, serde_json::json!([]));
    assert_eq!(app.session_count().await, 0);

    // Past the threshold: down.
    worker
        .send(report(vec![attempt(
            "web-http",
            false,
            pb::ProbeState::Down,
        )]))
        .await;
    let job = worker.run_job().await;
    assert_eq!(job.tier, 2, "the incident tier");
    assert_eq!(job.trigger, "incident");
    assert!(
        job.handoff
            .contains("service web is down (probes: web-http)"),
        "{}",
        job.handoff
    );
    assert!(job.handoff.contains("bad gateway"), "{}", job.handoff);

    let incidents = app.get("/api/v1/incidents").await;
    let incident = &incidents[0];
    assert_eq!(incidents.as_array().map(Vec::len), Some(1), "{incidents}");
    assert_eq!(incident["status"], "open");
    assert_eq!(incident["service"], "web");
    let incident_id = incident["id"].clone();
    eventually("the incident to name its session", || async {
        let list = app.get("/api/v1/incidents").await;
        (list[0]["session_id"] == job.session_id).then_some(())
    })
    .await;
    let opened = app.events("level=critical&service=web").await;
    assert!(
        opened.iter().any(|e| e["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("incident #") && m.contains("opened: web is down"))),
        "{opened:?}"
    );

    // The model says it fixed it; that alone closes nothing.
    worker
        .finish(
            job.session_id,
            0,
            0.05,
            &no_escalation("restarted web; it answers 200"),
        )
        .await;
    let reprobe = worker
        .expect("a reprobe", |body| match body {
            control_message::Body::Reprobe(r) => Some(r),
            _ => None,
        })
        .await;
    assert_eq!(reprobe.probes, ["web-http"]);
    let open = app.get("/api/v1/incidents?status=open").await;
    assert_eq!(
        open.as_array().map(Vec::len),
        Some(1),
        "still open before the re-run: {open}"
    );

    worker
        .send(worker_message::Body::ReprobeResult(pb::ReprobeResult {
            request_id: reprobe.request_id,
            results: vec![attempt("web-http", true, pb::ProbeState::Up)],
            unknown: Vec::new(),
        }))
        .await;
    let resolved = eventually("the incident to be verified fixed", || async {
        let list = app.get("/api/v1/incidents").await;
        (list[0]["status"] == "resolved").then(|| list[0].clone())
    })
    .await;
    assert_eq!(resolved["id"], incident_id);
    assert_eq!(resolved["resolution"], "verified_fixed");
    assert!(resolved["resolved_at"].is_string());
    let fixed = app.events("level=info&service=web").await;
    assert!(
        fixed.iter().any(|e| e["message"]
            .as_str()
            .is_some_and(|m| m.contains("verified fixed: re-ran web-http"))),
        "{fixed:?}"
    );
    assert_eq!(app.session_count().await, 1, "no further session");
    assert!(
        store
            .running_sessions()
            .await
            .unwrap_or_default()
            .is_empty()
    );
}
