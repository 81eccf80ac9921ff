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
    ]
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
            assert!(
                !form.contains("method=\"get\""),
                "{name}: GET form:\n{form}"
            );
        }
    }
    // logout on 6 logged-in pages, stop, 2 per site x 2 sites, run now, login.
    assert!(posts >= 12, "only {posts} POST forms seen");
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
        "$0.0731",
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
