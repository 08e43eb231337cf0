"""The Roaming section in headless Chromium: an operator adds a partner, hands over token A, and
watches the partner register."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import in_thread, log_in

pytestmark = pytest.mark.timeout(180)


def make_operator() -> None:
    from chargenet.models import User

    User.objects.create_user(username="olivia", password="pw-olivia-1", role="operator")


def test_an_operator_adds_a_partner_that_then_registers(live_system, new_page, emsp, transactional_db):
    in_thread(make_operator)
    page = new_page()
    log_in(page, live_system.base_url, "olivia", "pw-olivia-1")

    # when the operator adds the eMSP in the Roaming section
    page.get_by_role("link", name="Roaming").click()
    expect(page.get_by_role("heading", name="Roaming partners")).to_be_visible()
    page.get_by_role("link", name="Add partner").click()
    page.get_by_label("Name").fill("Example eMSP")
    page.get_by_label("Country code").fill("DE")
    page.get_by_label("Party id").fill("EMS")
    page.get_by_role("button", name="Add partner").click()

    # then the page shows what to hand the partner
    token_a = page.locator("#token-a").inner_text()
    versions_url = page.locator("#versions-url").inner_text()
    assert versions_url == f"{live_system.base_url}/ocpi/versions"
    expect(page.locator("#partner-status")).to_have_text("Waiting for the partner to register")

    # when the partner registers with them
    emsp.register_with(versions_url, token_a)

    # then its page shows it registered, the last exchange and the requests in and out
    page.get_by_role("link", name="Roaming partners").click()
    page.get_by_role("link", name="Example eMSP").click()
    expect(page.locator("#partner-status")).to_have_text("Registered")
    expect(page.locator("#partner-last-success")).not_to_have_text("never")
    log = page.locator("#partner-requests")
    expect(log).to_contain_text("POST /ocpi/2.2.1/credentials")
    expect(log).to_contain_text(re.compile(r"GET http://127\.0\.0\.1:\d+/ocpi/versions"))
    assert token_a not in page.content()
