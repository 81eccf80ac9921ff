"""A maintenance window silencing a fault, in a real browser (Debian's
chromium through Playwright), with axe-core on the pages it visits.

Usage: maintenance_browser.py BASE_URL TOKEN FAULT_URL

Logs in; starts a one-hour window for home / web from the maintenance page;
sees the banner on three pages; calls FAULT_URL (the probe's target starts
failing) and waits: the health page shows the probe down, but no incident
opens and no session starts. Ends the window from the page: the incident
opens; its page shows the timeline; Acknowledge records who.

Prints one JSON object (what was seen) on stdout; any failed check raises.
"""

import json
import os
import re
import sys
import time
import urllib.request

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect, sync_playwright

base, token, fault_url = sys.argv[1:4]
chromium = os.environ.get("CLAUDEOPS_CHROMIUM", "/usr/bin/chromium")
if not os.access(chromium, os.X_OK):
    sys.exit(f"no browser at {chromium}: install Debian's chromium (tests/setup.sh does)")
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
out = {"axe": {}}
axe = Axe()


def api(path):
    request = urllib.request.Request(f"{base}{path}", headers={"Authorization": f"Bearer {token}"})
    return json.loads(urllib.request.urlopen(request, timeout=10).read())


def check_axe(page, key):
    results = axe.run(page)
    serious = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    out["axe"][key] = len(serious)
    if serious:
        raise AssertionError(f"axe on {key}:\n{results.generate_report()}")


with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=chromium, headless=True, args=ARGS)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)

    page.goto(f"{base}/maintenance")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/maintenance")
    check_axe(page, "maintenance (empty)")

    # A refused window keeps what was typed and says why.
    page.get_by_label("Site", exact=True).fill("home")
    page.get_by_label("Service (empty: every service of the site)").fill("web")
    page.get_by_label("Lasts").fill("forever")
    page.get_by_label("Reason").fill("disk swap")
    page.get_by_role("button", name="Start maintenance").click()
    expect(page.get_by_role("alert")).to_contain_text("duration")
    expect(page.get_by_label("Reason")).to_have_value("disk swap")
    # The browser logs the refusal's 400 as a console error: that one is meant.
    assert all("status of 400" in e for e in errors), errors
    errors.clear()

    page.get_by_label("Lasts").fill("1h")
    page.get_by_role("button", name="Start maintenance").click()
    page.wait_for_url(f"{base}/maintenance")
    expect(page.get_by_role("cell", name="disk swap")).to_be_visible()
    check_axe(page, "maintenance (a window)")

    banners = 0
    for path in ["/", "/health", "/incidents"]:
        page.goto(f"{base}{path}")
        banner = page.locator(".maintenance-banner")
        expect(banner).to_contain_text("home / web until")
        expect(banner).to_contain_text("disk swap")
        banners += 1
    out["banner_pages"] = banners

    # The fault, during the window: the probe goes down, nothing opens.
    urllib.request.urlopen(urllib.request.Request(fault_url, method="POST"), timeout=10).read()
    page.goto(f"{base}/health")
    expect(page.locator("#main")).to_contain_text("down", timeout=30_000)
    time.sleep(4)  # several probe cycles (1 s each) inside the window
    out["during"] = {
        "probe_down": '"state":"down"' in json.dumps(api("/api/v1/checks?site=home"), separators=(",", ":")),
        "incidents": len(api("/api/v1/incidents")),
        "sessions": len(api("/api/v1/sessions")["sessions"]),
    }

    # Ended from the page: the failure is handled as any other.
    page.goto(f"{base}/maintenance")
    page.get_by_role("button", name="End now").click()
    page.wait_for_url(f"{base}/maintenance")
    expect(page.get_by_text("No maintenance window is in effect or planned.")).to_be_visible()
    page.goto(f"{base}/incidents")
    row_link = page.locator("table.incidents a", has_text=re.compile(r"^#\d+$")).first
    expect(row_link).to_be_visible(timeout=30_000)
    out["incident"] = int(row_link.inner_text().lstrip("#"))
    row_link.click()
    expect(page.get_by_role("heading", name=re.compile(r"Incident #\d+"))).to_be_visible()
    expect(page.locator(".timeline")).to_contain_text("web is down")
    check_axe(page, "incident")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("[data-field=acknowledged]")).to_have_text("by api token")
    expect(page.locator(".timeline")).to_contain_text("acknowledged by api token")
    out["acknowledged"] = page.locator("[data-field=acknowledged]").inner_text()
    browser.close()
out["page_errors"] = errors
print(json.dumps(out))
