//! Renders every page from a filled view model and checks what must hold on all of
//! them: key content, escaping of user text, the CSRF field in every POST form, no
//! external URLs, no inline scripts, and a session script that never writes markup.

mod common;

use std::path::Path;

use claudeops_web_ui::*;
use common::*;

fn ui() -> Ui {
    Ui::new().expect("templates parse")
}

/// Every page, rendered from the shared fixtures.
fn all_pages() -> Vec<(&'static str, String)> {
    let ui = ui();
    vec![
        ("login", ui.login(&login_page()).expect("login")),
        ("sessions", ui.sessions(&sessions_page()).expect("sessions")),
        (
            "session-running",
            ui.session(&session_page(true)).expect("session"),
        ),
        (
            "session-finished",
            ui.session(&session_page(false)).expect("session"),
        ),
        ("sites", ui.sites(&sites_page()).expect("sites")),
        ("run_now", ui.run_now(&run_now_page()).expect("run now")),
        ("error", ui.error(&error_page()).expect("error")),
        ("overview", ui.overview(&overview_page()).expect("overview")),
        ("events", ui.events(&events_page()).expect("events")),
        (
            "cooldowns",
            ui.cooldowns(&cooldowns_page()).expect("cooldowns"),
        ),
    ]
}

fn page(name: &str) -> String {
    all_pages()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, html)| html)
        .expect(name)
}

/// The HTML of each `<form ...>...</form>` in a page.
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

fn assert_in_order(html: &str, needles: &[&str]) {
    let mut from = 0;
    for needle in needles {
        match html[from..].find(needle) {
            Some(i) => from += i + needle.len(),
            None => panic!("{needle:?} missing or out of order"),
        }
    }
}

