"""The dashboard live, in a real browser (Debian's chromium through Playwright),
and every page checked by axe-core in light and dark mode, on a desktop and a
phone.

Usage: live_browser.py BASE_URL TOKEN SITE FAULT_URL PARAMS_JSON

- Run Now to completed: the session card fills in by itself (status, exit code,
  summary, cost, turns) with no reload; while it runs it says so instead of
  "$0.0000 / 0 turns".
- A second run: reloaded mid-stream, each line is shown once; Stop says
  "Stopping…" at once, then the session ends stopped without a reload.
- Five pages open side by side (overview, sites, events, health, incidents):
  when FAULT_URL is called (the probe's target starts failing) each changes by
  itself, without a reload, and says "Live".
- Every page the OpenAPI document lists as HTML (GET, 200 text/html), with its
  path parameters from PARAMS_JSON: axe finds no serious or critical
  violation in light and dark mode at 1280x800 and 390x844; on the phone every
  navigation entry is on screen and nothing overflows the page sideways.

Prints one JSON object (what was seen) on stdout; any failed check raises.
"""

import json
import os
import re
import sys
import urllib.request

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect, sync_playwright

base, token, site, fault_url, params_json = sys.argv[1:6]
params = json.loads(params_json)
chromium = os.environ.get("CLAUDEOPS_CHROMIUM", "/usr/bin/chromium")
if not os.access(chromium, os.X_OK):
    sys.exit(f"no browser at {chromium}: install Debian's chromium (tests/setup.sh does)")

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LIVE_PAGES = ["/", "/sites", "/events", "/health", "/incidents"]
out = {"axe": {}, "live": {}}
axe = Axe()


def login(page):
    page.goto(f"{base}/login")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert "/login" not in page.url, f"login failed: {page.url}"


def mark(page):
    """A value that survives only while the page is not reloaded."""
    page.evaluate("window.__notReloaded = true")


def not_reloaded(page):
    return page.evaluate("window.__notReloaded === true")


