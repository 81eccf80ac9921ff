"""Drives the dashboard in a real browser: Debian's chromium through Playwright,
with axe-core (axe-playwright-python) for accessibility.

Usage: dashboard_browser.py BASE_URL TOKEN SITE

Asks for a page logged out, is sent to log in with the reason, and returns
there after logging in; then on the memories page adds a memory, searches for it, edits it
(once refused by the browser's own check of the confidence), deactivates it and
deletes it, with axe run on the page along the way; then checks the installable
shell: the service worker registers and controls the page, and with the network
cut a reload shows the offline page (styled from the cache) while the API fails
instead of answering from a cache; the favicon routes answer with image types.

Prints one JSON object (what was seen) on stdout; any failed check raises, so
the script exits non-zero with the reason on stderr. The Rust test asserts on
both. Playwright's own browser download is never used: the browser is
`CLAUDEOPS_CHROMIUM` (default /usr/bin/chromium).
"""

import json
import os
import re
import sys
import tempfile

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect, sync_playwright

base, token, site = sys.argv[1], sys.argv[2], sys.argv[3]
chromium = os.environ.get("CLAUDEOPS_CHROMIUM", "/usr/bin/chromium")
if not os.access(chromium, os.X_OK):
    sys.exit(f"no browser at {chromium}: install Debian's chromium (tests/setup.sh does)")

# As docs/testing asks of a headless chromium on this machine kind.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
out = {"axe": {}}
axe = Axe()


def check_axe(page, name):
    """axe-core on the page as it is: no serious or critical violation."""
    results = axe.run(page)
    violations = results.response["violations"]
    serious = [v for v in violations if v.get("impact") in ("serious", "critical")]
    out["axe"][name] = {
        "violations": [f"{v['id']} ({v.get('impact')})" for v in violations],
        "serious": len(serious),
    }
    if serious:
        raise AssertionError(f"axe on {name}:\n{results.generate_report()}")


def row(page, memory_id):
    return page.locator(f"#memory-{memory_id}")


