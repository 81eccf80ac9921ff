"""A finished session's browser screenshot on its page, in a real browser
(Debian's chromium through Playwright), with axe-core.

Usage: screenshot_browser.py BASE_URL TOKEN SESSION_ID

Logs in, opens the session page, waits for its output, and checks that the
screenshot a browser action took is shown: an image with an alt text, loaded,
1280 pixels wide. Prints one JSON object on stdout; any failed check raises.
"""

import json
import os
import sys

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect, sync_playwright

base, token, session = sys.argv[1:4]
chromium = os.environ.get("CLAUDEOPS_CHROMIUM", "/usr/bin/chromium")
if not os.access(chromium, os.X_OK):
    sys.exit(f"no browser at {chromium}: install Debian's chromium (tests/setup.sh does)")
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
out = {}

with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=chromium, headless=True, args=ARGS)
    errors = []
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    path = f"/sessions/{session}"
    page.goto(f"{base}{path}")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}{path}")
    image = page.locator("img.tool-image")
    expect(image).to_have_count(1)
    image.scroll_into_view_if_needed()
    expect(image).to_be_visible()
    out["alt"] = image.get_attribute("alt")
    out["natural_width"] = image.evaluate("i => i.complete ? i.naturalWidth : 0")
    assert out["natural_width"] == 1280, out
    results = Axe().run(page)
    serious = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    out["axe_serious"] = len(serious)
    if serious:
        raise AssertionError(f"axe on the session page:\n{results.generate_report()}")
    context.close()
    browser.close()
    out["page_errors"] = errors

print(json.dumps(out))
