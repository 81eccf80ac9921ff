//! Discovery over the fixture repos in `tests/fixtures/repos/` (shared with the
//! end-to-end tests) and a host's worth of containers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use claudeops_discovery::*;
use proptest::prelude::*;

fn fixtures() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/repos");
    dir.canonicalize()
        .unwrap_or_else(|e| panic!("fixtures at {}: {e}", dir.display()))
}

fn container(name: &str, state: &str, image: &str, labels: &[(&str, &str)]) -> ContainerInfo {
    ContainerInfo {
        name: format!("/{name}"),
        id: format!("{name}-id"),
        image: image.to_owned(),
        state: state.to_owned(),
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..ContainerInfo::default()
    }
}

fn port(private: u16, public: u16, protocol: &str) -> PublishedPort {
    PublishedPort {
        private,
        public: Some(public),
        protocol: protocol.to_owned(),
        ip: Some("0.0.0.0".to_owned()),
    }
}

/// What runs on nas01: the media stack (one service stopped, one opted out),
/// the uptime monitor under Compose v1 naming, and two stand-alone containers.
fn nas01() -> Vec<ContainerInfo> {
    let media = |service| {
        vec![
            (COMPOSE_PROJECT_LABEL, "media"),
            (COMPOSE_SERVICE_LABEL, service),
        ]
    };
    let mut jellyfin = container(
        "jellyfin",
        "running",
        "jellyfin/jellyfin:10.9.11",
        &media("jellyfin"),
    );
    jellyfin.has_healthcheck = true;
    jellyfin.ports = vec![port(8096, 8096, "tcp"), port(7359, 7359, "udp")];
    let mut sonarr_labels = media("sonarr");
    sonarr_labels.extend([
        (
            "claudeops.probe.sonarr-ping.url",
            "http://nas01.home.lan:8989/ping",
        ),
        (
            "claudeops.probe.sonarr-ping.conditions",
            "[STATUS] == 200; [RESPONSE_TIME] < 2s",
        ),
        ("claudeops.probe.sonarr-ping.interval", "1m"),
    ]);
    let mut sonarr = container(
        "media-sonarr-1",
        "running",
        "lscr.io/linuxserver/sonarr:4.0.10",
        &sonarr_labels,
    );
    sonarr.has_healthcheck = true;
    let qbit = container(
        "qbittorrent",
        "running",
        "lscr.io/linuxserver/qbittorrent:4.6.7",
        &media("qbittorrent"),
    );
    let recyclarr = container(
        "media-recyclarr-1",
        "exited",
        "ghcr.io/recyclarr/recyclarr:7.2",
        &media("recyclarr"),
    );
    let mut kuma = container(
        "monitoring_uptime-kuma_1",
        "running",
        "louislam/uptime-kuma:1.23.15",
        &[],
    );
    kuma.has_healthcheck = true;
    let ha = container(
        "homeassistant",
        "running",
        "ghcr.io/home-assistant/home-assistant:2024.11",
        &[
            ("claudeops.service", "home-assistant"),
            ("claudeops.probe.ha-api.url", "http://localhost:8123/api/"),
            ("claudeops.probe.ha-api.conditions", "[STATUS] == 401"),
            ("claudeops.probe.ha-api.interval", "2m"),
        ],
    );
    let watchtower = container(
        "watchtower",
        "running",
        "containrrr/watchtower:1.7.1",
        &[("claudeops.enable", "false")],
    );
    vec![watchtower, ha, kuma, recyclarr, qbit, sonarr, jellyfin]
}

fn on_nas01() -> Inventory {
    let options = Options {
        host: Some("nas01".to_owned()),
        ..Options::default()
    };
    discover_with(&fixtures(), &nas01(), &options)
}

fn file(path: &str, line: u32) -> Source {
    Source::File {
        path: path.to_owned(),
        line,
    }
}

fn from_container(name: &str) -> Source {
    Source::Container {
        name: name.to_owned(),
    }
}

/// A manifest service row: name, host, health URL, ports.
type RowView<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a [u16]);

