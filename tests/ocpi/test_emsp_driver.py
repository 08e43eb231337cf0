"""A driver of ours on a partner's network: finds its charge points with live status and tariff on the
account page, starts and stops charging there (Commands sender, result on our response_url), follows
the session, and finds the CDR in the history and on the invoice with the operator's markup."""

from datetime import date
from decimal import Decimal

import pytest

from billing.models import Invoice
from billing.services import InvoicePeriod, invoice_run
from ocpi import services
from ocpi.models import EmspCommand
from tests.ocpi.cpo import a_location, a_tariff
from tests.ocpi.test_emsp import a_cdr, a_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def partner_network(ocpi, cpo, cpo_partner):
    ocpi("PUT", "/ocpi/2.2.1/emsp/tariffs/BE/CPX/AC", token=cpo.token_c, body=a_tariff())
    ocpi("PUT", "/ocpi/2.2.1/emsp/locations/BE/CPX/LOC1", token=cpo.token_c, body=a_location())


def test_a_driver_sees_partner_charge_points_with_live_status_and_tariff(
    client, driver, card, partner_network, ocpi, cpo
):
    client.force_login(driver.user)
    ocpi("PATCH", "/ocpi/2.2.1/emsp/locations/BE/CPX/LOC1/LOC1-E2", token=cpo.token_c,
         body={"status": "CHARGING", "last_updated": "2026-11-02T10:00:00Z"})  # fmt: skip

    page = client.get("/account/roaming/").content.decode()
    fragment = client.get("/account/roaming/?fragment=locations").content.decode()

    assert "Grote Markt LOC1" in page and "Example CPO" in page
    assert "0.45 EUR/kWh (excl. VAT)" in page
    assert 'data-evse="LOC1-E1"><td>BE*CPX*ELOC11</td><td class="evse-status">AVAILABLE' in page
    assert 'data-evse="LOC1-E2"><td>BE*CPX*ELOC12</td><td class="evse-status">CHARGING' in page
    assert page.count("Start charging") == 1  # only the free one
    # the page refreshes the charge points from this fragment, so a status pushed later shows up
    assert 'data-include="/account/roaming/?fragment=locations"' in page
    assert 'data-evse="LOC1-E2"><td>BE*CPX*ELOC12</td><td class="evse-status">CHARGING' in fragment
    assert "<html" not in fragment


def test_a_driver_starts_and_stops_on_a_partner_network_and_follows_it(
    client,
    driver,
    card,
    partner_network,
    ocpi,
    cpo,
    eager_tasks,
    django_capture_on_commit_callbacks,
):
    from ocpi.models import PartnerLocation

    client.force_login(driver.user)
    location = PartnerLocation.objects.get()

    # when Dana starts charging at EVSE 1
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/account/roaming/start/", {"location": location.pk, "evse_uid": "LOC1-E1"})

    # then the CPO got START_SESSION with our response_url, her card and the place
    assert response.status_code == 302
    start = cpo.wait_for(lambda r: r.path == "/ocpi/2.2.1/commands/START_SESSION", what="START_SESSION")
    assert start.body["token"]["uid"] == "DANA0001" and start.body["token"]["valid"] is True
    assert (start.body["location_id"], start.body["evse_uid"]) == ("LOC1", "LOC1-E1")
    response_url = start.body["response_url"]
    assert response_url.startswith("http://testserver/ocpi/2.2.1/emsp/commands/START_SESSION/")
    assert "accepted, waiting for the charge point" in client.get("/account/roaming/live/").content.decode()

    # when the CPO posts the result and the session, which grows
    result = ocpi(
        "POST", response_url.replace("http://testserver", ""), token=cpo.token_c, body={"result": "ACCEPTED"}
    )
    reference = start.body["authorization_reference"]
    ocpi("PUT", "/ocpi/2.2.1/emsp/sessions/BE/CPX/S1", token=cpo.token_c,
         body=a_session(authorization_reference=reference))  # fmt: skip
    ocpi("PATCH", "/ocpi/2.2.1/emsp/sessions/BE/CPX/S1", token=cpo.token_c,
         body={"kwh": 4.25, "last_updated": "2026-11-20T09:20:00Z"})  # fmt: skip

    # then Dana sees it live
    assert result.body["status_code"] == 1000
    live = client.get("/account/roaming/live/").content.decode()
    assert "ACCEPTED" in live and 'data-session="S1" data-status="ACTIVE"' in live and "4.250 kWh" in live

    # when she stops it
    from ocpi.models import PartnerSession

    session = PartnerSession.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/account/roaming/sessions/{session.pk}/stop/")

    stop = cpo.wait_for(lambda r: r.path == "/ocpi/2.2.1/commands/STOP_SESSION", what="STOP_SESSION")
    assert stop.body["session_id"] == "S1" and stop.body["response_url"].endswith(
        str(EmspCommand.objects.get(command="STOP_SESSION").uuid)
    )


