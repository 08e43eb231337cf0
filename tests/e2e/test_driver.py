"""Issue 4, end to end: a driver signs up, claims a card, charges on a (simulated) station from the
account page, watches the session live, stops it and finds it, priced, in the history; then loses
the card and blocks it."""

import re

from playwright.sync_api import expect

from billing.services import tariff_create
from rfid.models import IdToken
from rfid.services import id_token_create
from tests.e2e.conftest import in_thread, log_in

TARIFF = {
    "code": "E2E-STD",
    "name": "Standard",
    "currency": "EUR",
    "vat_percent": "25",
    "is_default": True,
    "elements": [{"price_components": [{"type": "ENERGY", "price": "0.30", "step_size": 1}]}],
}


def energy_wh(page) -> int:
    return int(page.get_by_test_id("energy").get_attribute("data-wh"))


def test_a_new_driver_signs_up_claims_a_card_charges_remotely_and_finds_the_priced_session_in_history(
    live_system, stations, new_page
):
    base = live_system.base_url
    # given a card the network issued (unassigned), a tariff and an online station
    in_thread(id_token_create, uid="04E2E0001", printed_number="NL-CNT-E2E-1")
    in_thread(tariff_create, **TARIFF)
    sim = stations.connect("E2E-DRV-1")

    # when a driver signs up in the browser
    page = new_page(phone=True)
    page.goto(f"{base}/signup/")
    page.get_by_label("Name").fill("Erin")
    page.get_by_label("E-mail").fill("erin@example.com")
    page.get_by_label("Password").fill("charge-my-car-2024")
    page.get_by_role("button", name="Sign up").click()
    page.get_by_role("heading", name="Check your e-mail").wait_for()

    # and opens the link mailed to her
    mail = live_system.mail_to("erin@example.com")
    link = re.search(r"https?://\S+", live_system.mail_text(mail)).group(0)
    page.goto(link)
    page.get_by_role("heading", name="My account").wait_for()

    # and later logs in (on another device) with her e-mail address
    page = new_page(phone=True)
    log_in(page, base, "erin@example.com", "charge-my-car-2024")
    page.get_by_role("heading", name="My account").wait_for()

    # and adds the card by the number printed on it
    page.get_by_label("Card number (printed on the card)").fill("NL-CNT-E2E-1")
    page.get_by_label("Label").fill("Blue key fob")
    page.get_by_role("button", name="Add card").click()
    expect(page.get_by_role("cell", name="Blue key fob")).to_be_visible()

    # and starts charging on the station from her account
    page.locator("#main").get_by_role("link", name="My charging").click()
    page.get_by_label("Station and connector").select_option(value="E2E-DRV-1/1")
    page.get_by_label("Card").select_option(label="Blue key fob")
    page.get_by_role("button", name="Start charging").click()
    expect(page.get_by_text("Start requested at E2E-DRV-1")).to_be_visible()
    page.evaluate("window.__notReloaded = true")

    # then the station is asked to start, starts a transaction and meters it
    remote_start = stations.run(sim.wait_received("RemoteStartTransaction"))
    assert remote_start.payload == {"connectorId": 1, "idTag": "04E2E0001"}
    stations.run(sim.wait_sent("MeterValues", count=1))

    # and her page follows: the session appears live, with energy rising, all without a reload
    expect(page.get_by_text("Charging started at E2E-DRV-1")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("Charging at E2E-DRV-1"))).to_be_visible()
    expect(page.get_by_test_id("energy")).to_have_text(re.compile(r"^[1-9][\d,.]* k?Wh$"))
    first = energy_wh(page)
    page.wait_for_function(
        f"() => parseInt(document.querySelector('[data-testid=energy]').dataset.wh) > {first}",
        timeout=15000,
    )
    assert page.evaluate("window.__notReloaded") is True
    # with the cost so far (billing's fragment inside the live one)
    expect(page.get_by_text(re.compile(r"EUR incl\. VAT so far"))).to_be_visible()

    # when she stops charging
    page.get_by_role("button", name="Stop charging").click()
    expect(page.get_by_text("Stop requested")).to_be_visible()

    # then the station stops the transaction
    stop = stations.run(sim.wait_sent("StopTransaction"))
    assert stop.payload.reason == "Remote"

    # and the session is in her history, and once billing priced it, with its cost
    page.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()
    row = page.get_by_role("row").filter(has_text="E2E-DRV-1")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Completed")
    expect(row).to_contain_text("Blue key fob")
    row.get_by_role("link").click()
    # (the page may open before the CDR exists: the live feed brings the final price)
    expect(page.get_by_text(re.compile(r"final \(CDR"))).to_be_visible(timeout=30000)
    assert IdToken.objects.get(uid="04E2E0001").driver.email == "erin@example.com"