with tempfile.TemporaryDirectory(prefix="claudeops-browser-") as profile, sync_playwright() as p:
    context = p.chromium.launch_persistent_context(
        profile,
        executable_path=chromium,
        headless=True,
        args=ARGS,
        service_workers="allow",
    )
    context.set_default_timeout(15_000)
    page = context.pages[0] if context.pages else context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    # Logged out: the dashboard is private. The login form says why, and
    # returns to the page asked for.
    page.goto(f"{base}/memories?service=nginx")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.get_by_text("Log in to see /memories?service=nginx")).to_be_visible()
    check_axe(page, "login (from /memories)")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/memories?service=nginx")
    expect(page.get_by_role("heading", name="Memories", level=1)).to_be_visible()

    # Add.
    page.goto(f"{base}/memories")
    nav = page.get_by_role("navigation", name="Main").get_by_role("link", name="Memories")
    expect(nav).to_have_attribute("aria-current", "page")
    site_field = page.get_by_label("Site", exact=True).last
    if site_field.evaluate("e => e.tagName") == "INPUT" and not site_field.evaluate("e => e.readOnly"):
        site_field.fill(site)
    page.get_by_label("Service (optional)").fill("nginx")
    page.get_by_label("Category", exact=True).last.fill("port")
    page.get_by_label("Observation", exact=True).fill("listens on 8080 <b>behind</b> the proxy")
    page.get_by_label("Confidence (0 to 1)").first.fill("0.8")
    page.get_by_role("button", name="Add memory").click()
    flash = page.get_by_role("status")
    expect(flash).to_contain_text(re.compile(r"Memory #\d+ added\."))
    memory_id = int(re.search(r"#(\d+)", flash.inner_text()).group(1))
    out["added"] = memory_id
    expect(row(page, memory_id)).to_contain_text("listens on 8080 <b>behind</b> the proxy")
    expect(row(page, memory_id)).to_contain_text("nginx")
    expect(row(page, memory_id)).to_contain_text("0.8")
    expect(row(page, memory_id)).to_contain_text("operator")

    # Search: by text, by service, and a miss.
    search = page.get_by_role("search", name="Search memories")
    search.get_by_label("Text").fill("8080")
    search.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"/memories\?.*q=8080"))
    expect(row(page, memory_id)).to_be_visible()
    search.get_by_label("Text").fill("")
    search.get_by_label("Service").fill("nginx")
    search.get_by_label("State").select_option("active")
    search.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"service=nginx"))
    expect(row(page, memory_id)).to_be_visible()
    out["search_url"] = page.url
    page.goto(f"{base}/memories?q=no-such-memory")
    expect(page.get_by_text("No memories match this search.")).to_be_visible()
    page.goto(f"{base}/memories?service=nginx")

    # Edit: the browser refuses a confidence above 1 itself, then the edit goes in.
    the_row = row(page, memory_id)
    the_row.locator("summary").click()
    observation = the_row.get_by_label("Observation")
    confidence = the_row.get_by_label("Confidence (0 to 1)")
    observation.fill("listens on 8081")
    confidence.fill("1.5")
    the_row.get_by_role("button", name=f"Save memory #{memory_id}").click()
    assert confidence.evaluate("e => e.validity.rangeOverflow"), "the browser let 1.5 through"
    out["refused_by_the_browser"] = confidence.evaluate("e => e.validationMessage")
    check_axe(page, "memories (editing)")
    confidence.fill("0.95")
    the_row.get_by_role("button", name=f"Save memory #{memory_id}").click()
    expect(page.get_by_role("status")).to_have_text(f"Memory #{memory_id} saved.")
    assert "service=nginx" in page.url, f"the search is kept: {page.url}"
    expect(row(page, memory_id)).to_contain_text("listens on 8081")
    expect(row(page, memory_id)).to_contain_text("0.95")

    # Deactivate, then the page with an inactive memory passes axe too.
    row(page, memory_id).get_by_role("button", name=f"Deactivate memory #{memory_id}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Memory #{memory_id} deactivated")
    expect(row(page, memory_id)).to_contain_text("inactive")
    expect(row(page, memory_id).get_by_role("button", name=f"Activate memory #{memory_id}")).to_be_visible()
    check_axe(page, "memories (logged in)")

    # Delete.
    row(page, memory_id).get_by_role("button", name=f"Delete memory #{memory_id}").click()
    expect(page.get_by_role("status")).to_have_text(f"Memory #{memory_id} deleted.")
    expect(row(page, memory_id)).to_have_count(0)
    api = context.request.get(f"{base}/api/v1/memories")
    out["left_after_delete"] = len(api.json()["memories"])

    # The installable shell: the worker registers and takes the page over.
    page.goto(f"{base}/memories")
    page.wait_for_function(
        "navigator.serviceWorker && navigator.serviceWorker.controller !== null", timeout=20_000
    )
    out["service_worker"] = page.evaluate(
        "navigator.serviceWorker.getRegistration().then(r => r && r.active && r.active.scriptURL)"
    )
    out["cache"] = page.evaluate("caches.keys()")

    context.set_offline(True)
    page.reload()
    expect(page.get_by_role("heading", name="You are offline")).to_be_visible()
    out["offline_url"] = page.url
    out["offline_styled"] = page.evaluate(
        "getComputedStyle(document.querySelector('.shell')).display"
    )
    out["offline_nav"] = page.get_by_role("navigation", name="Main").get_by_role("link").all_inner_texts()
    out["offline_api"] = page.evaluate(
        "fetch('/api/v1/health').then(r => 'answered ' + r.status, () => 'failed')"
    )
    check_axe(page, "offline")
    # Back online, the offline page reloads itself (on the browser's `online`
    # event) or on "Try again" into the real page.
    context.set_offline(False)
    memories = page.get_by_role("heading", name="Memories", level=1)
    try:
        expect(memories).to_be_visible(timeout=5_000)
        out["back_online"] = "by itself"
    except AssertionError:
        page.get_by_role("button", name="Try again").click()
        expect(memories).to_be_visible()
        out["back_online"] = "try again"

    # The icons browsers and phones ask for by name.
    out["icons"] = {}
    for path in ["/favicon.ico", "/favicon.svg", "/apple-touch-icon.png", "/static/manifest.json"]:
        response = context.request.get(f"{base}{path}")
        out["icons"][path] = [response.status, response.headers.get("content-type", "")]
    manifest = page.evaluate(
        "fetch(document.querySelector('link[rel=manifest]').href).then(r => r.json())"
    )
    out["manifest_name"] = manifest["name"]
    out["page_errors"] = errors
    context.close()

print(json.dumps(out))
