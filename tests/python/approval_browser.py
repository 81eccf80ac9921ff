"""Approval gates in a real browser (Debian's chromium through Playwright),
with axe-core on each page it visits.

Usage: approval_browser.py BASE_URL TOKEN MODE PATH

MODE `link`: PATH is a signed approve link from a notification. Opened
logged out, the page shows the action and one button; it decides nothing
until the button is pressed with a name for the audit record.

MODE `page`: PATH is the page of a running session that will ask for an
action soon. Logged in, the page is open before the request exists; the
Approve and Deny buttons appear by themselves; Deny records who denied.

Prints one JSON object (what was seen) on stdout; any failed check raises.
"""

import json
import os
import sys

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect, sync_playwright

base, token, mode, path = sys.argv[1:5]
chromium = os.environ.get("CLAUDEOPS_CHROMIUM", "/usr/bin/chromium")
if not os.access(chromium, os.X_OK):
    sys.exit(f"no browser at {chromium}: install Debian's chromium (tests/setup.sh does)")
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
out = {"axe": {}}
axe = Axe()


def check_axe(page, key):
    results = axe.run(page)
    serious = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    out["axe"][key] = len(serious)
    if serious:
        raise AssertionError(f"axe on {key}:\n{results.generate_report()}")


with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=chromium, headless=True, args=ARGS)
    errors = []
    for scheme, viewport in [("light", {"width": 1280, "height": 800}), ("dark", {"width": 390, "height": 844})]:
        context = browser.new_context(viewport=viewport, color_scheme=scheme)
        context.set_default_timeout(20_000)
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
        if mode == "link":
            response = page.goto(f"{base}{path}")
            assert response is not None and response.status == 200, response and response.status
            # No login was asked for: the link is the credential.
            assert "/login" not in page.url, page.url
            out["heading"] = page.get_by_role("heading", level=1).inner_text()
            expect(page.get_by_role("button", name="Approve the restart")).to_be_visible()
            assert page.get_by_role("button", name="Deny the restart").count() == 0
            check_axe(page, f"approval link ({scheme})")
            if scheme == "dark":
                page.get_by_label("Your name, for the audit record (optional)").fill("alice")
                page.get_by_role("button", name="Approve the restart").click()
                page.wait_for_load_state()
                out["outcome"] = page.get_by_role("status").inner_text()
                assert page.get_by_role("button").count() == 0, "no button once decided"
                check_axe(page, "approval link, decided")
        else:
            page.goto(f"{base}{path}")
            page.get_by_label("API token").fill(token)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(f"{base}{path}")
            card = page.get_by_role("region", name="Waiting for a human")
            if scheme == "light":
                # Open before the request: the card comes by itself.
                out["absent_at_load"] = card.count() == 0
                expect(card.get_by_role("button", name="Approve")).to_be_visible(timeout=90_000)
            expect(card.get_by_role("button", name="Approve")).to_be_visible()
            expect(card.get_by_role("button", name="Deny")).to_be_visible()
            check_axe(page, f"session page, pending ({scheme})")
            if scheme == "dark":
                card.get_by_role("button", name="Deny").click()
                page.wait_for_url(f"{base}{path}")
                expect(card.get_by_role("button", name="Deny")).to_have_count(0)
                out["after"] = card.locator("li.approval p").nth(2).inner_text().split(" at ")[0]
                check_axe(page, "session page, denied")
        context.close()
    browser.close()
    out["page_errors"] = errors

print(json.dumps(out))