#[test]
fn finds_the_repos_and_their_extensions() {
    let inv = on_nas01();
    let repos: Vec<(&str, bool)> = inv
        .repos
        .iter()
        .map(|r| (r.name.as_str(), r.has_manifest))
        .collect();
    assert_eq!(
        repos,
        [
            ("ansible-home", true),
            ("broken", true),
            ("compose-media", true),
            ("plain", false)
        ]
    );
    let [ansible, broken, media, plain] = &inv.repos[..] else {
        panic!("four repos")
    };
    assert_eq!(
        ansible.path,
        fixtures().join("ansible-home").display().to_string()
    );

    let m = ansible
        .manifest
        .as_ref()
        .unwrap_or_else(|| panic!("manifest"));
    assert_eq!(m.title.as_deref(), Some("Claude Ops Manifest"));
    assert_eq!(m.kind.as_deref(), Some("Ansible infrastructure"));
    let caps: Vec<(&str, Option<u8>, u32)> = m
        .capabilities
        .iter()
        .map(|c| (c.name.as_str(), c.min_tier, c.line))
        .collect();
    assert_eq!(
        caps,
        [
            ("service-discovery", None, 12),
            ("redeployment", Some(3), 14),
            ("backups", Some(1), 16)
        ]
    );
    let hosts: Vec<(&str, Option<&str>, Option<&str>, u32)> = m
        .hosts
        .iter()
        .map(|h| {
            (
                h.name.as_str(),
                h.address.as_deref(),
                h.user.as_deref(),
                h.line,
            )
        })
        .collect();
    assert_eq!(
        hosts,
        [
            ("nas01", Some("192.0.2.5"), Some("root"), 23),
            ("pve01", Some("192.0.2.2"), Some("root"), 24),
            ("pi01", Some("192.0.2.53"), Some("pi"), 25),
        ]
    );
    let rows: Vec<RowView> = m
        .services
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                s.host.as_deref(),
                s.health_url.as_deref(),
                &s.ports[..],
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "Jellyfin",
                Some("nas01"),
                Some("https://jellyfin.home.lan/health"),
                &[8096][..]
            ),
            (
                "Pi-hole",
                Some("pi01"),
                Some("http://pi01.home.lan/admin"),
                &[53, 80][..]
            ),
            (
                "Home Assistant",
                Some("pve01"),
                Some("https://ha.home.lan/manifest.json"),
                &[8123][..]
            ),
            (
                "Proxmox",
                Some("pve01"),
                Some("https://pve01.home.lan:8006"),
                &[8006][..]
            ),
            ("Restic REST", Some("nas01"), None, &[8000][..]),
        ]
    );
    assert_eq!(m.rules.len(), 4);
    assert_eq!(m.rules[0], "Never modify any files in this repo");

    let ext = &ansible.extensions;
    let checks: Vec<(&str, &str)> = ext
        .checks
        .iter()
        .map(|c| (c.file.as_str(), c.title.as_str()))
        .collect();
    assert_eq!(
        checks,
        [
            ("verify-backups.md", "Check: Backup Freshness"),
            ("zfs-pool.md", "Check: ZFS Pool Health")
        ]
    );
    let playbooks: Vec<(&str, u8)> = ext
        .playbooks
        .iter()
        .map(|p| (p.file.as_str(), p.min_tier))
        .collect();
    assert_eq!(
        playbooks,
        [("fix-media-perms.md", 2), ("redeploy-stack.md", 3)]
    );
    assert_eq!(ext.skills, ["prune-old-logs", "refresh-ssl-certs"]);
    let servers: Vec<(&str, McpTransport)> = ext
        .mcp_servers
        .iter()
        .map(|s| (s.name.as_str(), s.transport))
        .collect();
    assert_eq!(servers, [("ansible-inventory", McpTransport::Stdio)]);
    assert_eq!(
        ext.mcp_servers[0].config["env"]["INVENTORY_PATH"],
        "/repos/ansible-home/inventory/hosts.ini"
    );
    assert_eq!(ext.probe_files, ["apps.yml", "network.yaml"]);
    assert!(
        ansible.compose_files.is_empty(),
        "Ansible playbooks are not compose files"
    );

    // Compose files at the root and one level down; the archived one is too deep.
    let compose: Vec<(&str, &str, Vec<&str>)> = media
        .compose_files
        .iter()
        .map(|c| {
            (
                c.path.as_str(),
                c.project.as_str(),
                c.services.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        compose,
        [
            (
                "docker-compose.yml",
                "media",
                vec!["jellyfin", "sonarr", "prowlarr", "qbittorrent", "recyclarr"]
            ),
            ("monitoring/compose.yaml", "monitoring", vec!["uptime-kuma"]),
        ]
    );
    let deeper = Options {
        compose_depth: 3,
        ..Options::default()
    };
    let deep = discover_with(&fixtures(), &[], &deeper);
    assert_eq!(deep.repos[2].compose_files.len(), 3);
    assert_eq!(
        deep.repos[2].compose_files[0].path,
        "archive/2023/old-stack/docker-compose.yml"
    );

    assert!(plain.manifest.is_none());
    assert_eq!(plain.extensions, Extensions::default());
    assert!(plain.compose_files.is_empty());
    assert!(broken.has_manifest);
}

#[test]
fn derives_exactly_these_probes() {
    let inv = on_nas01();
    let got: Vec<(&str, &str, &str, &Source)> = inv
        .probes
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.service.as_str(),
                p.url.as_str(),
                &p.source,
            )
        })
        .collect();
    let want = [
        (
            "grafana-health",
            "grafana",
            "http://192.0.2.7:3000/api/health",
            file("broken/CLAUDE-OPS.md", 18),
        ),
        (
            "grafana-login",
            "grafana",
            "http://192.0.2.7:3000/login",
            file("broken/.claude-ops/probes/good.yml", 2),
        ),
        (
            "ha-api",
            "home-assistant",
            "http://localhost:8123/api/",
            from_container("homeassistant"),
        ),
        (
            "home-assistant-health",
            "Home Assistant",
            "https://ha.home.lan/manifest.json",
            file("ansible-home/CLAUDE-OPS.md", 33),
        ),
        (
            "homeassistant-container",
            "home-assistant",
            "docker://homeassistant",
            from_container("homeassistant"),
        ),
        (
            "jellyfin-container",
            "jellyfin",
            "docker://jellyfin",
            from_container("jellyfin"),
        ),
        (
            "jellyfin-health",
            "jellyfin",
            "https://jellyfin.home.lan/health",
            file("ansible-home/CLAUDE-OPS.md", 31),
        ),
        (
            "lab-ssh",
            "lab-ssh",
            "tcp://192.0.2.7:22",
            file("broken/.claude-ops/probes/unknown-field.yaml", 2),
        ),
        (
            "media-prowlarr-1-container",
            "prowlarr",
            "docker://media-prowlarr-1",
            file("compose-media/docker-compose.yml", 39),
        ),
        (
            "media-sonarr-1-container",
            "sonarr",
            "docker://media-sonarr-1",
            from_container("media-sonarr-1"),
        ),
        (
            "monitoring-uptime-kuma-1-container",
            "uptime-kuma",
            "docker://monitoring_uptime-kuma_1",
            from_container("monitoring_uptime-kuma_1"),
        ),
        (
            "nas-ssh",
            "nas01",
            "tcp://192.0.2.5:22",
            file("ansible-home/.claude-ops/probes/network.yaml", 13),
        ),
        (
            "pi-hole-health",
            "Pi-hole",
            "http://pi01.home.lan/admin",
            file("ansible-home/CLAUDE-OPS.md", 32),
        ),
        (
            "pihole-dns",
            "Pi-hole",
            "dns://192.0.2.53:53",
            file("ansible-home/.claude-ops/probes/network.yaml", 3),
        ),
        (
            "postgres-main",
            "postgres",
            "postgres://monitor@nas01.home.lan:5432/postgres",
            file("ansible-home/.claude-ops/probes/apps.yml", 13),
        ),
        (
            "proxmox-health",
            "Proxmox",
            "tls://pve01.home.lan:8006",
            file("ansible-home/.claude-ops/probes/network.yaml", 20),
        ),
        (
            "qbittorrent-container",
            "qbittorrent",
            "docker://qbittorrent",
            from_container("qbittorrent"),
        ),
        (
            "qbittorrent-health",
            "qbittorrent",
            "http://nas01.home.lan:8080",
            file("compose-media/CLAUDE-OPS.md", 23),
        ),
        (
            "sonarr-health",
            "sonarr",
            "http://nas01.home.lan:8989/api/v3/health",
            file("ansible-home/.claude-ops/probes/apps.yml", 2),
        ),
        (
            "sonarr-ping",
            "sonarr",
            "http://nas01.home.lan:8989/ping",
            from_container("media-sonarr-1"),
        ),
    ];
    let want: Vec<(&str, &str, &str, &Source)> = want
        .iter()
        .map(|(n, s, u, src)| (*n, *s, *u, src))
        .collect();
    assert_eq!(got, want);

    let by_name: BTreeMap<&str, &ProbeSpec> =
        inv.probes.iter().map(|p| (p.name.as_str(), p)).collect();
    let probe = |name: &str| {
        *by_name
            .get(name)
            .unwrap_or_else(|| panic!("no probe {name}"))
    };
    assert_eq!(probe("jellyfin-container").conditions, [RUNNING, HEALTHY]);
    assert_eq!(probe("qbittorrent-container").conditions, [RUNNING]);
    assert_eq!(probe("media-prowlarr-1-container").conditions, [RUNNING]);
    assert_eq!(
        probe("monitoring-uptime-kuma-1-container").conditions,
        [RUNNING, HEALTHY]
    );
    assert_eq!(probe("jellyfin-health").conditions, ["[STATUS] == 200"]);
    assert!(probe("pi-hole-health").conditions.is_empty());
    assert_eq!(
        probe("sonarr-ping").conditions,
        ["[STATUS] == 200", "[RESPONSE_TIME] < 2s"]
    );
    assert_eq!(probe("sonarr-ping").interval, Some(Duration::from_secs(60)));
    assert_eq!(probe("ha-api").interval, Some(Duration::from_secs(120)));
    let dns = probe("pihole-dns")
        .dns
        .as_ref()
        .unwrap_or_else(|| panic!("dns"));
    assert_eq!(
        (dns.query_name.as_str(), dns.query_type.as_str()),
        ("nas01.home.lan", "A")
    );
    let sonarr = probe("sonarr-health");
    assert_eq!(
        sonarr.service_api.as_ref().map(|a| a.app.as_str()),
        Some("sonarr")
    );
    assert_eq!(sonarr.timeout, Some(Duration::from_secs(15)));
    assert_eq!(probe("postgres-main").failure_threshold, Some(2));
}