def run_now(page, prompt):
    page.goto(f"{base}/run")
    page.get_by_label(re.compile("^Prompt")).fill(prompt)
    page.get_by_role("button", name="Start session").click()
    page.wait_for_url(re.compile(r"/sessions/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


def field(page, name):
    return page.locator(f'[data-field="{name}"]').first


with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=chromium, headless=True, args=ARGS)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page)

    # 1. Run Now to completed, the card updating live.
    first = run_now(page, "quick-check of the host")
    mark(page)
    out["while_running"] = {
        "cost": field(page, "cost").inner_text(),
        "turns": field(page, "turns").inner_text(),
        "exit_code": field(page, "exit_code").inner_text(),
    }
    expect(page.locator(".page-head").get_by_text("completed")).to_be_visible(timeout=60_000)
    expect(field(page, "exit_code")).to_have_text("0")
    expect(page.locator("[data-summary]")).to_contain_text("The host is fine.")
    expect(field(page, "cost")).to_have_text(re.compile(r"^\$\d+\.\d{4}$"))
    expect(field(page, "turns")).to_have_text(re.compile(r"^\d+$"))
    assert not_reloaded(page), "the page reloaded to show the end"
    out["completed"] = {
        "session": first,
        "exit_code": field(page, "exit_code").inner_text(),
        "summary": page.locator("[data-summary] p").inner_text(),
        "cost": field(page, "cost").inner_text(),
        "turns": field(page, "turns").inner_text(),
        "log_heading": page.locator("#activity-title").inner_text(),
        "first_ts": page.locator(".log-rows .row .ts").first.inner_text(),
        "first_ts_title": page.locator(".log-rows .row .ts").first.get_attribute("title"),
    }

    # 2. A long run: reload mid-stream (each line once), then Stop.
    second = run_now(page, "long-check of the host")
    expect(page.locator(".log-rows .row").first).to_be_visible(timeout=60_000)
    page.reload()
    expect(page.locator(".log-rows .row").first).to_be_visible()
    page.wait_for_timeout(1500)
    seqs = page.eval_on_selector_all("[data-rows] li[data-seq]", "els => els.map(e => e.dataset.seq)")
    out["reload"] = {"rows": len(seqs), "unique": len(set(seqs))}
    assert len(seqs) == len(set(seqs)) and seqs, f"each line once after a reload: {seqs}"
    mark(page)
    # Stop, as a click does (the confirmation accepted): what the button says
    # the moment the form goes, before the answer comes back.
    expect(page.get_by_role("button", name=re.compile("Stop"))).to_be_enabled()
    out["stop_feedback"] = page.evaluate(
        """() => {
            window.confirm = () => true;
            const form = document.querySelector('[data-stop-form]');
            const button = form.querySelector('button');
            form.requestSubmit(button);
            return button.disabled ? button.textContent : 'not disabled: ' + button.textContent;
        }"""
    )
    page.wait_for_load_state()
    expect(page.locator(".page-head").get_by_text("stopped")).to_be_visible(timeout=60_000)
    out["stopped"] = second

    # 3. Five pages live: the probe's target fails; each page changes by itself.
    pages = {}
    for path in LIVE_PAGES:
        tab = context.new_page()
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.goto(f"{base}{path}")
        expect(tab.locator("[data-live-state]")).to_have_text(re.compile("Live"))
        mark(tab)
        pages[path] = (tab, tab.locator("#main").inner_text())
    with urllib.request.urlopen(urllib.request.Request(fault_url, method="POST"), timeout=10) as r:
        assert r.status == 200, r.status
    for path, (tab, before) in pages.items():
        tab.wait_for_function(
            "before => document.getElementById('main').innerText !== before",
            arg=before,
            timeout=60_000,
        )
        assert not_reloaded(tab), f"{path} reloaded instead of updating"
        out["live"][path] = "changed"
    health = pages["/health"][0]
    expect(health.locator("#main")).to_contain_text("down", timeout=30_000)
    incidents = pages["/incidents"][0]
    expect(incidents.locator("#main")).to_contain_text("web", timeout=30_000)
    for path, (tab, _) in pages.items():
        assert not_reloaded(tab), f"{path} reloaded"
        tab.close()
    context.close()

    # 4. Every page: axe in light and dark, desktop and phone.
    request = urllib.request.Request(
        f"{base}/api/openapi.json", headers={"Authorization": f"Bearer {token}"}
    )
    spec = json.loads(urllib.request.urlopen(request, timeout=10).read())
    html_pages = []
    for path, item in sorted(spec["paths"].items()):
        get = item.get("get")
        # Files under /static/ are assets, not pages (the API reference's
        # HTML is checked as the page that serves it, /api/docs).
        if not get or path.startswith("/static/"):
            continue
        # A signed approval link's page needs a real request and its
        # signature: approval_browser.py opens one from a real notification,
        # with axe, logged out and in both colour schemes.
        if path.startswith("/approval/"):
            continue
        ok = get.get("responses", {}).get("200", {}).get("content", {})
        if "text/html" not in ok:
            continue
        names = re.findall(r"\{([^}*]+)\}", path)
        missing = [n for n in names if n not in params]
        assert not missing, f"no value for {missing} of {path}: pass it in PARAMS_JSON"
        url = path
        for n in names:
            url = url.replace("{" + n + "}", str(params[n]))
        html_pages.append(url)
    out["pages"] = html_pages
    for scheme in ["light", "dark"]:
        for label, viewport, mobile in [
            ("desktop", {"width": 1280, "height": 800}, False),
            ("phone", {"width": 390, "height": 844}, True),
        ]:
            ctx = browser.new_context(
                viewport=viewport, color_scheme=scheme, is_mobile=mobile, has_touch=mobile
            )
            ctx.set_default_timeout(20_000)
            tab = ctx.new_page()
            tab.on("pageerror", lambda e: errors.append(str(e)))
            # A refused script, style or frame (the content security policy)
            # is a console error.
            tab.on(
                "console",
                lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None,
            )
            login(tab)
            for url in html_pages:
                response = tab.goto(f"{base}{url}")
                assert response is not None and response.status < 400, f"{url}: {response and response.status}"
                tab.wait_for_load_state()
                results = axe.run(tab)
                violations = results.response["violations"]
                serious = [v for v in violations if v.get("impact") in ("serious", "critical")]
                key = f"{url} ({scheme}, {label})"
                out["axe"][key] = {
                    "violations": [f"{v['id']} ({v.get('impact')})" for v in violations],
                    "serious": len(serious),
                }
                if serious:
                    raise AssertionError(f"axe on {key}:\n{results.generate_report()}")
                if mobile and not url.startswith("/api/"):
                    overflow = tab.evaluate(
                        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
                    )
                    assert overflow <= 1, f"{key}: the page is {overflow}px wider than the phone"
                    hidden = tab.evaluate(
                        """() => [...document.querySelectorAll('nav[aria-label=Main] a')]
                            .filter(a => { const r = a.getBoundingClientRect();
                                return r.width === 0 || r.right > window.innerWidth || r.left < 0; })
                            .map(a => a.textContent.trim())"""
                    )
                    assert not hidden, f"{key}: navigation entries off screen: {hidden}"
            ctx.close()

    # 5. Logged out: every page sends the visitor to log in, saying why, and
    # shows nothing of itself; the login form itself is public.
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    ctx.set_default_timeout(20_000)
    tab = ctx.new_page()
    refused = []
    for url in html_pages:
        tab.goto(f"{base}{url}")
        if url in ("/login", "/offline") or url.startswith("/status/"):
            assert "/login?next=" not in tab.url, f"{url} is public but asked for a login"
            continue
        assert "/login?next=" in tab.url, f"{url} did not ask for a login: {tab.url}"
        expect(tab.get_by_role("alert")).to_contain_text("Log in to see")
        assert tab.locator("nav[aria-label=Main]").count() == 1
        refused.append(url)
    out["refused_logged_out"] = refused
    # The public status page and a badge, without a login.
    response = tab.goto(f"{base}/status/home")
    expect(tab.get_by_role("heading", name="home", level=1)).to_be_visible()
    expect(tab.get_by_role("heading", name="web")).to_be_visible()
    status_code = response.status if response else 0
    badge = tab.goto(f"{base}/badge/web/status.svg")
    out["public"] = {
        "status": status_code,
        "badge": [badge.status, badge.headers.get("content-type")] if badge else None,
    }
    # Logging in from there returns to the page asked for.
    tab.goto(f"{base}/events?level=critical")
    tab.get_by_label("API token").fill(token)
    tab.get_by_role("button", name="Log in").click()
    tab.wait_for_url(f"{base}/events?level=critical")
    out["returned_to"] = tab.url.removeprefix(base)
    ctx.close()
    browser.close()
out["page_errors"] = errors
print(json.dumps(out))
