"""Driver flows in headless Chromium, on a phone-sized screen."""

import os
import re
from pathlib import Path

import pytest
from django.core import mail

from rfid.models import IdToken
from rfid.services import id_token_create
from tests.support import CHROMIUM, CHROMIUM_ARGS

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (set CHROMIUM_PATH)"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API runs an event loop in this thread; the ORM calls of the test itself
    # are plain synchronous code, so Django's async-safety guard does not apply here.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def test_a_new_driver_signs_up_confirms_and_adds_a_card(live_server, page):
    # given a card the network issued
    id_token_create(uid="04C0FFEE", printed_number="NL-CNT-777")

    # when the driver signs up on a phone
    page.goto(f"{live_server.url}/login/")
    page.get_by_role("link", name="Sign up").click()
    page.get_by_label("Name").fill("Eve")
    page.get_by_label("E-mail").fill("eve@example.com")
    page.get_by_label("Password").fill("charge-my-car-2024")
    page.get_by_role("button", name="Sign up").click()
    page.get_by_role("heading", name="Check your e-mail").wait_for()
    link = re.search(r"https?://\S+", mail.outbox[0].body).group(0)
    page.goto(link)
    page.get_by_role("heading", name="My account").wait_for()

    # and adds the card by its printed number
    page.get_by_label("Card number (printed on the card)").fill("NL-CNT-777")
    page.get_by_label("Label").fill("Car keys")
    page.get_by_role("button", name="Add card").click()

    # then
    page.get_by_text("Card NL-CNT-777 added to your account.").wait_for()
    row = page.locator("table.list tbody tr", has_text="NL-CNT-777")
    assert "Car keys" in row.inner_text()
    assert IdToken.objects.get(uid="04C0FFEE").driver.email == "eve@example.com"


def test_a_driver_blocks_a_lost_card(live_server, page, driver):
    # given Dana with two cards
    driver.user.set_password("dana-password-1")
    driver.user.save()
    id_token_create(uid="LOST", printed_number="NL-LOST", driver=driver)
    id_token_create(uid="KEPT", printed_number="NL-KEPT", driver=driver)

    # when she logs in and blocks the lost one
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password").fill("dana-password-1")
    page.get_by_role("button", name="Log in").click()
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("table.list tbody tr", has_text="NL-LOST").get_by_role("button", name="Block (lost)").click()

    # then
    page.get_by_text("Card NL-LOST is blocked.").wait_for()
    assert "Blocked" in page.locator("table.list tbody tr", has_text="NL-LOST").inner_text()
    assert IdToken.objects.get(uid="LOST").status == "Blocked"
    assert IdToken.objects.get(uid="KEPT").status == "Accepted"
