"""Partner charge points on a map, in headless Chromium: the driver's roaming page and the operator's
partner networks page draw one marker per partner location, coloured by live EVSE status, and
recolour it when the CPO reports a change (map tiles do not load offline; markers do)."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import in_thread, log_in
from tests.ocpi.cpo import a_location

pytestmark = pytest.mark.timeout(180)


def partner_network() -> int:
    """A registered CPO partner with two locations: one with a free EVSE, one whose EVSEs are broken."""
    from chargenet.models import User
    from ocpi.models import Partner
    from ocpi.services import partner_create, partner_location_store
    from rfid.models import Driver

    User.objects.create_user(username="olivia", password="pw-olivia-1", role="operator")
    Driver.objects.create(
        user=User.objects.create_user(username="dana", password="pw-dana-1", role="driver"), name="Dana"
    )
    partner, _ = partner_create(name="Example CPO", country_code="BE", party_id="CPX", roles=["CPO"])
    Partner.objects.filter(pk=partner.pk).update(status=Partner.Status.REGISTERED)
    partner.refresh_from_db()
    broken = a_location("LOC2", coordinates={"latitude": "50.850000", "longitude": "4.360000"})
    for evse in broken["evses"]:
        evse["status"] = "OUTOFORDER"
    for location in (a_location("LOC1"), broken):
        partner_location_store(
            partner=partner,
            country_code="BE",
            party_id="CPX",
            location_id=location["id"],
            body=location,
            patch=False,
        )
    return partner.pk


def evse_status_patch(partner_id: int, location_id: str, evse_uid: str, status: str) -> None:
    from ocpi.models import Partner
    from ocpi.services import partner_location_store

    partner_location_store(
        partner=Partner.objects.get(pk=partner_id), country_code="BE", party_id="CPX", location_id=location_id,
        evse_uid=evse_uid, body={"status": status, "last_updated": "2026-12-03T10:00:00Z"}, patch=True,
    )  # fmt: skip


def test_a_driver_sees_partner_charge_points_on_a_map_with_live_status(
    live_system, new_page, transactional_db
):
    partner_id = in_thread(partner_network)
    page = new_page()
    log_in(page, live_system.base_url, "dana", "pw-dana-1")

    page.goto(f"{live_system.base_url}/account/roaming/")

    # then each location is a marker: the one with a free EVSE green, the broken one red
    expect(page.locator("#map .map-marker")).to_have_count(2)
    expect(page.locator("#map .map-marker-available")).to_have_count(1)
    expect(page.locator("#map .map-marker-down")).to_have_count(1)

    # when the CPO reports both EVSEs of the first location in use
    for evse in ("LOC1-E1", "LOC1-E2"):
        in_thread(evse_status_patch, partner_id, "LOC1", evse, "CHARGING")

    # then its marker turns busy without a reload
    expect(page.locator("#map .map-marker-busy")).to_have_count(1, timeout=15000)
    expect(page.locator("#map .map-marker-available")).to_have_count(0)


def test_the_operator_sees_partner_networks_on_a_map(live_system, new_page, transactional_db):
    partner_id = in_thread(partner_network)
    page = new_page()
    log_in(page, live_system.base_url, "olivia", "pw-olivia-1")

    page.goto(f"{live_system.base_url}/roaming/network/")

    expect(page.locator("#map .map-marker")).to_have_count(2)
    expect(page.locator("#map .map-marker-down")).to_have_count(1)

    # when the broken location's EVSE is repaired, the marker follows within the refresh
    in_thread(evse_status_patch, partner_id, "LOC2", "LOC2-E1", "AVAILABLE")
    expect(page.locator("#map .map-marker-available")).to_have_count(2, timeout=20000)
    # and a marker leads to the partner
    page.locator("#map .map-marker-available").first.click()
    expect(page.locator(".leaflet-popup-content a")).to_have_attribute("href", f"/roaming/{partner_id}/")


def our_network() -> None:
    from decimal import Decimal

    from chargenet.models import User
    from stations.models import Location, Station

    User.objects.create_user(username="olivia", password="pw-olivia-1", role="operator")
    harbour = Location.objects.create(name="Harbour", latitude=Decimal("52.37"), longitude=Decimal("4.89"))
    Station.objects.create(identity="MAP-CP-1", location=harbour, is_online=False)


def test_the_overview_map_of_our_own_network_still_draws_with_the_shared_script(
    live_system, new_page, transactional_db
):
    in_thread(our_network)
    page = new_page()
    log_in(page, live_system.base_url, "olivia", "pw-olivia-1")

    page.goto(f"{live_system.base_url}/")

    # the one location, whose only station is offline, is a red marker leading to its stations
    expect(page.locator("#map .map-marker-down")).to_have_count(1)
    page.locator("#map .map-marker-down").click()
    expect(page.locator(".leaflet-popup-content a")).to_have_text("Harbour (0/1 online)")
