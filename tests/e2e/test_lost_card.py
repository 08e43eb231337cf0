"""Issue 4, end to end: a driver who lost a card blocks it on the account page, and the stations
refuse it at once — online, in their authorization cache and in their local lists."""

import pytest
from playwright.sync_api import expect

from rfid.services import id_token_create
from tests.e2e.conftest import in_thread, log_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_card_the_driver_blocks_is_refused_at_the_next_tap_and_leaves_the_local_lists(
    live_system, stations, new_page, driver
):
    # given Dana's card, accepted before at a station that keeps a local list
    in_thread(id_token_create, uid="04LOST0001", printed_number="NL-CNT-LOST-1", driver=driver, label="Keys")
    sim = stations.connect("E2E-LOST-1", local_list=True)
    stations.run(sim.wait_for(lambda: sim.local_list.get("04LOST0001", {}).get("status") == "Accepted"))
    assert stations.run(sim.authorize("04LOST0001")).id_tag_info["status"] == "Accepted"
    full_lists = len([c for c in sim.received if c.action == "SendLocalList"])

    # when she blocks it on her account page
    page = new_page(phone=True)
    log_in(page, live_system.base_url, "dana", "pw-dana-1")
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("row").filter(has_text="NL-CNT-LOST-1").get_by_role(
        "button", name="Block (lost)"
    ).click()

    # then the page says so
    expect(page.get_by_text("Card NL-CNT-LOST-1 is blocked.")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="NL-CNT-LOST-1")).to_contain_text("Blocked")

    # and the very next tap at the station is refused
    assert stations.run(sim.authorize("04LOST0001"), timeout=1).id_tag_info["status"] == "Blocked"

    # and the station is told to forget it: its cache is cleared and its local list updated
    stations.run(sim.wait_received("ClearCache"))
    update = stations.run(sim.wait_received("SendLocalList", count=full_lists + 1)).payload
    assert update["updateType"] == "Differential"
    assert update["localAuthorizationList"] == [{"idTag": "04LOST0001", "idTagInfo": {"status": "Blocked"}}]
    # (the simulator records a CALL before its handler applies it, so wait for the list itself)
    stations.run(sim.wait_for(lambda: sim.local_list["04LOST0001"]["status"] == "Blocked"))
