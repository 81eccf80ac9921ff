"""A probe added from the dashboard, in a real browser (Debian's chromium through
Playwright), against the running control plane and a real worker.

Usage: probes_browser.py BASE_URL TOKEN SITE TARGET_URL STOP_URL

- Log in; on /sites/SITE/probes the Add probe form refuses a bad interval with
  the problem beside the field and keeps what was typed.
- Add an HTTP probe on TARGET_URL (a loopback server the test controls),
  checked every second: the health page shows it up.
- POST STOP_URL (the target stops listening): the health page, open all the
  while, shows the probe down without a reload.
- Pause it, then delete it (confirmed in a second step) from the probes page.
- axe-core on the probes page (plain and with a refused form) and the health
  page in light and dark mode at 1280x800 and 390x844: no serious or critical
  violation.

Prints one JSON object (what was seen) on stdout; any failed check raises.
"""

import json
import os
import re
import sys
import urllib.request

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect, sync_playwright

base, token, site, target_url, stop_url = sys.argv[1:6]
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
PROBE = "ui-web"
probes_url = f"{base}/sites/{site}/probes"
out = {"axe": {}, "health": {}, "refused": {}}
axe = Axe()
errors = []


def login(page):
    page.goto(f"{base}/login")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert "/login" not in page.url, f"login failed: {page.url}"


def fill_form(page, interval):
    page.get_by_label("Name", exact=True).fill(PROBE)
    page.get_by_label("Kind", exact=True).select_option("http")
    page.get_by_label(re.compile("^Target")).fill(target_url)
    page.get_by_label(re.compile("^Interval")).fill(interval)
    page.get_by_label(re.compile("^Conditions")).fill("[STATUS] == 200")
    page.get_by_role("button", name="Add probe").click()
    page.wait_for_load_state()


def probe_row(page):
    return page.locator(f'tr[data-probe="{PROBE}"]')


def check_axe(browser, paths):
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
            login(tab)
            for name, visit in paths:
                visit(tab)
                tab.wait_for_load_state()
                results = axe.run(tab)
                violations = results.response["violations"]
                serious = [v for v in violations if v.get("impact") in ("serious", "critical")]
                key = f"{name} ({scheme}, {label})"
                out["axe"][key] = {
                    "violations": [f"{v['id']} ({v.get('impact')})" for v in violations],
                    "serious": len(serious),
                }
                if serious:
                    raise AssertionError(f"axe on {key}:\n{results.generate_report()}")
                if mobile:
                    overflow = tab.evaluate(
                        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
                    )
                    wide = tab.evaluate(
                        """() => [...document.querySelectorAll('#main *')]
                            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
                                && !e.closest('.table-wrap'))
                            .slice(0, 5)
                            .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""
                    )
                    assert overflow <= 1, f"{key}: the page is {overflow}px wider than the phone: {wide}"
            ctx.close()


with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=chromium, headless=True, args=ARGS)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page)

    # 1. A refused form: the problem beside the field, what was typed kept.
    page.goto(probes_url)
    fill_form(page, "often")
    error = page.locator("#err-interval")
    expect(error).to_be_visible()
    out["refused"] = {
        "interval_error": error.inner_text(),
        "kept_target": page.get_by_label(re.compile("^Target")).input_value(),
        "invalid": page.get_by_label(re.compile("^Interval")).get_attribute("aria-invalid"),
    }
    assert out["refused"]["invalid"] == "true", out

    # 2. Added: listed as a dashboard probe.
    page.goto(probes_url)
    fill_form(page, "1s")
    assert page.url.rstrip("/").endswith(f"/sites/{site}/probes"), page.url
    expect(probe_row(page)).to_contain_text("dashboard")

    # 3. The health page: up, then down without a reload once the target stops.
    health = context.new_page()
    health.on("pageerror", lambda e: errors.append(str(e)))
    health.goto(f"{base}/health")
    expect(health.locator("[data-live-state]")).to_have_text(re.compile("Live"))
    row = health.locator("tr.probe", has=health.locator("td", has_text=PROBE))
    # Not up yet: the page updates itself when the first reports arrive.
    expect(row.first).to_have_class(re.compile(r"\bprobe-row-up\b"), timeout=60_000)
    expect(row.first.locator(".source-dashboard")).to_have_text("dashboard")
    out["health"]["up"] = True
    health.evaluate("window.__notReloaded = true")
    with urllib.request.urlopen(urllib.request.Request(stop_url, method="POST"), timeout=10) as r:
        assert r.status == 200, r.status
    expect(row.first).to_have_class(re.compile(r"\bprobe-row-down\b"), timeout=60_000)
    out["health"]["down_without_reload"] = health.evaluate("window.__notReloaded === true")

    # 4. Pause, then delete with its confirmation.
    page.goto(probes_url)
    probe_row(page).get_by_role("button", name=re.compile("^Pause")).click()
    page.wait_for_load_state()
    expect(probe_row(page)).to_contain_text("paused")
    expect(probe_row(page).get_by_role("button", name=re.compile("^Resume"))).to_be_visible()
    out["paused"] = True

    def probes_page(tab):
        tab.goto(probes_url)

    def refused_form(tab):
        tab.goto(probes_url)
        tab.get_by_label("Name", exact=True).fill("bad-one")
        tab.get_by_label(re.compile("^Target")).fill("http://127.0.0.1:9/")
        tab.get_by_label(re.compile("^Interval")).fill("often")
        tab.get_by_role("button", name="Add probe").click()

    def health_page(tab):
        tab.goto(f"{base}/health")

    check_axe(
        browser,
        [("probes", probes_page), ("probes, refused form", refused_form), ("health", health_page)],
    )

    page.goto(probes_url)
    probe_row(page).locator("summary", has_text="Delete").click()
    probe_row(page).get_by_role("button", name=re.compile("^Yes, delete")).click()
    page.wait_for_load_state()
    expect(probe_row(page)).to_have_count(0)
    out["deleted"] = True
    context.close()
    browser.close()
out["page_errors"] = errors
print(json.dumps(out))
