use std::time::Duration;

use super::*;
use crate::probe::{DnsQuery, ServiceApi, Source};

/// A report as the worker wrote it before the inventory moved into this crate
/// (discovery over `tests/fixtures/repos` with the `nas01` containers, trimmed).
const STORED: &str = include_str!("../../testdata/inventory.json");

fn stored() -> Inventory {
    Inventory::from_json(STORED).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn reads_a_stored_report() {
    let inv = stored();
    let names: Vec<&str> = inv.repos.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["ansible-home", "compose-media"]);
    let home = &inv.repos[0];
    let manifest = home.manifest.as_ref().unwrap_or_else(|| panic!("manifest"));
    assert_eq!(manifest.kind.as_deref(), Some("Ansible infrastructure"));
    assert_eq!(manifest.capabilities[1].min_tier, Some(3));
    assert_eq!(manifest.hosts[0].address.as_deref(), Some("192.0.2.5"));
    assert_eq!(manifest.services[0].expected_status, Some(200));
    assert_eq!(home.extensions.playbooks[0].min_tier, 2);
    assert_eq!(
        home.extensions.mcp_servers[0].transport,
        McpTransport::Stdio
    );
    assert_eq!(inv.repos[1].compose_files[1].project, "monitoring");

    let jellyfin = inv
        .services
        .iter()
        .find(|s| s.name == "jellyfin")
        .unwrap_or_else(|| panic!("jellyfin"));
    assert!(jellyfin.sources.contains(&Origin::Compose {
        path: "compose-media/docker-compose.yml".into(),
        line: 2,
    }));
    assert_eq!(jellyfin.ports[0].published, Some(7359));
    assert_eq!(jellyfin.containers[0].state, "running");
    assert!(inv.services.iter().any(|s| s.probes_disabled));

    let probe = |name: &str| {
        inv.probes
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    let dns = probe("pihole-dns");
    assert_eq!(
        dns.source,
        Source::File {
            path: "ansible-home/.claude-ops/probes/network.yaml".into(),
            line: 3,
        }
    );
    assert_eq!(
        dns.dns,
        Some(DnsQuery {
            query_name: "nas01.home.lan".into(),
            query_type: "A".into(),
        })
    );
    assert_eq!(dns.interval, Some(Duration::from_secs(60)));
    let sonarr = probe("sonarr-health");
    assert_eq!(
        sonarr.service_api,
        Some(ServiceApi {
            app: "sonarr".into(),
            api_key_env: Some("SONARR_API_KEY".into()),
        })
    );
    assert_eq!(sonarr.timeout, Some(Duration::from_secs(15)));
    assert_eq!(probe("postgres-main").failure_threshold, Some(2));
    assert_eq!(
        probe("ha-api").source,
        Source::Container {
            name: "homeassistant".into()
        }
    );

    assert_eq!(inv.problems[0].line, Some(6));
    assert_eq!(inv.problems.last().map(|p| p.line), Some(None));
}

#[test]
fn writes_what_it_read() {
    let json = stored().to_json().unwrap_or_else(|e| panic!("{e}"));
    let again: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
    let before: serde_json::Value = serde_json::from_str(STORED).unwrap_or_default();
    assert_eq!(again, before);
    assert!(
        again["repos"][0]["extensions"]["mcp_servers"][0]
            .get("config")
            .is_none(),
        "a server's definition stays on the worker"
    );
}

#[test]
fn missing_lists_read_as_empty_and_garbage_is_an_error() {
    assert_eq!(Inventory::from_json("{}").ok(), Some(Inventory::default()));
    let partial = Inventory::from_json(r#"{"problems": [{"path": "docker", "message": "m"}]}"#);
    assert_eq!(
        partial.ok().map(|i| i.problems),
        Some(vec![Problem::new("docker", None, "m")])
    );
    for bad in [
        "",
        "null",
        "3",
        r#"{"repos": 3}"#,
        r#"{"probes": [{"url": 1}]}"#,
    ] {
        assert!(Inventory::from_json(bad).is_err(), "{bad}");
    }
}
