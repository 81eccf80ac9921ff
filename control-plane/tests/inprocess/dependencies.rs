//! A fault in a dependency is one incident, for the root: the services that
//! need it are shown as impacted (an event, no incident, no session), the
//! session's handoff has the dependency graph, and the session may act on the
//! incident's service and what it depends on, nothing else.

use claudeops_proto::v1::{self as pb, worker_message};

use crate::fake_worker::FakeWorker;
use crate::support::{TestApp, eventually};

fn down(service: &str) -> pb::ProbeResult {
    pb::ProbeResult {
        probe: format!("{service}-container"),
        service: service.to_owned(),
        kind: "docker".to_owned(),
        ok: false,
        latency_ms: 3,
        message: format!("container {service}: exited, exit code 0"),
        evidence: format!("container: {service}\nstate: exited"),
        at_ms: 1_000,
        state: pb::ProbeState::Down as i32,
    }
}

fn inventory() -> worker_message::Body {
    let json = serde_json::json!({
        "repos": [],
        "services": [
            {"name": "app", "sources": [], "healthcheck": true, "depends_on": ["cache"]},
            {"name": "cache", "sources": [], "healthcheck": true, "depends_on": ["db"]},
            {"name": "db", "sources": [], "healthcheck": true},
            {"name": "media", "sources": [], "healthcheck": false},
        ],
        "probes": [],
        "problems": [],
    });
    worker_message::Body::Inventory(pb::InventoryReport {
        inventory_json: json.to_string(),
    })
}

#[tokio::test]
async fn a_root_fault_is_one_incident_and_its_session_acts_only_within_its_scope() {
    let app = TestApp::with(|c| c.incident_tier = claudeops_core::Tier::Investigate).await;
    let mut worker = FakeWorker::connect_new(&app, "home").await;
    worker.send(inventory()).await;
    eventually("the inventory to be stored", || async {
        let inventory = app.get("/api/v1/sites/home/inventory").await;
        inventory.to_string().contains("cache").then_some(())
    })
    .await;

    // The chain app -> cache -> db fails from its root.
    worker
        .send(worker_message::Body::Probes(pb::ProbeReport {
            results: vec![down("app"), down("cache"), down("db")],
            complete_set: false,
            probe_names: Vec::new(),
        }))
        .await;
    let job = worker.run_job().await;
    assert_eq!(job.trigger, "incident");
    assert!(
        job.handoff.contains("service db is down"),
        "{}",
        job.handoff
    );
    assert!(
        job.handoff.contains("Dependencies around db")
            && job.handoff.contains("- cache depends on db")
            && job.handoff.contains("- app depends on cache"),
        "{}",
        job.handoff
    );
    let incidents = app.get("/api/v1/incidents").await;
    let services: Vec<&str> = incidents
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["service"].as_str())
        .collect();
    assert_eq!(services, ["db"], "{incidents}");
    for dependent in ["app", "cache"] {
        let shown = app
            .events(&format!("service={dependent}"))
            .await
            .into_iter()
            .any(|e| {
                e["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with(&format!("{dependent} is impacted")))
            });
        assert!(shown, "{dependent} is shown as impacted");
    }

    // The session: db is its to restart; media, and app (which depends on
    // db, not the other way round), are not.
    let id = job.session_id;
    let granted = worker.reserve(1, id, "restart", "db").await;
    assert!(granted.granted, "{granted:?}");
    for (n, service) in [(2, "media"), (3, "app")] {
        let refused = worker.reserve(n, id, "restart", service).await;
        assert!(!refused.granted, "{service}: {refused:?}");
        assert!(
            refused.reason.contains("outside this session's incident"),
            "{}",
            refused.reason
        );
    }
    let recorded = app.events("service=media").await.into_iter().any(|e| {
        e["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("out of scope:"))
    });
    assert!(recorded, "the refusal is in the audit trail");
}