#[test]
fn never_two_probes_for_one_container() {
    let inv = on_nas01();
    let targets: Vec<&str> = inv
        .probes
        .iter()
        .filter_map(|p| p.url.strip_prefix("docker://"))
        .collect();
    let unique: BTreeSet<&str> = targets.iter().copied().collect();
    assert_eq!(targets.len(), unique.len(), "{targets:?}");
    assert_eq!(
        unique.into_iter().collect::<Vec<_>>(),
        [
            "homeassistant",
            "jellyfin",
            "media-prowlarr-1",
            "media-sonarr-1",
            "monitoring_uptime-kuma_1",
            "qbittorrent"
        ]
    );
    // Opted out: watchtower by its own label, recyclarr by its compose file's.
    let names: Vec<&str> = inv.probes.iter().map(|p| p.name.as_str()).collect();
    assert!(
        !names
            .iter()
            .any(|n| n.contains("watchtower") || n.contains("recyclarr"))
    );

    // Without containers each compose service gets the probe of the container
    // Compose would create, and nothing else does.
    let bare = discover(&fixtures(), &[]);
    let targets: Vec<&str> = bare
        .probes
        .iter()
        .filter_map(|p| p.url.strip_prefix("docker://"))
        .collect();
    assert_eq!(
        targets,
        [
            "jellyfin",
            "media-prowlarr-1",
            "media-sonarr-1",
            "monitoring-uptime-kuma-1",
            "qbittorrent"
        ]
    );
    assert!(bare.probes.iter().any(
        |p| p.name == "sonarr-ping" && p.source == file("compose-media/docker-compose.yml", 19)
    ));
}

