//! Render tests of the health, incidents, inventory and notifications pages.

use claudeops_web_ui::*;

const TOKEN: &str = "csrf-TOKEN-123";
const NOW_MS: i64 = 1_771_178_775_000;
const MINUTE_MS: i64 = 60_000;

fn ui() -> Ui {
    Ui::new().expect("templates parse")
}

fn layout(nav: Nav) -> Layout {
    Layout::logged_in("0.1.0", TOKEN, nav)
}

fn assert_in_order(html: &str, needles: &[&str]) {
    let mut from = 0;
    for needle in needles {
        match html[from..].find(needle) {
            Some(i) => from += i + needle.len(),
            None => panic!("{needle:?} missing or out of order"),
        }
    }
}

fn incident(id: i64, status: &str, resolution: Option<&str>) -> IncidentView {
    IncidentView {
        id,
        site: "home-lab".into(),
        service: "sonarr".into(),
        status: status.into(),
        resolution: resolution.map(Into::into),
        probes: vec!["sonarr-health".into()],
        evidence: "HTTP 502 <b>Bad Gateway</b>".into(),
        opened_at_ms: NOW_MS - id * MINUTE_MS,
        resolved_at_ms: resolution.map(|_| NOW_MS - MINUTE_MS / 2),
        session_id: Some(40 + id),
        acknowledged_by: (id == 8).then(|| "alice".to_owned()),
    }
}

fn probe(site: &str, service: &str, name: &str, state: &str, history: &[(i64, bool)]) -> ProbeView {
    ProbeView {
        site: site.into(),
        name: name.into(),
        service: service.into(),
        kind: "http".into(),
        state: state.into(),
        ok: history.last().is_none_or(|h| h.1),
        latency_ms: history.last().map_or(0, |h| h.0),
        message: format!("{name}: <i>status</i> 200"),
        last_at_ms: NOW_MS - 5_000,
        since_ms: NOW_MS - 5 * MINUTE_MS,
        from_dashboard: name == "jellyfin-tcp",
        history: history
            .iter()
            .enumerate()
            .map(|(i, &(latency_ms, ok))| HistoryView {
                at_ms: NOW_MS - (history.len() - i) as i64 * MINUTE_MS,
                latency_ms,
                ok,
            })
            .collect(),
    }
}

fn health_page() -> HealthPage {
    HealthPage {
        layout: layout(Nav::Health),
        now_ms: NOW_MS,
        open_incidents: vec![incident(7, "open", None)],
        probes: vec![
            probe(
                "home-lab",
                "sonarr",
                "sonarr-health",
                "down",
                &[(12, true), (30, false), (0, false)],
            ),
            probe(
                "home-lab",
                "jellyfin",
                "jellyfin-http",
                "up",
                &[(20, true), (40, true)],
            ),
            probe("home-lab", "jellyfin", "jellyfin-tcp", "unknown", &[]),
            probe("cabin", "nas", "nas-smb", "up", &[(5, true)]),
        ],
    }
}

