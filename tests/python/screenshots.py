"""Screenshots of the dashboard's main pages, for docs/dashboard.md.

Usage: screenshots.py BASE_URL TOKEN OUT_DIR (run by
`cargo run -p claudeops-tests --example screenshots`).
"""

import os
import sys

from playwright.sync_api import sync_playwright

base, token, out = sys.argv[1:4]
chromium = os.environ.get("CLAUDEOPS_CHROMIUM", "/usr/bin/chromium")
os.makedirs(out, exist_ok=True)
PAGES = [
    ("overview", "/"),
    ("session", "/sessions/1"),
    ("health", "/health"),
    ("probe", "/probes/home/web-http"),
    ("incident", "/incidents/1"),
    ("maintenance", "/maintenance"),
]

with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
    for scheme, label, viewport in [
        ("light", "desktop", {"width": 1280, "height": 860}),
        ("dark", "phone", {"width": 390, "height": 844}),
    ]:
        ctx = browser.new_context(viewport=viewport, color_scheme=scheme, device_scale_factor=1)
        page = ctx.new_page()
        page.goto(f"{base}/login")
        page.get_by_label("API token").fill(token)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state()
        for name, path in PAGES if label == "desktop" else PAGES[:3]:
            page.goto(f"{base}{path}")
            page.wait_for_load_state("networkidle") if name != "session" else page.wait_for_timeout(1500)
            page.screenshot(path=f"{out}/{name}-{label}-{scheme}.png", full_page=label == "desktop")
        ctx.close()
    public = browser.new_context(viewport={"width": 1000, "height": 700})
    page = public.new_page()
    page.goto(f"{base}/status/home")
    page.screenshot(path=f"{out}/status-page.png", full_page=True)
    browser.close()