def test_another_driver_cannot_stop_the_session_and_a_card_not_roaming_cannot_start(
    client,
    driver,
    other_driver,
    card,
    partner_network,
    ocpi,
    cpo,
):
    from ocpi.models import PartnerLocation, PartnerSession

    ocpi("PUT", "/ocpi/2.2.1/emsp/sessions/BE/CPX/S1", token=cpo.token_c, body=a_session())
    client.force_login(other_driver.user)

    stop = client.post(f"/account/roaming/sessions/{PartnerSession.objects.get().pk}/stop/")
    start = client.post(
        "/account/roaming/start/",
        {"location": PartnerLocation.objects.get().pk, "evse_uid": "LOC1-E1"},
        follow=True,
    )

    assert stop.status_code == 404
    assert "none of your cards is enabled for roaming" in start.content.decode()
    assert not EmspCommand.objects.exists()


def test_the_partner_cdr_is_in_the_history_and_on_the_invoice_with_the_markup(
    client,
    driver,
    card,
    partner_network,
    ocpi,
    cpo,
    settings,
):
    settings.OCPI_ROAMING_MARKUP_PERCENT = Decimal("10")
    settings.OCPI_ROAMING_FEE = Decimal("0.50")
    settings.OCPI_ROAMING_VAT_PERCENT = Decimal("21")
    ocpi("POST", "/ocpi/2.2.1/emsp/cdrs", token=cpo.token_c, body=a_cdr())
    client.force_login(driver.user)
    assert "8.09 EUR" in client.get("/account/roaming/").content.decode()

    invoices = invoice_run(period=InvoicePeriod(date(2026, 11, 1), date(2026, 11, 30)))
    again = invoice_run(period=InvoicePeriod(date(2026, 11, 1), date(2026, 11, 30)))

    assert again == [] and len(invoices) == 1
    invoice = Invoice.objects.get()
    line = invoice.lines.get()
    assert (line.amount_excl_vat, line.amount_vat, line.amount_incl_vat) == (
        Decimal("6.69"),
        Decimal("1.40"),
        Decimal("8.09"),
    )
    assert line.description.startswith("Roaming: charging 2026-11-20") and "Example CPO" in line.description
    assert invoice.total_incl_vat == Decimal("8.09") and invoice.driver == driver
    assert invoice.number in client.get("/account/roaming/").content.decode()


def test_operators_see_partner_networks_and_enable_cards(
    client, operator, driver, partner_network, ocpi, cpo
):
    from rfid.services import id_token_create

    id_token_create(uid="NEWCARD1", driver=driver)
    client.force_login(operator)

    enabled = client.post("/roaming/cards/", {"uid": "newcard1", "enabled": "1"})
    unknown = client.post("/roaming/cards/", {"uid": "NOSUCH", "enabled": "1"})
    network = client.get("/roaming/network/").content.decode()

    assert enabled.status_code == 200 and "NEWCARD1" in enabled.content.decode()
    assert unknown.status_code == 400 and "no card with this uid" in unknown.content.decode()
    assert "Grote Markt LOC1" in network and "LOC1-E1: AVAILABLE" in network
    assert services.emsp_token_to_ocpi(driver.id_tokens.get().emsp_token)["valid"] is True