type ServiceRow<'a> = (
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Vec<&'a str>,
    usize,
    bool,
);

#[test]
fn joins_services_from_every_source() {
    let inv = on_nas01();
    let got: Vec<ServiceRow> = inv
        .services
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                s.host.as_deref(),
                s.project.as_deref(),
                s.containers.iter().map(|c| c.name.as_str()).collect(),
                s.sources.len(),
                s.probes_disabled,
            )
        })
        .collect();
    let want: Vec<ServiceRow> = vec![
        ("grafana", Some("lab01"), None, vec![], 1, false),
        ("Home Assistant", Some("pve01"), None, vec![], 1, false),
        (
            "home-assistant",
            Some("nas01"),
            None,
            vec!["homeassistant"],
            1,
            false,
        ),
        (
            "jellyfin",
            Some("nas01"),
            Some("media"),
            vec!["jellyfin"],
            4,
            false,
        ),
        ("Pi-hole", Some("pi01"), None, vec![], 1, false),
        ("prometheus", Some("lab01"), None, vec![], 1, false),
        ("prowlarr", Some("nas01"), Some("media"), vec![], 1, false),
        ("Proxmox", Some("pve01"), None, vec![], 1, false),
        (
            "qbittorrent",
            Some("nas01"),
            Some("media"),
            vec!["qbittorrent"],
            3,
            false,
        ),
        (
            "recyclarr",
            Some("nas01"),
            Some("media"),
            vec!["media-recyclarr-1"],
            2,
            true,
        ),
        ("Restic REST", Some("nas01"), None, vec![], 1, false),
        (
            "sonarr",
            Some("nas01"),
            Some("media"),
            vec!["media-sonarr-1"],
            3,
            false,
        ),
        (
            "uptime-kuma",
            Some("nas01"),
            Some("monitoring"),
            vec!["monitoring_uptime-kuma_1"],
            2,
            false,
        ),
        (
            "watchtower",
            Some("nas01"),
            None,
            vec!["watchtower"],
            1,
            true,
        ),
    ];
    assert_eq!(got, want);

    let jellyfin = &inv.services[3];
    assert_eq!(
        jellyfin.sources,
        [
            Origin::Manifest {
                path: "ansible-home/CLAUDE-OPS.md".into(),
                line: 31
            },
            Origin::Manifest {
                path: "compose-media/CLAUDE-OPS.md".into(),
                line: 21
            },
            Origin::Compose {
                path: "compose-media/docker-compose.yml".into(),
                line: 2
            },
            Origin::Container {
                name: "jellyfin".into()
            },
        ]
    );
    assert_eq!(jellyfin.url.as_deref(), Some("https://jellyfin.home.lan"));
    assert_eq!(jellyfin.image.as_deref(), Some("jellyfin/jellyfin:10.9.11"));
    assert!(jellyfin.healthcheck);
    assert_eq!(
        jellyfin.healthcheck_test.as_deref(),
        Some("curl -fsS http://localhost:8096/health")
    );
    let ports: Vec<(Option<u16>, Option<u16>, &str)> = jellyfin
        .ports
        .iter()
        .map(|p| (p.published, p.target, p.protocol.as_str()))
        .collect();
    assert_eq!(
        ports,
        [
            (Some(7359), Some(7359), "udp"),
            (Some(8096), Some(8096), "tcp"),
            (Some(8920), Some(8920), "tcp")
        ]
    );
    assert_eq!(
        jellyfin.containers,
        [ContainerRef {
            name: "jellyfin".into(),
            id: "jellyfin-id".into(),
            state: "running".into()
        }]
    );
    let sonarr = &inv.services[11];
    assert_eq!(sonarr.depends_on, ["prowlarr", "qbittorrent"]);
    assert_eq!(
        sonarr.healthcheck_test.as_deref(),
        Some("curl -fsS http://localhost:8989/ping || exit 1")
    );

    // Without a host name, the manifest's Home Assistant row joins the container.
    let anywhere = discover(&fixtures(), &nas01());
    let ha: Vec<&Service> = anywhere
        .services
        .iter()
        .filter(|s| s.name.to_lowercase().starts_with("home"))
        .collect();
    assert_eq!(ha.len(), 1, "{ha:?}");
    assert_eq!(ha[0].host.as_deref(), Some("pve01"));
    assert_eq!(ha[0].sources.len(), 2);
}