#[test]
fn health_page_groups_probes_and_draws_sparklines() {
    let html = ui().health(&health_page()).expect("render");
    // A probe added from the dashboard says so and links to its site's probes.
    assert_eq!(
        html.matches(r#"class="badge source-dashboard""#).count(),
        1,
        "{html}"
    );
    assert!(html.contains(r#"href="/sites/home-lab/probes""#), "{html}");
    assert!(
        html.contains(
            r#"<a href="/health" class="nav-health active" aria-current="page">Health</a>"#
        )
    );
    // The open incident comes first, linking its session.
    assert_in_order(
        &html,
        &[
            "Open incidents",
            "#7",
            r#"<a href="/sessions/47">#47</a>"#,
            "cabin",
            "home-lab",
        ],
    );
    // Sites, then services, then probes, in order; one badge per state.
    assert_in_order(
        &html,
        &[
            "cabin",
            "nas-smb",
            "home-lab",
            "jellyfin",
            "jellyfin-http",
            "jellyfin-tcp",
            "sonarr",
            "sonarr-health",
        ],
    );
    assert!(html.contains(r#"<span class="badge probe-down">&#9888; down</span>"#));
    assert!(html.contains(r#"<span class="badge probe-up">&#9679; up</span>"#));
    assert!(html.contains(r#"<span class="badge probe-unknown">? unknown</span>"#));
    assert!(html.contains(r#"<span class="badge probe-up">2 up</span>"#));
    assert!(html.contains(r#"<span class="badge probe-down">1 down</span>"#));
    // A sparkline per probe with history; failed attempts as red marks.
    assert_eq!(html.matches(r#"<svg class="spark""#).count(), 3);
    assert!(
        html.contains(r#"<polyline class="spark-line" points="2.5,13.9 60.0,2.5 117.5,21.5">"#)
    );
    assert_eq!(html.matches(r#"<circle class="spark-fail""#).count(), 2);
    assert!(html.contains(r#"<circle class="spark-fail" cx="60.0" cy="2.5" r="2.5">"#));
    assert!(html.contains("2 failed"));
    // A probe without history has none; the service with a down probe is marked.
    assert!(html.contains(r#"<tbody class="health-service service-down">"#));
    assert!(html.contains(r#"<tbody class="health-service service-unknown">"#));
    assert!(html.contains("5m 00s ago"));
    // Last message, escaped.
    assert!(html.contains("sonarr-health: &lt;i&gt;status&lt;&#x2f;i&gt; 200"));
    assert!(!html.contains("<i>status"));
    assert!(!html.contains("<b>Bad"));
    assert!(html.contains(r#"href="/sites/home-lab/inventory""#));
}

#[test]
fn health_page_without_probes_or_incidents() {
    let page = HealthPage {
        layout: layout(Nav::Health),
        ..HealthPage::default()
    };
    let html = ui().health(&page).expect("render");
    assert!(html.contains("No open incidents"));
    assert!(html.contains("No probe has reported yet"));
    assert!(!html.contains("<svg"));
}

#[test]
fn incidents_page_lists_newest_first_with_resolution_evidence_and_paging() {
    let page = IncidentsPage {
        layout: layout(Nav::Incidents),
        now_ms: NOW_MS,
        incidents: vec![
            incident(9, "resolved", Some("verified_fixed")),
            incident(3, "open", None),
            incident(12, "resolved", Some("recovered")),
        ],
        paging: Paging {
            offset: 50,
            limit: 50,
            total: None,
            has_more: true,
        },
    };
    let html = ui().incidents(&page).expect("render");
    assert!(html.contains(r#"class="nav-incidents active""#));
    // Newest opened first: #3 opened 3 minutes ago, #12 twelve.
    assert_in_order(&html, &[">#3<", ">#9<", ">#12<"]);
    assert!(
        html.contains(
            r#"<span class="resolution resolution-verified_fixed">verified fixed</span>"#
        )
    );
    assert!(html.contains(">recovered</span>"));
    assert!(!html.contains(">verified_fixed<"));
    assert!(html.contains(r#"<span class="badge incident-open">&#9888; open</span>"#));
    assert!(html.contains(r#"<a href="/sessions/43">#43</a>"#));
    assert!(html.contains(
        r#"<a class="tag mono" href="/probes/home-lab/sonarr-health">sonarr-health</a>"#
    ));
    // Evidence folded, escaped.
    assert_in_order(
        &html,
        &[
            r#"<details class="args evidence">"#,
            "<summary>evidence</summary>",
            "<pre>HTTP 502 &lt;b&gt;Bad Gateway&lt;&#x2f;b&gt;</pre>",
        ],
    );
    // Paging.
    assert!(html.contains(r#"href="/incidents?offset=0&amp;limit=50">&larr; Newer</a>"#));
    assert!(html.contains(r#"href="/incidents?offset=100&amp;limit=50">Older &rarr;</a>"#));

    let empty = IncidentsPage {
        layout: layout(Nav::Incidents),
        ..IncidentsPage::default()
    };
    let html = ui().incidents(&empty).expect("render");
    assert!(html.contains("No incidents yet"));
    assert!(!html.contains(r#"class="pager""#));
}

fn inventory_page() -> InventoryPage {
    InventoryPage {
        layout: layout(Nav::Sites),
        now_ms: NOW_MS,
        site: "home-lab".into(),
        workers: vec![WorkerInventoryView {
            worker_id: "wrk-7f3a".into(),
            reported_at_ms: NOW_MS - 2 * MINUTE_MS,
            unreadable: None,
            problems: vec![
                ProblemView {
                    path: "broken/.claude-ops/mcp.json".into(),
                    line: Some(12),
                    message: "expected `,` <or> `}`".into(),
                },
                ProblemView {
                    path: "container:web".into(),
                    line: None,
                    message: "bad label claudeops.probe.url".into(),
                },
            ],
            repos: vec![RepoView {
                name: "infra".into(),
                path: "/repos/infra".into(),
                has_manifest: true,
                title: Some("Home infra".into()),
                kind: Some("Ansible infrastructure".into()),
                checks: vec!["Disk space".into()],
                playbooks: vec![PlaybookView {
                    file: "restart-arr.md".into(),
                    title: "Restart the arr stack".into(),
                    min_tier: 2,
                }],
                skills: vec!["backup-check".into()],
                mcp_servers: vec!["grafana".into()],
                probe_files: vec!["web.yaml".into()],
                compose_files: vec![ComposeFileView {
                    path: "media/compose.yaml".into(),
                    project: "media".into(),
                    services: vec!["sonarr".into(), "radarr".into()],
                }],
            }],
            services: vec![InventoryServiceView {
                name: "sonarr".into(),
                host: Some("nas".into()),
                project: Some("media".into()),
                url: Some("http://sonarr:8989".into()),
                image: Some("linuxserver/sonarr".into()),
                ports: vec!["8989:8989/tcp".into()],
                healthcheck: true,
                containers: vec!["media-sonarr-1 (running)".into()],
                sources: vec!["infra/media/compose.yaml:14".into()],
                probes_disabled: false,
            }],
            probes: vec![InventoryProbeView {
                name: "sonarr-health".into(),
                service: "sonarr".into(),
                url: "tcp://sonarr:8989".into(),
                source: "infra/.claude-ops/probes/web.yaml:3".into(),
            }],
        }],
    }
}

#[test]
fn inventory_page_shows_problems_with_file_and_line_first() {
    let html = ui().inventory(&inventory_page()).expect("render");
    assert!(html.contains(r#"class="nav-sites active""#));
    assert!(html.contains("2 problems"));
    // Problems come before everything else, each with its file and line.
    assert_in_order(
        &html,
        &[
            "Problems",
            "mcp.json:12",
            "container:web",
            "Repos",
            "Services",
            "Probes",
        ],
    );
    assert!(html.contains(
        "<code class=\"problem-where\">broken&#x2f;.claude-ops&#x2f;mcp.json:12</code> expected `,` &lt;or&gt; `}`"
    ));
    assert!(html.contains("<code class=\"problem-where\">container:web</code> bad label"));
    // Repos with their checks, playbooks and min tier, skills and MCP servers.
    assert_in_order(
        &html,
        &[
            "infra",
            "Home infra",
            "Disk space",
            "Restart the arr stack <strong>&ge; 2</strong>",
            "backup-check",
            "grafana",
            "media&#x2f;compose.yaml",
            "sonarr, radarr",
        ],
    );
    // Services and probes with their source file and line.
    assert_in_order(
        &html,
        &[
            "media-sonarr-1 (running)",
            "infra&#x2f;media&#x2f;compose.yaml:14",
        ],
    );
    assert_in_order(
        &html,
        &[
            "sonarr-health",
            "tcp:&#x2f;&#x2f;sonarr:8989",
            "infra&#x2f;.claude-ops&#x2f;probes&#x2f;web.yaml:3",
        ],
    );
}

#[test]
fn inventory_page_without_reports_or_with_an_unreadable_one() {
    let mut page = inventory_page();
    page.workers[0].unreadable = Some("not <json>".into());
    let html = ui().inventory(&page).expect("render");
    assert!(html.contains("could not be read: not &lt;json&gt;"));
    assert!(!html.contains("Repos"));
    page.workers.clear();
    let html = ui().inventory(&page).expect("render");
    assert!(html.contains("No worker of this site has reported an inventory yet"));
}

/// A URL the page is never given, except as its position.
const SECRET_URL: &str = "tgram://123456:SECRETtoken@987654";

fn notifications_page(enabled: bool) -> NotificationsPage {
    let delivery = |i: u32, ok: bool| DeliveryView {
        notification_id: format!("n-{i}"),
        kind: "incident_opened".into(),
        title: "sonarr is down on home-lab".into(),
        sites: vec!["home-lab".into()],
        url_index: i,
        attempt: if ok { 1 } else { 3 },
        ok,
        error: (!ok).then(|| "HTTP 401 from <redacted>".into()),
        at_ms: NOW_MS - i64::from(i) * MINUTE_MS,
    };
    NotificationsPage {
        layout: layout(Nav::Notifications),
        now_ms: NOW_MS,
        enabled,
        url_count: if enabled { 2 } else { 0 },
        deliveries: vec![delivery(1, true), delivery(2, false)],
        paging: Paging {
            offset: 0,
            limit: 50,
            total: None,
            has_more: true,
        },
    }
}

#[test]
fn notifications_page_lists_deliveries_by_url_index_and_has_a_test_button() {
    let mut page = notifications_page(true);
    page.layout = page.layout.with_flash(
        FlashLevel::Warning,
        "Test notification: #1 delivered; #2 failed (timeout).",
    );
    let html = ui().notifications(&page).expect("render");
    assert!(html.contains(r#"class="nav-notifications active""#));
    // The test button: a POST form with the CSRF field.
    let form_at = html
        .find(r#"<form method="post" action="/notifications/test""#)
        .expect("test form");
    let form = &html[form_at..form_at + html[form_at..].find("</form>").expect("end")];
    assert!(form.contains(&format!(
        r#"<input type="hidden" name="csrf" value="{TOKEN}">"#
    )));
    assert!(form.contains("Send a test notification"));
    // Deliveries: URL only as #index, attempt, result, error.
    assert_in_order(
        &html,
        &[
            "sonarr is down on home-lab",
            "incident_opened",
            "home-lab",
            "<td class=\"mono\">#1</td>",
            "&#10003; delivered",
            "<td class=\"mono\">#2</td>",
            ">3<",
            "failed",
            "HTTP 401 from &lt;redacted&gt;",
        ],
    );
    assert!(html.contains("2 URLs"));
    assert!(html.contains(r#"href="/notifications?offset=50&amp;limit=50">Older &rarr;</a>"#));
    // The flash with the outcome per URL.
    assert!(html.contains(r#"<div class="flash flash-warning" role="status">Test notification: #1 delivered; #2 failed (timeout).</div>"#));
    // No URL anywhere: not the configured one, not any scheme.
    assert!(!html.contains("tgram"));
    assert!(!html.contains("SECRETtoken"));
    assert!(!html.contains(SECRET_URL));
    assert!(!html.contains("://"));
}

#[test]
fn notifications_page_explains_how_to_turn_them_on() {
    let mut page = notifications_page(false);
    page.deliveries.clear();
    page.paging.has_more = false;
    let html = ui().notifications(&page).expect("render");
    assert!(html.contains("Notifications are <strong>off</strong>"));
    assert!(html.contains("<code>CLAUDEOPS_APPRISE_URLS</code>"));
    assert!(!html.contains("/notifications/test"));
    assert!(html.contains("Nothing delivered yet."));
}

#[test]
fn new_pages_have_the_new_nav_entries_and_no_inline_style() {
    let ui = ui();
    let pages = [
        ui.health(&health_page()).expect("health"),
        ui.incidents(&IncidentsPage::default()).expect("incidents"),
        ui.inventory(&inventory_page()).expect("inventory"),
        ui.notifications(&notifications_page(true))
            .expect("notifications"),
    ];
    for html in pages {
        for (href, label) in [
            ("/health", "Health"),
            ("/incidents", "Incidents"),
            ("/notifications", "Notifications"),
        ] {
            assert!(html.contains(&format!(r#"<a href="{href}""#)), "{href}");
            assert!(html.contains(&format!(">{label}</a>")), "{label}");
        }
        assert!(!html.contains(" style="));
        // Scripts only from files (the service worker's registration, and on
        // the pages that update themselves, live.js): no inline script.
        assert_eq!(
            html.matches("<script").count(),
            html.matches("<script src=\"/static/").count()
        );
        assert!(html.contains(r#"<script src="/static/pwa.js?v="#));
    }
}

#[test]
fn sites_page_links_each_site_inventory() {
    let page = SitesPage {
        layout: layout(Nav::Sites),
        sites: vec![SiteView {
            name: "home-lab".into(),
            ..SiteView::default()
        }],
        now_ms: NOW_MS,
    };
    let html = ui().sites(&page).expect("render");
    assert!(html.contains(r#"<a class="btn" href="/sites/home-lab/inventory">Inventory</a>"#));
}

fn memory(id: i64, service: Option<&str>, category: &str, confidence: f64, tier: u8) -> MemoryView {
    MemoryView {
        id,
        site: "home-lab".into(),
        service: service.map(str::to_owned),
        category: category.into(),
        observation: format!("observation {id}"),
        confidence,
        active: confidence >= 0.3,
        tier,
        session_id: (tier > 0).then_some(40 + id),
        created_at_ms: NOW_MS - 60 * MINUTE_MS,
        updated_at_ms: NOW_MS - MINUTE_MS,
    }
}

fn memories_page() -> MemoriesPage {
    let mut evil = memory(3, Some("web<svg onload=alert(2)>"), "timing", 0.2, 0);
    evil.observation = "fills <script>alert('m')</script> on Sundays".into();
    MemoriesPage {
        layout: layout(Nav::Memories),
        memories: vec![
            memory(1, Some("nginx"), "port", 0.9, 2),
            memory(2, None, "maintenance", 0.7, 1),
            evil,
        ],
        filter: MemoryFilterView {
            q: Some("disk & co".into()),
            site: Some("home-lab".into()),
            ..MemoryFilterView::default()
        },
        sites: vec!["home-lab".into(), "office".into()],
        form: MemoryForm::default(),
        editing: None,
        paging: Paging {
            offset: 0,
            limit: 50,
            total: None,
            has_more: true,
        },
        decay: Some("A memory unconfirmed for 30 days loses 0.1 a week.".into()),
    }
}

/// The HTML of each `<form ...>...</form>`.
fn forms(html: &str) -> Vec<&str> {
    html.match_indices("<form")
        .map(|(start, _)| {
            let end = html[start..]
                .find("</form>")
                .map_or(html.len(), |e| start + e + "</form>".len());
            &html[start..end]
        })
        .collect()
}

#[test]
fn memories_page_lists_memories_with_their_forms() {
    let html = ui().memories(&memories_page()).expect("render");
    assert!(html.contains(
        r#"<a href="/memories" class="nav-memories active" aria-current="page">Memories</a>"#
    ));
    assert_in_order(
        &html,
        &[
            "<h1>Memories</h1>",
            r#"role="search" aria-label="Search memories""#,
            "Add a memory",
            "<caption",
            r#"<th scope="col">Service</th>"#,
            r#"<th scope="row" class="id">#1</th>"#,
            ">nginx</a>",
            ">port</a>",
            "observation 1",
            "0.9",
            "tier 2",
            r#"<a href="/sessions/41">#41</a>"#,
            "#2",
            "site-wide",
            "maintenance",
            "#3",
            "inactive",
            "operator",
        ],
    );
    assert!(html.contains("A memory unconfirmed for 30 days loses 0.1 a week."));
    // Escaped everywhere.
    assert!(!html.contains("<script>alert"));
    assert!(!html.contains("<svg onload"));
    assert!(html.contains("fills &lt;script&gt;"));
    // The search is kept: in the form, the paging links and every POST's `back`.
    assert!(html.contains(r#"value="disk &amp; co""#));
    assert!(html.contains(r#"<option value="home-lab" selected>home-lab</option>"#));
    let back = r#"<input type="hidden" name="back" value="q=disk%20co&amp;site=home-lab&amp;">"#;
    let back = back.replace("%20co", "%20%26%20co");
    assert!(html.contains(&back), "{html}");
    assert!(html.contains("/memories?q=disk%20%26%20co&amp;site=home-lab&amp;offset=50"));
    // Every POST form carries the CSRF token; the search (GET) carries none.
    let csrf = format!(r#"<input type="hidden" name="csrf" value="{TOKEN}">"#);
    let forms = forms(&html);
    let posts: Vec<&&str> = forms
        .iter()
        .filter(|f| f.contains(r#"method="post""#))
        .collect();
    // Logout, add, then edit, (de)activate and delete for each of three memories.
    assert_eq!(posts.len(), 2 + 3 * 3);
    for form in &posts {
        assert!(form.contains(&csrf), "{form}");
    }
    for form in forms.iter().filter(|f| f.contains(r#"method="get""#)) {
        assert!(form.contains(r#"action="/memories""#) && !form.contains("csrf"));
    }
    for action in [
        r#"action="/memories""#,
        r#"action="/memories/1/update""#,
        r#"action="/memories/1/deactivate""#,
        r#"action="/memories/3/activate""#,
        r#"action="/memories/2/delete""#,
    ] {
        assert!(html.contains(action), "{action}");
    }
    // Every field has its label.
    for id in [
        "m-q",
        "add-site",
        "add-category",
        "add-observation",
        "add-confidence",
        "m1-observation",
        "m1-confidence",
    ] {
        assert!(html.contains(&format!(r#"for="{id}""#)), "{id}");
        assert!(html.contains(&format!(r#"id="{id}""#)), "{id}");
    }
    assert!(!html.contains(" style="));
}

#[test]
fn memories_page_keeps_a_refused_edit_open_and_asks_to_log_in() {
    let mut page = memories_page();
    page.editing = Some(MemoryEdit {
        id: 2,
        observation: "kept as typed".into(),
        confidence: "1.5".into(),
        active: false,
    });
    page.layout = page.layout.with_flash(
        FlashLevel::Error,
        "Memory #2 not saved: confidence must be from 0 to 1.",
    );
    let html = ui().memories(&page).expect("render");
    assert!(html.contains(r#"role="alert">Memory #2 not saved"#));
    let row = &html[html.find(r#"id="memory-2""#).expect("row 2")..];
    let row = &row[..row.find("</tr>").expect("row end")];
    assert!(
        row.contains(r#"<details class="edit-memory" open>"#),
        "{row}"
    );
    assert!(row.contains(">kept as typed</textarea>"));
    assert!(row.contains(r#"value="1.5""#));
    assert!(
        !html[html.find(r#"id="memory-1""#).expect("row 1")..]
            .starts_with(r#"<details class="edit-memory" open>"#)
    );

    let mut page = memories_page();
    page.layout = Layout::default();
    let html = ui().memories(&page).expect("render");
    assert!(
        html.contains(
            r#"<a href="/login">Log in</a> to add, edit, deactivate or delete memories."#
        )
    );
    assert!(
        !html.contains(r#"method="post""#),
        "no changes without a login"
    );
    assert!(html.contains("observation 1"));

    let empty = MemoriesPage::default();
    let html = ui().memories(&empty).expect("render");
    assert!(html.contains("No memories yet."));
}

#[test]
fn the_offline_page_is_the_shell_without_login_state() {
    let html = ui().offline("0.1.0").expect("render");
    assert!(html.contains(r#"<h1 id="offline-title">You are offline</h1>"#));
    assert!(html.contains(r#"<script src="/static/pwa.js?v="#));
    assert!(html.contains(r#"<link rel="manifest""#));
    assert!(html.contains(r#"<a href="/memories" class="nav-memories">Memories</a>"#));
    assert!(!html.contains("csrf"));
    assert!(!html.contains("Log out"));
    assert!(html.contains("data-reload"));
}

fn uptime(percent: Option<f64>) -> Vec<history::UptimeView> {
    ["24 hours", "7 days", "30 days"]
        .into_iter()
        .map(|w| history::UptimeView {
            window: w.into(),
            percent,
            attempts: if percent.is_some() { 100 } else { 0 },
        })
        .collect()
}

fn rollups(step_ms: i64, n: i64) -> Vec<history::RollupView> {
    (0..n)
        .map(|i| history::RollupView {
            start_ms: (NOW_MS / step_ms - n + 1 + i) * step_ms,
            attempts: 60,
            successes: if i == 3 { 50 } else { 60 },
            mean_ms: 40 + i,
            min_ms: 10,
            max_ms: 90 + i,
        })
        .collect()
}

#[test]
fn the_probe_page_draws_uptime_response_times_and_attempts() {
    let mut p = probe(
        "home-lab",
        "sonarr",
        "sonarr-tls",
        "up",
        &[(12, true), (30, false), (15, true)],
    );
    p.kind = "tls".into();
    let page = history::ProbePage {
        layout: layout(Nav::Health),
        now_ms: NOW_MS,
        probe: p,
        uptime: uptime(Some(99.8612)),
        hourly: rollups(3_600_000, 168),
        daily: rollups(86_400_000, 30),
        certificate_days_left: Some(9),
        incidents: vec![incident(7, "open", None)],
    };
    let html = ui().probe(&page).expect("probe page");
    assert_in_order(
        &html,
        &[
            "sonarr-tls",
            "9 days left",
            "99.86%",
            "30 days ago",
            "Response time over the last 7 days",
            "<polyline class=\"latency-line\"",
            "The latest 3 attempts: 2 passed, 1 failed.",
            "#7",
        ],
    );
    assert!(
        html.contains("&lt;i&gt;status&lt;&#x2f;i&gt;"),
        "the message is escaped"
    );
    assert!(!html.contains("style="), "no inline style");
    let empty = history::ProbePage {
        uptime: uptime(None),
        hourly: Vec::new(),
        daily: Vec::new(),
        certificate_days_left: None,
        ..page
    };
    let html = ui().probe(&empty).expect("probe page without history");
    assert!(html.contains("no data") && html.contains("No attempts in the last 7 days."));
}

#[test]
fn the_service_and_status_pages_render() {
    let p = probe(
        "home-lab",
        "sonarr",
        "sonarr-http",
        "down",
        &[(12, true), (30, false)],
    );
    let service = history::ServicePage {
        layout: layout(Nav::Health),
        now_ms: NOW_MS,
        site: "home-lab".into(),
        service: "sonarr".into(),
        state: "down".into(),
        uptime: uptime(Some(97.5)),
        daily: rollups(86_400_000, 30),
        probes: vec![history::ServiceProbe {
            probe: p,
            uptime: uptime(Some(97.5)),
        }],
        incidents: vec![incident(8, "open", None)],
    };
    let html = ui().service(&service).expect("service page");
    assert_in_order(
        &html,
        &[
            "sonarr",
            "97.50%",
            "href=\"/probes/home-lab/sonarr-http\"",
            "#8",
        ],
    );
    let status = history::StatusPage {
        version: "0.1.0".into(),
        title: "home".into(),
        now_ms: NOW_MS,
        state: "down".into(),
        services: vec![history::StatusService {
            name: "sonarr <x>".into(),
            state: "down".into(),
            since_ms: NOW_MS - 60_000,
            uptime: uptime(Some(97.5)),
            daily: rollups(86_400_000, 30),
        }],
        open_incidents: vec![("sonarr <x>".into(), NOW_MS - 60_000)],
    };
    let html = ui().status(&status).expect("status page");
    assert!(html.contains("Some services are down") && html.contains("sonarr &lt;x&gt;"));
    assert!(
        !html.contains("<nav") && !html.contains("csrf"),
        "no dashboard chrome"
    );
}

fn window(active: bool) -> MaintenanceView {
    MaintenanceView {
        id: 3,
        site: "home-lab".into(),
        service: Some("sonarr".into()),
        starts_at_ms: NOW_MS - MINUTE_MS,
        ends_at_ms: NOW_MS + 60 * MINUTE_MS,
        reason: "disk <swap>".into(),
        created_by: "alice".into(),
        active,
    }
}

#[test]
fn every_page_shows_the_maintenance_in_effect() {
    let mut layout = layout(Nav::Health);
    layout.maintenance = vec![window(true)];
    let page = HealthPage {
        layout,
        now_ms: NOW_MS,
        ..HealthPage::default()
    };
    let html = ui().health(&page).expect("health");
    assert_in_order(
        &html,
        &[
            "maintenance-banner",
            "home-lab / sonarr until",
            "disk &lt;swap&gt;",
            "href=\"/maintenance\"",
        ],
    );
    let html = ui().health(&health_page()).expect("health");
    assert!(!html.contains("maintenance-banner"));
    assert!(
        html.contains("href=\"/maintenance\""),
        "the nav links the page"
    );
}

#[test]
fn the_maintenance_page_lists_windows_and_keeps_a_refused_form() {
    let page = MaintenancePage {
        layout: layout(Nav::Maintenance),
        now_ms: NOW_MS,
        windows: vec![
            window(true),
            MaintenanceView {
                id: 4,
                active: false,
                service: None,
                ..window(false)
            },
        ],
        sites: vec!["home-lab".into()],
        form: MaintenanceForm {
            site: "home-lab".into(),
            duration: "forever".into(),
            reason: "typed <b>".into(),
            error: Some("Not started: duration: unknown unit".into()),
            ..MaintenanceForm::default()
        },
    };
    let html = ui().maintenance(&page).expect("maintenance");
    assert_in_order(
        &html,
        &[
            "#3",
            "in effect",
            "End now",
            "#4",
            "(every service)",
            "Cancel",
            "Not started: duration: unknown unit",
            "value=\"forever\"",
            "typed &lt;b&gt;",
        ],
    );
    assert!(html.contains(&format!(
        r#"<input type="hidden" name="csrf" value="{TOKEN}">"#
    )));
}

#[test]
fn the_incident_page_has_duration_timeline_and_acknowledge() {
    let mut open = incident(7, "open", None);
    open.evidence = "HTTP 502 <b>Bad Gateway</b>".into();
    let entry = |at_ms, kind: &str, text: &str, link: Option<&str>| TimelineEntry {
        at_ms,
        kind: kind.into(),
        text: text.into(),
        link: link.map(Into::into),
    };
    let page = IncidentPage {
        layout: layout(Nav::Incidents),
        now_ms: NOW_MS,
        incident: open.clone(),
        duration_ms: 7 * MINUTE_MS,
        timeline: vec![
            entry(
                NOW_MS - MINUTE_MS,
                "session",
                "session #47 started",
                Some("/sessions/47"),
            ),
            entry(
                NOW_MS - 7 * MINUTE_MS,
                "opened",
                "sonarr is down: sonarr-health",
                None,
            ),
        ],
        silenced_by: Some(window(true)),
    };
    let html = ui().incident(&page).expect("incident");
    assert_in_order(
        &html,
        &[
            "Incident #7",
            "Open for",
            "7m",
            "Under maintenance until",
            "action=\"/incidents/7/acknowledge\"",
            "sonarr is down",
            "href=\"&#x2f;sessions&#x2f;47\"",
            "HTTP 502 &lt;b&gt;",
        ],
    );
    let acked = IncidentPage {
        incident: IncidentView {
            acknowledged_by: Some("alice".into()),
            ..open
        },
        silenced_by: None,
        ..page
    };
    let html = ui().incident(&acked).expect("incident");
    assert!(html.contains("by alice") && !html.contains("/acknowledge\""));
}
