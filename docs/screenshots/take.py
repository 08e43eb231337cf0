"""Take the README's screenshots from a running demo (`make run`), in headless Chromium.

    .venv/bin/python docs/screenshots/take.py [http://127.0.0.1:8000]

Logs in with the demo logins `make run` prints and saves overview.png and station.png (the operator,
desktop), alerts.png (desktop) and driver.png (the driver's charging page on a phone) next to this file.
"""

import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
BASE = (sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000").rstrip("/")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def login(browser, username: str, password: str, viewport: dict):
    context = browser.new_context(viewport=viewport, timezone_id="Europe/Amsterdam", locale="en-GB")
    page = context.new_page()
    page.goto(f"{BASE}/login/")
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', password)
    page.click('button[type="submit"]')
    page.wait_for_load_state("networkidle")
    # The first page sets the time zone cookie; from here on times read in Amsterdam time.
    return page


def main() -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        operator = login(browser, "operator", "chargenet-demo", {"width": 1280, "height": 860})
        for name, path in (
            ("overview", "/dashboard/"),
            ("station", "/stations/DEMO-001/"),
            ("alerts", "/alerts/"),
        ):
            operator.goto(BASE + path)
            operator.wait_for_timeout(1500)  # let the live regions and the chart settle
            operator.screenshot(path=HERE / f"{name}.png", full_page=name != "station")
        driver = login(browser, "driver", "chargenet-demo", {"width": 390, "height": 844})
        driver.goto(BASE + "/account/charging/")
        driver.wait_for_timeout(1000)
        driver.screenshot(path=HERE / "driver.png", full_page=True)
        browser.close()


if __name__ == "__main__":
    main()