#[test]
fn every_broken_file_is_a_problem_on_its_line() {
    let inv = on_nas01();
    let got: Vec<(&str, Option<u32>)> = inv
        .problems
        .iter()
        .map(|p| (p.path.as_str(), p.line))
        .collect();
    assert_eq!(
        got,
        [
            ("broken/.claude-ops/mcp.json", Some(6)),
            ("broken/.claude-ops/playbooks/bad-tier.md", Some(3)),
            ("broken/.claude-ops/probes/syntax.yaml", Some(5)),
            ("broken/.claude-ops/probes/unknown-field.yaml", Some(7)),
            ("broken/.claude-ops/probes/unknown-field.yaml", Some(11)),
            ("broken/.claude-ops/probes/unknown-field.yaml", Some(13)),
            ("broken/CLAUDE-OPS.md", Some(11)),
            ("broken/CLAUDE-OPS.md", Some(19)),
            ("broken/CLAUDE-OPS.md", Some(20)),
        ]
    );
    let messages: Vec<&str> = inv.problems.iter().map(|p| p.message.as_str()).collect();
    let expect = [
        "not a valid MCP config: trailing comma",
        "playbook tier `two` is not 1, 2 or 3",
        "not valid YAML: did not find expected ',' or ']'",
        "probes[1]: unknown field `retries`",
        "probes[2].interval: `every minute` is not a duration",
        "duplicate probe name `lab-ssh` (first defined at broken/.claude-ops/probes/unknown-field.yaml:2)",
        "table has no separator row",
        "table row has 5 cells but the header has 4",
        "service `prometheus`: health path `/-/healthy` has no base URL",
    ];
    for (message, prefix) in messages.iter().zip(expect) {
        assert!(
            message.starts_with(prefix),
            "{message:?} should start with {prefix:?}"
        );
    }
}