#[test]
fn every_post_form_carries_the_csrf_token() {
    let field = format!(r#"<input type="hidden" name="csrf" value="{TOKEN}">"#);
    let mut posts = 0;
    for (name, html) in all_pages() {
        for form in forms(&html) {
            if form.contains(r#"method="post""#) {
                posts += 1;
                assert!(
                    form.contains(&field),
                    "{name}: POST form without csrf:\n{form}"
                );
            }
            if form.contains(r#"method="get""#) {
                // Only the events filter reads by GET; a token there would land in
                // the URL (history, logs, Referer).
                assert!(
                    form.contains(r#"action="/events""#),
                    "{name}: GET form:\n{form}"
                );
                assert!(
                    !form.contains(r#"name="csrf""#),
                    "{name}: CSRF token in a GET form"
                );
            }
        }
    }
    // logout on 9 logged-in pages, stop, 2 per site x 2 sites on the sites page, run
    // now, login, Run Now x 2 sites on the overview.
    assert!(posts >= 17, "only {posts} POST forms seen");
}

#[test]
fn new_pages_carry_the_csrf_token_in_every_post_form() {
    let field = format!(r#"<input type="hidden" name="csrf" value="{TOKEN}">"#);
    for name in ["overview", "events", "cooldowns", "session-finished"] {
        let html = page(name);
        let posts: Vec<&str> = forms(&html)
            .into_iter()
            .filter(|f| f.contains(r#"method="post""#))
            .collect();
        assert!(!posts.is_empty(), "{name}: no POST form (not even logout)");
        for form in posts {
            assert!(
                form.contains(&field),
                "{name}: POST form without csrf:\n{form}"
            );
        }
    }
    // Logout plus one Run Now per site.
    let overview = page("overview");
    let posts = forms(&overview)
        .into_iter()
        .filter(|f| f.contains(r#"method="post""#))
        .count();
    assert_eq!(posts, 3);
}

#[test]
fn csrf_field_is_present_but_empty_without_a_token() {
    let mut page = run_now_page();
    page.layout.csrf_token = None;
    let html = ui().run_now(&page).expect("render");
    assert!(html.contains(r#"<input type="hidden" name="csrf" value="">"#));
}

#[test]
fn user_text_is_escaped_everywhere() {
    for (name, html) in all_pages() {
        for bad in [
            "<script>alert",
            "<b>boom",
            "<i>x</i>",
            "<i>flash",
            "<img src=x",
            "<here>",
            "<svg",
            "<iframe",
            "<u>",
        ] {
            assert!(!html.contains(bad), "{name}: unescaped {bad:?}");
        }
    }
    let pages = all_pages();
    let get = |n: &str| &pages.iter().find(|(name, _)| *name == n).expect(n).1;
    let escaped_prompt =
        "Check &lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2f;script&gt; &amp; &quot;friends&quot;";
    assert!(get("session-running").contains(escaped_prompt));
    assert!(get("run_now").contains(escaped_prompt));
    assert!(get("session-finished").contains("worker lost: &lt;b&gt;boom&lt;&#x2f;b&gt;"));
    assert!(get("sites").contains("nas&quot;&gt;&lt;i&gt;x&lt;&#x2f;i&gt;"));
    assert!(get("session-finished").contains("not json &lt;img src=x onerror=alert(1)&gt;"));
    assert!(get("error").contains("&lt;i&gt;flash&lt;&#x2f;i&gt;"));
    // The browser card: a page's title in an answer is text, each outcome named.
    let finished = get("session-finished");
    assert!(finished.contains("Browser actions"));
    assert!(
        finished.contains("opened; the page is now &lt;script&gt;alert(3)&lt;&#x2f;script&gt;")
    );
    for outcome in ["<td>ok</td>", "<td>refused</td>", "<td>pending</td>"] {
        assert!(finished.contains(outcome), "{outcome}");
    }

    let message = "disk full &lt;script&gt;alert(&#x27;event&#x27;)&lt;&#x2f;script&gt;";
    let service = "web&lt;svg onload=alert(2)&gt;";
    let result = "exit 1: &lt;iframe src=x&gt;&lt;&#x2f;iframe&gt;";
    let summary = "Sonarr restarted &lt;u&gt;twice&lt;&#x2f;u&gt;; queue moving again.";
    for name in ["events", "overview"] {
        assert!(get(name).contains(message), "{name}: event message");
        assert!(get(name).contains(service), "{name}: service");
    }
    for name in ["cooldowns", "session-finished"] {
        assert!(get(name).contains(result), "{name}: action result");
        assert!(get(name).contains(service), "{name}: action service");
    }
    assert!(get("overview").contains(summary));
    assert!(get("session-finished").contains(summary));
    // In a URL the service is percent-encoded, then HTML-escaped (nothing left to do).
    assert!(
        get("events").contains(r#"href="/events?service=web%3Csvg%20onload%3Dalert%282%29%3E""#)
    );
}

#[test]
fn layout_has_navigation_run_now_version_and_login_state() {
    for (name, html) in all_pages() {
        assert!(html.starts_with("<!doctype html>"), "{name}");
        for (href, label) in [
            ("/", "Overview"),
            ("/sessions", "Sessions"),
            ("/sites", "Sites"),
            ("/events", "Events"),
            ("/cooldowns", "Cooldowns"),
            ("/config", "Config"),
        ] {
            assert!(
                html.contains(&format!(r#"<a href="{href}""#)),
                "{name}: {href}"
            );
            assert!(html.contains(&format!(">{label}</a>")), "{name}: {label}");
        }
        assert!(html.contains(r#"class="run-now"#) && html.contains(r#"href="/run""#));
        assert!(html.contains("Claude Ops"), "{name}");
        assert!(html.contains("v0.1.0"), "{name}");
        assert!(html.contains(r#"<link rel="manifest" href="/static/manifest.webmanifest"#));
        if name == "login" {
            assert!(html.contains(r#"<a href="/login" class="login-link">Log in</a>"#));
            assert!(!html.contains(r#"action="/logout""#));
        } else {
            assert!(
                html.contains(r#"<form method="post" action="/logout""#),
                "{name}"
            );
        }
    }
    let html = ui().sites(&sites_page()).expect("render");
    assert!(html.contains(r#"<a href="/sites" class="nav-sites active" aria-current="page">"#));
}

#[test]
fn flash_message_is_shown() {
    let html = ui().error(&error_page()).expect("render");
    assert!(html.contains(r#"<div class="flash flash-error" role="alert">"#));
}

#[test]
fn sessions_page_groups_escalation_chains() {
    let html = ui().sessions(&sessions_page()).expect("render");
    for needle in [
        r##"<a href="/sessions/21">#21</a>"##,
        "1 / Observe",
        "2 / Investigate",
        "3 / Remediate",
        "haiku",
        r#"<span class="badge status-running">running</span>"#,
        r#"<span class="badge status-completed">completed</span>"#,
        r#"<span class="badge status-failed">failed</span>"#,
        r#"<span class="badge status-timed_out">timed out</span>"#,
        r#"<span class="badge status-stopped">stopped</span>"#,
        "scheduled",
        "2026-02-15 18:14</time>",
        r#"title="2026-02-15 18:14:15 UTC""#,
        "2m 05s",
        "$0.0123",
        "$0.0369",
        r##"↳ escalated from <a href="/sessions/18">#18</a>"##,
        r##"↳ escalated from <a href="/sessions/19">#19</a>"##,
        // Orphan: its parent is on another page, it still says where it came from.
        r##"↳ escalated from <a href="/sessions/3">#3</a>"##,
    ] {
        assert!(html.contains(needle), "missing {needle:?}");
    }
    // The chain 18 -> 19 -> 20 is one group, parent first, between 21 and 17.
    assert_in_order(
        &html,
        &[
            r#"href="/sessions/21""#,
            r#"<tbody class="chain chain-multi">"#,
            r#"<tr class="depth-0">"#,
            r#"href="/sessions/18""#,
            r#"<tr class="depth-1 child">"#,
            r#"href="/sessions/19""#,
            r#"<tr class="depth-2 child">"#,
            r#"href="/sessions/20""#,
            "</tbody>",
            r#"href="/sessions/17""#,
        ],
    );
    assert_eq!(html.matches("<tr class=").count(), 7);
}

#[test]
fn sessions_page_links_pages() {
    let html = ui().sessions(&sessions_page()).expect("render");
    assert!(html.contains(r#"href="/sessions?offset=0&amp;limit=50">&larr; Newer</a>"#));
    assert!(html.contains(r#"href="/sessions?offset=100&amp;limit=50">Older &rarr;</a>"#));
    assert!(html.contains("51&ndash;57"));
    assert!(html.contains("of 157"));

    let first = SessionsPage {
        paging: Paging {
            offset: 0,
            limit: 50,
            total: None,
            has_more: false,
        },
        ..sessions_page()
    };
    let html = ui().sessions(&first).expect("render");
    assert!(!html.contains("class=\"pager\""));

    let empty = SessionsPage {
        layout: layout(Nav::Sessions),
        ..SessionsPage::default()
    };
    let html = ui().sessions(&empty).expect("render");
    assert!(html.contains("No sessions yet"));
}

#[test]
fn running_session_has_stop_button_live_log_and_card() {
    let html = ui().session(&session_page(true)).expect("render");
    for needle in [
        "<h1>Session #18</h1>",
        r#"<form method="post" action="/sessions/18/stop""#,
        r#"data-stream="/sessions/18/stream""#,
        r#"data-status="running""#,
        r#"data-started-ms="1771178175000""#,
        r#"<script src="/static/session.js?v="#,
        "17s (running)",
        "2026-02-15 17:56:15 UTC",
        "1 / Observe",
        "wrk-7f3a",
        // Cost, turns and exit code are told at the end, not shown as zeros.
        r#"data-field="cost">counted at the end<"#,
        r#"data-field="turns">running…<"#,
        r#"data-field="exit_code">running…<"#,
        r##"from <a href="/sessions/17">#17</a>"##,
        r##"↳ to <a href="/sessions/19">#19</a>"##,
        "Operator prompt",
        "<noscript>",
        "class=\"follow\"",
    ] {
        assert!(html.contains(needle), "missing {needle:?}");
    }
    assert!(
        html.contains(r#"<div class="error-box" data-field="error" role="alert" hidden></div>"#)
    );
}

#[test]
fn finished_session_has_no_stop_button_and_lists_raw_lines() {
    let html = ui().session(&session_page(false)).expect("render");
    assert!(!html.contains("/stop"));
    assert!(html.contains(r#"data-status="failed""#));
    assert!(
        html.contains(r#"<span class="badge status-failed" data-field="status">failed</span>"#)
    );
    assert!(html.contains("1m 24s"));
    assert!(!html.contains("(running)"));
    assert!(html.contains(r#"data-field="exit_code">1</dd>"#));
    let noscript = &html[html.find("<noscript>").expect("noscript")..];
    assert_eq!(
        noscript.matches("<li class=\"row").count(),
        demo_lines().len()
    );
    assert!(noscript.contains(r#"<li class="row malformed">"#));
    assert!(noscript.contains(r#"<span class="tag tag-bad">malformed</span>"#));
    assert!(noscript.contains("&quot;type&quot;:&quot;system&quot;"));
}

#[test]
fn sites_page_lists_workers_and_run_forms() {
    let html = ui().sites(&sites_page()).expect("render");
    for needle in [
        r#"<section class="card site" id="site-home-lab""#,
        "pve-01",
        "wrk-7f3a",
        "12s ago",
        "never",
        r#"<span class="tag">docker</span>"#,
        r#"<span class="tag tag-bad">revoked</span>"#,
        r#"<span class="tag tag-bad" title="CLAUDEOPS_SANDBOX=off: sessions run unsandboxed">unsandboxed</span>"#,
        "1 connected",
        "no worker connected",
        r##"<a class="badge status-running" href="/sessions/21">session #21 running</a>"##,
        r#"<input type="hidden" name="site" value="home-lab">"#,
        r#"<input type="hidden" name="site" value="office">"#,
        r#"<input type="hidden" name="tier" value="auto">"#,
        r#"<textarea name="prompt""#,
    ] {
        assert!(html.contains(needle), "missing {needle:?}");
    }
    let triggers = forms(&html)
        .into_iter()
        .filter(|f| f.contains(r#"action="/sessions/trigger""#))
        .count();
    assert_eq!(triggers, 4);
}

#[test]
fn run_now_page_has_site_tier_and_prompt() {
    let html = ui().run_now(&run_now_page()).expect("render");
    for needle in [
        r#"<form method="post" action="/sessions/trigger""#,
        r#"<select name="site" id="run-site" required>"#,
        r#"<option value="office" selected>office</option>"#,
        r#"<option value="auto">"#,
        r#"<option value="2" selected>"#,
        r#"<option value="3" disabled>"#,
        r#"<textarea name="prompt" id="run-prompt""#,
        "Dry run is on",
    ] {
        assert!(html.contains(needle), "missing {needle:?}");
    }
    let auto = RunNowPage {
        tier: None,
        max_tier: 3,
        ..run_now_page()
    };
    let html = ui().run_now(&auto).expect("render");
    assert!(html.contains(r#"<option value="auto" selected>"#));
    assert!(!html.contains("disabled"));
}

#[test]
fn login_page_posts_token_and_explains_where_it_is() {
    let html = ui().login(&login_page()).expect("render");
    for needle in [
        r#"<form method="post" action="/login""#,
        r#"<input type="password" name="token""#,
        r#"<input type="hidden" name="next" value="&#x2f;sessions&#x2f;18">"#,
        "&#x2f;state&#x2f;api-token",
        "CLAUDEOPS_API_TOKEN",
        "wrong token",
    ] {
        assert!(html.contains(needle), "missing {needle:?}");
    }
}

#[test]
fn error_page_shows_status_and_message() {
    let html = ui().error(&error_page()).expect("render");
    assert!(html.contains("<p class=\"error-code\">404</p>"));
    assert!(html.contains("<h1>Session not found</h1>"));
    assert!(html.contains("<title>Session not found · Claude Ops</title>"));
}

#[test]
fn empty_view_models_render() {
    let ui = ui();
    ui.login(&LoginPage::default()).expect("login");
    ui.sessions(&SessionsPage::default()).expect("sessions");
    ui.session(&SessionPage::default()).expect("session");
    ui.sites(&SitesPage::default()).expect("sites");
    ui.run_now(&RunNowPage::default()).expect("run now");
    ui.error(&ErrorPage::default()).expect("error");
    ui.overview(&OverviewPage::default()).expect("overview");
    ui.events(&EventsPage::default()).expect("events");
    ui.cooldowns(&CooldownsPage::default()).expect("cooldowns");
}

fn embedded_text_files() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in ["templates", "static"] {
        for entry in std::fs::read_dir(root.join(dir)).expect("read dir") {
            let path = entry.expect("entry").path();
            if let Ok(text) = std::fs::read_to_string(&path) {
                out.push((path.display().to_string(), text));
            }
        }
    }
    assert!(out.len() >= 12, "templates and text assets: {}", out.len());
    out
}

#[test]
fn no_external_urls_in_templates_assets_or_pages() {
    // The SVG namespace is an identifier, never fetched.
    let allowed = "xmlns=\"http://www.w3.org/2000/svg\"";
    let mut texts = embedded_text_files();
    for name in ASSET_PATHS {
        let (_, bytes) = asset(name).expect("asset");
        if let Ok(text) = std::str::from_utf8(bytes) {
            texts.push((format!("asset {name}"), text.to_owned()));
        }
    }
    for (name, html) in all_pages() {
        texts.push((format!("page {name}"), html));
    }
    for (name, text) in texts {
        let text = text.replace(allowed, "");
        for scheme in ["http://", "https://", "//cdn", "src=\"//", "href=\"//"] {
            assert!(!text.contains(scheme), "{name} contains {scheme}");
        }
    }
}

#[test]
fn pages_have_no_inline_script_or_style() {
    for (name, html) in all_pages() {
        for (i, _) in html.match_indices("<script") {
            assert!(
                html[i..].starts_with("<script src=\"/static/"),
                "{name}: inline script"
            );
        }
        assert!(!html.contains("<style"), "{name}: <style>");
    }
    // Attributes are checked in the sources: rendered pages hold escaped user text
    // such as "onerror=" that is harmless there.
    for (name, text) in embedded_text_files() {
        if name.ends_with(".html") {
            for attr in [
                " style=",
                " onclick=",
                " onload=",
                " onsubmit=",
                " onerror=",
                " onchange=",
            ] {
                assert!(!text.contains(attr), "{name}: {attr}");
            }
        }
    }
}

#[test]
fn session_script_never_writes_markup() {
    let (content_type, bytes) = asset("/static/session.js").expect("script");
    assert!(content_type.starts_with("text/javascript"));
    let js = std::str::from_utf8(bytes).expect("utf-8");
    for bad in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "createContextualFragment",
        "DOMParser",
    ] {
        assert!(!js.contains(bad), "session.js uses {bad}");
    }
    assert!(js.contains("textContent"));
    assert!(js.contains("new EventSource("));
    for event in ["\"line\"", "\"status\"", "\"reload\""] {
        assert!(js.contains(&format!("addEventListener({event}")), "{event}");
    }
    assert!(js.contains("seen.has(line.seq)"), "de-duplicates by seq");
}

#[test]
fn assets_have_types_and_the_manifest_is_valid_json() {
    for name in ASSET_PATHS {
        let (content_type, bytes) = asset(&format!("/static/{name}")).expect(name);
        assert!(!bytes.is_empty(), "{name}");
        assert!(!content_type.is_empty(), "{name}");
    }
    let (ct, manifest) = asset("/static/manifest.webmanifest").expect("manifest");
    assert_eq!(ct, "application/manifest+json");
    let manifest: serde_json::Value = serde_json::from_slice(manifest).expect("json");
    assert_eq!(manifest["name"], "Claude Ops");
    assert_eq!(manifest["display"], "standalone");
    for icon in manifest["icons"].as_array().expect("icons") {
        let src = icon["src"].as_str().expect("src");
        assert!(asset(src).is_some(), "manifest icon {src} is served");
    }
    let (_, png) = asset("icon-192.png").expect("png");
    assert!(png.starts_with(b"\x89PNG"));
}

#[test]
fn ui_can_be_shared_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Ui>();
}

#[test]
fn events_page_lists_events_newest_first_with_level_badges() {
    // Given oldest first, shown newest first.
    let mut model = events_page();
    model.events.reverse();
    let html = ui().events(&model).expect("render");
    for needle in [
        r#"<a href="/events" class="nav-events active" aria-current="page">"#,
        r#"<span class="badge level-critical">&#9888; critical</span>"#,
        r#"<span class="badge level-warning">warning</span>"#,
        r#"<span class="badge level-info">info</span>"#,
        r#"<tr class="event event-critical">"#,
        r#"<tr class="event event-warning">"#,
        r#"<tr class="event event-info">"#,
        r##"<a href="/sessions/18">#18</a>"##,
        "2026-02-15 18:40</time>",
        r#"title="2026-02-15 18:40:15 UTC""#,
        "disk &#x2f;srv at 87%",
        r#"<a class="plain" href="/events?service=sonarr""#,
        r#"<a class="plain" href="/events?site=office""#,
    ] {
        assert!(html.contains(needle), "missing {needle:?}");
    }
    assert_in_order(
        &html,
        &["Queue stalled", "disk &#x2f;srv", "HTTP 200", "disk full"],
    );
    // Critical events stand out: a banner and a label on each row.
    assert!(html.contains(
        r#"<p class="attention-banner" role="status">&#9888; 2 critical events on this page need human attention.</p>"#
    ));
    assert_eq!(html.matches("Needs human attention</span>").count(), 2);
    // An event without a session or service says so.
    assert_eq!(html.matches("<span class=\"muted\">—</span>").count(), 2);
}

#[test]
fn events_page_filter_form_and_paging_keep_the_filter() {
    let html = ui().events(&events_page()).expect("render");
    for needle in [
        r#"<form method="get" action="/events" class="card filter-form""#,
        r#"<select name="level" id="f-level">"#,
        r#"<option value="" selected>Any level</option>"#,
        r#"<option value="critical">critical</option>"#,
        r#"<input type="text" name="site" id="f-site" value="home lab&amp;co""#,
        r#"<input type="text" name="service" id="f-service" value="""#,
        r#"<input type="hidden" name="limit" value="50">"#,
        r#"<a class="btn" href="/events">Clear</a>"#,
        r#"href="/events?site=home%20lab%26co&amp;offset=0&amp;limit=50">&larr; Newer</a>"#,
        r#"href="/events?site=home%20lab%26co&amp;offset=100&amp;limit=50">Older &rarr;</a>"#,
        "51&ndash;54",
        "of 120",
    ] {
        assert!(html.contains(needle), "missing {needle:?}");
    }

    let critical = EventsPage {
        filter: EventFilterView {
            level: Some("critical".into()),
            service: Some("sonarr".into()),
            site: None,
        },
        paging: Paging {
            offset: 0,
            limit: 25,
            total: None,
            has_more: true,
        },
        ..events_page()
    };
    let html = ui().events(&critical).expect("render");
    assert!(html.contains(r#"<option value="critical" selected>critical</option>"#));
    assert!(
        html.contains(r#"<span class="btn disabled" aria-disabled="true">&larr; Newer</span>"#)
    );
    assert!(html.contains(
        r#"href="/events?level=critical&amp;service=sonarr&amp;offset=25&amp;limit=25">Older &rarr;</a>"#
    ));

    let unfiltered = EventsPage {
        filter: EventFilterView::default(),
        paging: Paging::default(),
        ..events_page()
    };
    let html = ui().events(&unfiltered).expect("render");
    assert!(!html.contains(">Clear</a>"));
    assert!(!html.contains("class=\"pager\""));

    let none_match = EventsPage {
        events: vec![],
        paging: Paging::default(),
        ..events_page()
    };
    let html = ui().events(&none_match).expect("render");
    assert!(html.contains("No events match this filter."));
    assert!(!html.contains("attention-banner"));

    let empty = EventsPage {
        layout: layout(Nav::Events),
        ..EventsPage::default()
    };
    let html = ui().events(&empty).expect("render");
    assert!(html.contains("No events yet."));
}

#[test]
fn cooldowns_page_states_limits_and_when_a_service_is_allowed_again() {
    let html = ui().cooldowns(&cooldowns_page()).expect("render");
    for needle in [
        r#"<a href="/cooldowns" class="nav-cooldowns active" aria-current="page">"#,
        "At most <strong>2 restarts</strong> per service per <strong>4h</strong>; \
         at most <strong>1 redeploy</strong> per service per <strong>24h</strong>.",
        r#"<tr class="at-limit">"#,
        r#"<tr class="under-limit">"#,
        r#"<strong class="next-allowed" title="2026-02-15 20:19:15 UTC">next allowed in 2h 13m</strong>"#,
        "next allowed in 20h 05m",
        r#"<span class="yes">allowed</span> <span class="muted">(1 left)</span>"#,
        r#"<span class="mono">2 / 2</span>"#,
        "5m 00s ago",
        // The audit trail: every status, with its arguments folded.
        r#"<table class="action-log">"#,
        r#"<span class="badge action-reserved">reserved</span>"#,
        r#"<span class="badge action-succeeded">succeeded</span>"#,
        r#"<span class="badge action-failed">failed</span>"#,
        r#"<span class="badge action-denied">denied</span>"#,
        r#"<span class="badge action-released">released</span>"#,
        "<summary>arguments</summary>",
        "<pre>{&quot;container&quot;:&quot;sonarr&quot;,&quot;timeout_s&quot;:30}</pre>",
        "restarted in 4.2s",
        r##"<a href="/sessions/12">#12</a>"##,
    ] {
        assert!(html.contains(needle), "missing {needle:?}");
    }
    // The at-limit row holds its "next allowed" text.
    let row = &html[html.find(r#"<tr class="at-limit">"#).expect("row")..];
    let row = &row[..row.find("</tr>").expect("end of row")];
    assert!(row.contains("sonarr") && row.contains("next allowed in 2h 13m"));
    assert_eq!(html.matches(r#"<tr class="at-limit">"#).count(), 2);
    assert_eq!(html.matches(r#"<tr class="action-row "#).count(), 6);
    assert_in_order(&html, &["Services touched", "Recent remediation actions"]);
}

#[test]
fn cooldowns_page_edge_cases() {
    let mut model = cooldowns_page();
    model.rows = vec![
        // A limit of 0: the ledger says never.
        CooldownView {
            site: "home-lab".into(),
            service: "db".into(),
            kind: "redeploy".into(),
            count_in_window: 0,
            limit: 0,
            last_action_ms: None,
            next_allowed_ms: Some(i64::MAX),
        },
        // Over the limit (limits were lowered) and its time has come.
        CooldownView {
            site: "home-lab".into(),
            service: "cache".into(),
            kind: "restart".into(),
            count_in_window: 3,
            limit: 2,
            last_action_ms: Some(NOW_MS - 1_000),
            next_allowed_ms: Some(NOW_MS - 1),
        },
    ];
    let html = ui().cooldowns(&model).expect("render");
    assert!(html.contains(r#"<strong class="next-allowed">never (the limit is 0)</strong>"#));
    assert!(html.contains(">allowed now</strong>"));
    assert_eq!(html.matches(r#"<tr class="at-limit">"#).count(), 2);

    let empty = CooldownsPage {
        layout: layout(Nav::Cooldowns),
        ..CooldownsPage::default()
    };
    let html = ui().cooldowns(&empty).expect("render");
    assert!(html.contains("No remediation limits are configured."));
    assert!(html.contains("every service has its full allowance"));
    assert!(html.contains("No remediation actions recorded yet."));
}

#[test]
fn session_page_shows_summary_and_remediation_actions() {
    let html = ui().session(&session_page(false)).expect("render");
    for needle in [
        r#"<div class="summary-line" data-summary>"#,
        r#"<h2 class="label" id="actions-title">Remediation actions</h2>"#,
        r#"<span class="badge action-failed">failed</span>"#,
        "<summary>arguments</summary>",
        "4s</td>",
    ] {
        assert!(html.contains(needle), "missing {needle:?}");
    }
    // Summary inside the card, actions between the card and the log.
    assert_in_order(
        &html,
        &[
            r#"<section class="card meta""#,
            "Summary",
            "Operator prompt",
            "</section>",
            "Remediation actions",
            r#"<section class="activity""#,
        ],
    );
    // The session page needs neither a site nor a session column.
    let card = &html[html.find("session-actions").expect("card")..];
    let card = &card[..card.find("</section>").expect("end")];
    assert!(!card.contains("<th scope=\"col\">Site</th>"));
    assert!(!card.contains("/sessions/"));

    let running = ui().session(&session_page(true)).expect("render");
    assert!(running.contains(r#"<span class="badge action-reserved">reserved</span>"#));
    // No summary yet: its place is kept hidden for the live end to fill.
    assert!(running.contains(r#"<div class="summary-line" data-summary hidden>"#));

    let plain = SessionPage {
        actions: vec![],
        summary: None,
        ..session_page(false)
    };
    let html = ui().session(&plain).expect("render");
    assert!(!html.contains("Remediation actions"));
    assert!(html.contains(r#"<div class="summary-line" data-summary hidden>"#));
}

#[test]
fn overview_page_has_stats_tldr_attention_and_sites() {
    let html = ui().overview(&overview_page()).expect("render");
    for needle in [
        r#"<a href="/" class="nav-overview active" aria-current="page">"#,
        // The HUD.
        r#"<span class="stat-value">157</span>"#,
        r#"<span class="stat-value">12</span>"#,
        r#"<span class="stat-value">9</span>"#,
        r#"<span class="stat-value">93.4%</span>"#,
        r#"<span class="stat-value">$4.2817</span>"#,
        r#"<span class="stat-value">23</span>"#,
        r#"<span class="stat-value">2m 05s</span>"#,
        r#"<div class="stat stat-alert">"#,
        "2026-02-15 18:56:15 UTC</time> (every 1h)",
        // The TL;DR.
        r#"<p class="tldr-summary">Sonarr restarted &lt;u&gt;"#,
        r##"<a href="/sessions/18">Session #18</a>"##,
        r##"<a class="btn" href="/sessions/18">Open session &rarr;</a>"##,
        "Tier 2 / Investigate",
        r#"<span class="badge status-completed">completed</span>"#,
        // Needs attention.
        "Needs attention",
        "Queue stalled for 3h",
        r#"href="/events?level=critical""#,
        r##"<a class="small-link" href="/sessions/18">from session #18</a>"##,
        // Sites with Run Now.
        r##"<a class="site-name" href="/sites#site-home-lab">home-lab</a>"##,
        r#"<span class="badge status-completed">1 connected</span>"#,
        r#"<span class="badge status-failed">no worker connected</span>"#,
        r##"<a class="badge status-running" href="/sessions/21">session #21 running</a>"##,
        r#"<input type="hidden" name="site" value="home-lab">"#,
        r#"<input type="hidden" name="site" value="office">"#,
        r#"<input type="hidden" name="tier" value="auto">"#,
        r#"<input type="hidden" name="prompt" value="">"#,
        r#"disabled title="No worker is connected""#,
    ] {
        assert!(html.contains(needle), "missing {needle:?}");
    }
    assert_eq!(
        forms(&html)
            .iter()
            .filter(|f| f
                .contains(r#"<form method="post" action="/sessions/trigger" class="inline-run">"#))
            .count(),
        2
    );
    assert_in_order(&html, &["Latest run", "Needs attention", "Sites"]);
    // Attention is newest first whatever the given order.
    let mut model = overview_page();
    model.attention.reverse();
    let html = ui().overview(&model).expect("render");
    assert_in_order(&html, &["Queue stalled", "disk full"]);
}

#[test]
fn overview_page_when_nothing_has_happened() {
    let model = OverviewPage {
        layout: layout(Nav::Overview),
        ..OverviewPage::default()
    };
    let html = ui().overview(&model).expect("render");
    assert!(html.contains("No sessions yet."));
    assert!(html.contains("Nothing needs a human right now."));
    assert!(html.contains("No sites yet."));
    assert!(html.contains("Next run: not scheduled"));
    assert!(!html.contains("stat-alert"));
    // No runs: no rate or average to speak of.
    assert_eq!(
        html.matches(r#"<span class="stat-value">—</span>"#).count(),
        2
    );

    let running = OverviewPage {
        latest: Some(LatestView {
            status: "running".into(),
            summary: None,
            ..overview_page().latest.expect("latest")
        }),
        ..overview_page()
    };
    let html = ui().overview(&running).expect("render");
    assert!(html.contains("Running now: the summary arrives when the session ends."));
}

#[test]
fn config_page_lists_entries_and_masks_secrets() {
    let ui = claudeops_web_ui::Ui::new().unwrap_or_else(|e| panic!("{e}"));
    let page = claudeops_web_ui::ConfigPage {
        layout: claudeops_web_ui::Layout::default(),
        entries: vec![
            claudeops_web_ui::ConfigEntry {
                name: "CLAUDEOPS_INTERVAL".into(),
                value: "3600".into(),
                description: "<b>seconds</b>".into(),
                secret: false,
            },
            claudeops_web_ui::ConfigEntry {
                name: "ANTHROPIC_API_KEY".into(),
                value: "set".into(),
                description: "the key".into(),
                secret: true,
            },
        ],
        models: claudeops_web_ui::UpstreamModels::default(),
        ..claudeops_web_ui::ConfigPage::default()
    };
    let html = ui.config(&page).unwrap_or_else(|e| panic!("{e}"));
    assert!(html.contains("CLAUDEOPS_INTERVAL") && html.contains("3600"));
    assert!(html.contains("has not been read yet"), "no list yet");
    let listed = claudeops_web_ui::ConfigPage {
        models: claudeops_web_ui::UpstreamModels {
            upstream: "http://127.0.0.1:4000".into(),
            fetched_at: "2026-12-04T19:20:03Z".into(),
            error: None,
            ids: vec!["claude-haiku-4-5".into(), "<script>".into()],
            tiers: vec![
                claudeops_web_ui::TierModel {
                    tier: 1,
                    model: "claude-haiku-4-5".into(),
                    listed: true,
                },
                claudeops_web_ui::TierModel {
                    tier: 3,
                    model: "claude-opus-9".into(),
                    listed: false,
                },
            ],
        },
        ..page
    };
    let html = ui.config(&listed).unwrap_or_else(|e| panic!("{e}"));
    assert!(html.contains("claude-haiku-4-5") && html.contains("not listed"));
    assert!(
        html.contains("&lt;script&gt;") && !html.contains("<li><script>"),
        "escaped"
    );
    assert!(
        html.contains("&lt;b&gt;seconds") && !html.contains("<b>seconds"),
        "escaped"
    );
    assert!(html.contains("ANTHROPIC_API_KEY"));
}

#[test]
fn a_site_settings_form_shows_overrides_and_what_a_blank_inherits() {
    let ui = claudeops_web_ui::Ui::new().unwrap_or_else(|e| panic!("{e}"));
    let layout = claudeops_web_ui::Layout {
        logged_in: true,
        csrf_token: Some("tok-123".into()),
        ..claudeops_web_ui::Layout::default()
    };
    let field =
        |name: &str, kind: &str, value: &str, inherited: &str| claudeops_web_ui::RuntimeField {
            name: name.into(),
            label: name.into(),
            kind: kind.into(),
            value: value.into(),
            inherited: inherited.into(),
            help: String::new(),
        };
    let page = claudeops_web_ui::SiteSettingsPage {
        layout,
        site: "lab".into(),
        runtime: claudeops_web_ui::RuntimeForm {
            action: "/sites/lab/settings".into(),
            per_site: true,
            fields: vec![
                field("interval", "seconds", "120", "3600"),
                field("dry_run", "bool", "", "false"),
                field("max_tier", "tier", "1", "3"),
            ],
            problems: vec!["interval: <bad>".into()],
        },
        changes: vec![claudeops_web_ui::ConfigChangeView {
            at: "2026-12-04T21:00:00.000Z".into(),
            actor: "api token".into(),
            scope: "site:lab".into(),
            field: "interval".into(),
            before: "3600".into(),
            after: "120".into(),
        }],
    };
    let html = ui.site_settings(&page).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        html.contains(r#"action="&#x2f;sites&#x2f;lab&#x2f;settings""#),
        "{html}"
    );
    assert!(html.contains(r#"name="csrf" value="tok-123""#));
    assert!(html.contains(r#"value="120""#) && html.contains(r#"placeholder="3600""#));
    assert!(
        html.contains(r#"<option value="" selected>as the fleet</option>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<option value="1" selected>Tier 1</option>"#),
        "{html}"
    );
    assert!(
        html.contains("interval: &lt;bad&gt;"),
        "problems are escaped: {html}"
    );
    assert!(html.contains("site:lab") && html.contains("api token"));
}

#[test]
fn a_site_probes_page_shows_sources_and_keeps_a_refused_form() {
    let ui = claudeops_web_ui::Ui::new().unwrap_or_else(|e| panic!("{e}"));
    let layout = claudeops_web_ui::Layout {
        logged_in: true,
        csrf_token: Some("tok-123".into()),
        ..claudeops_web_ui::Layout::default()
    };
    let probe =
        |name: &str, source: &str, editable: bool, paused: bool| claudeops_web_ui::SiteProbeView {
            name: name.into(),
            kind: "http".into(),
            source: source.into(),
            target: "http://127.0.0.1:9/".into(),
            interval_secs: 30,
            conditions: vec!["[STATUS] == 200".into()],
            paused,
            editable,
            updated_by: if editable {
                "alice".into()
            } else {
                String::new()
            },
            updated_at_ms: 0,
        };
    let mut errors = std::collections::BTreeMap::new();
    errors.insert("target".to_owned(), "<not a tcp target>".to_owned());
    let page = claudeops_web_ui::SiteProbesPage {
        layout,
        site: "lab".into(),
        probes: vec![
            probe(
                "db",
                "repo: infra/.claude-ops/probes/db.yaml:3",
                false,
                false,
            ),
            probe("web", "dashboard", true, true),
        ],
        form: claudeops_web_ui::ProbeForm {
            action: "/sites/lab/probes".into(),
            name: "new-one".into(),
            kind: "tcp".into(),
            target: "typed-target".into(),
            errors,
            ..claudeops_web_ui::ProbeForm::default()
        },
        kinds: vec!["http".into(), "tcp".into()],
    };
    let html = ui.site_probes(&page).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        html.contains("repo: infra&#x2f;.claude-ops&#x2f;probes&#x2f;db.yaml:3"),
        "{html}"
    );
    assert!(html.contains("read-only: defined in the repo"));
    assert_eq!(
        html.matches(">Resume<").count(),
        1,
        "the paused dashboard probe"
    );
    assert!(!html.contains(">Pause<"));
    assert!(html.contains("Yes, delete"), "delete asks again");
    assert!(html.contains(r#"name="csrf" value="tok-123""#));
    assert!(
        html.contains(r#"value="typed-target""#),
        "the form keeps what was typed"
    );
    assert!(html.contains(r#"<option value="tcp" selected>"#));
    assert!(html.contains(r#"id="err-target""#) && html.contains("&lt;not a tcp target&gt;"));
    assert!(html.contains(r#"aria-invalid="true""#));
    assert!(!html.contains("<script>"), "no inline script");
}

#[test]
fn a_pending_approval_has_approve_and_deny_buttons_and_decided_ones_their_record() {
    let html = ui().session(&session_page(true)).expect("render");
    assert_in_page(
        &html,
        &[
            "Waiting for a human",
            r#"<form method="post" action="/sessions/18/decide">"#,
            r#"<input type="hidden" name="approval" value="4">"#,
            r#"<input type="hidden" name="decision" value="approve">"#,
            r#"<input type="hidden" name="decision" value="deny">"#,
            ">Approve</button>",
            ">Deny</button>",
            "Denied at",
            "Denied by alice at",
            "web&lt;img src=x onerror=alert(2)&gt;",
        ],
    );
    assert!(
        !html.contains("<img src=x"),
        "the model's service name is escaped"
    );
    // Every decision form carries the login's CSRF token.
    assert_eq!(html.matches(r#"action="/sessions/18/decide""#).count(), 2);

    let finished = ui().session(&session_page(false)).expect("render");
    assert!(finished.contains("Expired"), "the expired request is shown");
    assert!(!finished.contains("/decide"), "no buttons once decided");
}

#[test]
fn a_signed_link_page_shows_the_action_and_one_button() {
    let pending = approvals(true).remove(0);
    let page =
        |decision: &str, sig: &str, outcome: Option<&str>, error: Option<&str>, a: ApprovalView| {
            ApprovalPage {
                version: "0.1.0".into(),
                approval: a,
                decision: decision.into(),
                sig: sig.into(),
                outcome: outcome.map(String::from),
                error: error.map(String::from),
                now_ms: 0,
            }
        };
    let html = ui()
        .approval(&page("approve", "SIG-abc", None, None, pending.clone()))
        .expect("render");
    assert_in_page(
        &html,
        &[
            "Approval request #4",
            r#"<form method="post" action="/approval/4""#,
            r#"<input type="hidden" name="decision" value="approve">"#,
            r#"<input type="hidden" name="sig" value="SIG-abc">"#,
            "Approve the redeploy</button>",
            "Denied unless approved by",
            r#"<meta name="referrer" content="no-referrer">"#,
        ],
    );
    assert!(!html.contains("Deny the"), "one decision per link");
    assert!(!html.contains("<img src=x"), "escaped");

    let deny = ui()
        .approval(&page("deny", "SIG-def", None, None, pending.clone()))
        .expect("render");
    assert!(deny.contains("Deny the redeploy</button>"));

    // A refused link, and a decided request: no button.
    let refused = ui()
        .approval(&page(
            "approve",
            "",
            None,
            Some("This link is not valid"),
            pending.clone(),
        ))
        .expect("render");
    assert!(refused.contains("This link is not valid"));
    assert!(!refused.contains("<form"));
    let decided = ApprovalView {
        status: "approved".into(),
        decided_by: Some("bob (signed link)".into()),
        decided_at_ms: Some(NOW_MS),
        ..pending
    };
    let done = ui()
        .approval(&page(
            "approve",
            "",
            Some("Approved: the session carries out the action now."),
            None,
            decided,
        ))
        .expect("render");
    assert!(done.contains("approved by bob (signed link)"), "{done}");
    assert!(!done.contains("<form"));
}

fn assert_in_page(html: &str, needles: &[&str]) {
    for needle in needles {
        assert!(html.contains(needle), "missing {needle:?}");
    }
}