#[test]
fn the_good_parts_of_a_broken_repo_still_appear() {
    let inv = on_nas01();
    let broken = &inv.repos[1];
    assert_eq!(broken.name, "broken");
    let m = broken
        .manifest
        .as_ref()
        .unwrap_or_else(|| panic!("manifest"));
    assert_eq!(m.kind.as_deref(), Some("Docker Compose"));
    assert!(m.hosts.is_empty(), "the hosts table has no separator row");
    let rows: Vec<&str> = m.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(rows, ["grafana", "prometheus"]);
    assert_eq!(m.rules.len(), 1);
    let ext = &broken.extensions;
    let playbooks: Vec<(&str, u8)> = ext
        .playbooks
        .iter()
        .map(|p| (p.file.as_str(), p.min_tier))
        .collect();
    assert_eq!(playbooks, [("bad-tier.md", 3), ("restart-grafana.md", 2)]);
    assert_eq!(ext.checks.len(), 1);
    assert!(ext.mcp_servers.is_empty());
    assert_eq!(
        ext.probe_files,
        ["good.yml", "syntax.yaml", "unknown-field.yaml"]
    );
    let probes: Vec<&str> = inv
        .probes
        .iter()
        .filter(|p| matches!(&p.source, Source::File { path, .. } if path.starts_with("broken/")))
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(probes, ["grafana-health", "grafana-login", "lab-ssh"]);
}

#[test]
fn the_inventory_round_trips_as_json_in_a_fixed_order() {
    let inv = on_nas01();
    let json = serde_json::to_string(&inv).unwrap_or_else(|e| panic!("{e}"));
    let value: serde_json::Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        value["probes"][0]["source"],
        serde_json::json!({"kind": "file", "path": "broken/CLAUDE-OPS.md", "line": 18})
    );
    assert!(
        value["repos"][0]["extensions"]["mcp_servers"][0]
            .get("config")
            .is_none(),
        "env values stay on the worker"
    );
    let back: Inventory = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back.probes, inv.probes);
    assert_eq!(back.services, inv.services);
    assert_eq!(back.problems, inv.problems);
    assert_eq!(serde_json::to_string(&back).unwrap_or_default(), json);

    let mut shuffled = nas01();
    shuffled.reverse();
    let again = discover_with(
        &fixtures(),
        &shuffled,
        &Options {
            host: Some("nas01".to_owned()),
            ..Options::default()
        },
    );
    assert_eq!(serde_json::to_string(&again).unwrap_or_default(), json);
}

#[test]
fn odd_repos_directories_are_problems_not_failures() {
    let inv = discover(
        std::path::Path::new("/nonexistent/claudeops-repos"),
        &nas01(),
    );
    assert!(inv.repos.is_empty());
    assert_eq!(inv.problems.len(), 1);
    assert!(
        inv.problems[0]
            .message
            .starts_with("cannot list the repos directory")
    );
    // Without the compose file, recyclarr's opt-out is unknown: its container is probed.
    assert_eq!(
        inv.probes.len(),
        8,
        "container probes still come: {:?}",
        inv.probes
    );

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let repo = dir.path().join("odd");
    let ext = repo.join(".claude-ops/probes");
    std::fs::create_dir_all(&ext).unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(repo.join("CLAUDE-OPS.md")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(ext.join("latin1.yaml"), b"probes:\n  - name: caf\xe9\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let big = vec![b'#'; usize::try_from(MAX_FILE_BYTES).unwrap_or(0) + 1];
    std::fs::write(repo.join("docker-compose.yml"), big).unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(repo.join("loop")).unwrap_or_else(|e| panic!("{e}"));
    #[cfg(unix)]
    std::os::unix::fs::symlink(&repo, repo.join("loop/back")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(dir.path().join(".hidden")).unwrap_or_else(|e| panic!("{e}"));
    let inv = discover(dir.path(), &[]);
    assert_eq!(inv.repos.len(), 1);
    assert!(!inv.repos[0].has_manifest);
    let got: Vec<(&str, &str)> = inv
        .problems
        .iter()
        .map(|p| (p.path.as_str(), p.message.as_str()))
        .collect();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].0, "odd/.claude-ops/probes/latin1.yaml");
    assert!(got[0].1.contains("not UTF-8"));
    assert_eq!(got[1].0, "odd/docker-compose.yml");
    assert!(got[1].1.contains("over the 1048576-byte limit"));
}

/// Lines that look like the formats, mixed at random, plus arbitrary text.
fn garbage() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        Just("probes:".to_owned()),
        Just("services:".to_owned()),
        Just("  - name: a".to_owned()),
        Just("    url: http://x".to_owned()),
        Just("    interval: 5".to_owned()),
        Just("  web:".to_owned()),
        Just("    ports: [\"80:80\", 3]".to_owned()),
        Just("    healthcheck: {test: [NONE]}".to_owned()),
        Just("| Service | Health |".to_owned()),
        Just("|---|---|".to_owned()),
        Just("| a | /h |".to_owned()),
        Just("## Services".to_owned()),
        Just("- **cap**: Tier 2".to_owned()),
        Just("```".to_owned()),
        Just("{\"mcpServers\": {\"a\": {".to_owned()),
        Just("}}}".to_owned()),
        Just("**Tier**: 7".to_owned()),
        "\\PC{0,40}",
        "[ \t|:\\-\\[\\]{}\"'#*]{0,20}",
    ];
    prop::collection::vec(fragment, 0..30).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_parser_panics_on_garbage(text in garbage()) {
        let (_, problems) = parse::manifest(&text, "m.md");
        prop_assert!(problems.iter().all(|p| p.path == "m.md"));
        let (probes, _) = parse::probe_file(&text, "p.yaml");
        prop_assert!(probes.iter().all(|p| !p.name.is_empty()));
        let _ = parse::mcp(&text, "mcp.json");
        let _ = parse::compose(&text, "c.yml", "p");
        let _ = playbook_tier(&text);
    }

    #[test]
    fn no_parser_panics_on_any_text(text in "\\PC{0,300}") {
        let _ = parse::manifest(&text, "m.md");
        let _ = parse::probe_file(&text, "p.yaml");
        let _ = parse::mcp(&text, "mcp.json");
        let _ = parse::compose(&text, "c.yml", "p");
    }
}

#[test]
fn the_documented_probe_file_example_loads() {
    let doc = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/discovery.md"),
    )
    .unwrap_or_else(|e| panic!("docs/discovery.md: {e}"));
    let example = doc
        .split("```yaml\n")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .find(|block| block.starts_with("probes:"))
        .unwrap_or_else(|| panic!("no probe file example"));
    let (probes, problems) = parse::probe_file(example, "example.yaml");
    assert!(problems.is_empty(), "{problems:?}");
    let names: Vec<&str> = probes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "jellyfin-web",
            "sonarr-health",
            "pihole-dns",
            "nas-ssh",
            "proxmox-cert",
            "postgres-main",
            "backup-job"
        ]
    );
    assert_eq!(probes[0].failure_threshold, Some(3));
    assert_eq!(probes[0].source, file("example.yaml", 2));
}
