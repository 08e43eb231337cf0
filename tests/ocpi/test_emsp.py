"""The eMSP role: our drivers' cards offered to CPO partners (Tokens sender, real-time authorization)
and what CPO partners send us (Locations, Tariffs, Sessions, CDR receivers; pulls), checked and stored
apart from our own network (docs/ocpi.md, "eMSP role")."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from ocpi import services
from ocpi.models import PartnerCdr, PartnerLocation, PartnerSession, PartnerTariff, Push
from rfid.models import AuthorizationLog
from rfid.services import id_token_block, id_token_create, id_token_update
from stations.models import Location
from tests.ocpi.cpo import a_location, a_tariff

pytestmark = pytest.mark.django_db


def deliver_all() -> None:
    for partner_id, object_key in services.pushes_due():
        services.push_deliver(partner_id=partner_id, object_key=object_key)


def a_session(session_id: str = "S1", uid: str = "DANA0001", **fields) -> dict:
    return {
        "country_code": "BE", "party_id": "CPX", "id": session_id, "start_date_time": "2026-11-20T09:00:00Z",
        "kwh": 0, "cdr_token": {"country_code": "NL", "party_id": "CNT", "uid": uid, "type": "RFID",
                                "contract_id": "NL-CNT-C00000001"},
        "auth_method": "COMMAND", "location_id": "LOC1", "evse_uid": "LOC1-E1", "connector_id": "1",
        "currency": "EUR", "status": "ACTIVE", "last_updated": "2026-11-20T09:00:00Z", **fields,
    }  # fmt: skip


def a_cdr(cdr_id: str = "CDR1", session_id: str = "S1", uid: str = "DANA0001", **fields) -> dict:
    return {
        "country_code": "BE", "party_id": "CPX", "id": cdr_id, "start_date_time": "2026-11-20T09:00:00Z",
        "end_date_time": "2026-11-20T10:00:00Z", "session_id": session_id,
        "cdr_token": {"country_code": "NL", "party_id": "CNT", "uid": uid, "type": "RFID",
                      "contract_id": "NL-CNT-C00000001"},
        "auth_method": "COMMAND",
        "cdr_location": {"id": "LOC1", "name": "Grote Markt LOC1", "address": "Grote Markt 1", "city": "Brussel",
                         "country": "BEL", "coordinates": {"latitude": "50.846557", "longitude": "4.351697"},
                         "evse_uid": "LOC1-E1", "evse_id": "BE*CPX*ELOC11", "connector_id": "1",
                         "connector_standard": "IEC_62196_T2", "connector_format": "SOCKET",
                         "connector_power_type": "AC_3_PHASE"},
        "currency": "EUR",
        "charging_periods": [{"start_date_time": "2026-11-20T09:00:00Z",
                              "dimensions": [{"type": "ENERGY", "volume": 12.5}]}],
        "total_cost": {"excl_vat": 5.63, "incl_vat": 6.81}, "total_energy": 12.5, "total_time": 1.0,
        "last_updated": "2026-11-20T10:00:00Z", **fields,
    }  # fmt: skip


# --- Tokens sender ----------------------------------------------------------------------------------


def test_a_cpo_pages_through_our_roaming_cards_with_filters(ocpi, cpo, cpo_partner, driver):
    for n in range(3):
        services.emsp_token_enable(id_token=id_token_create(uid=f"CARD{n}", driver=driver))
    id_token_create(uid="LOCALONLY", driver=driver)  # never offered

    first = ocpi("GET", "/ocpi/2.2.1/emsp/tokens?limit=2", token=cpo.token_c)
    following = first["Link"].split(";")[0].strip("<>")
    second = ocpi("GET", following.replace("http://testserver", ""), token=cpo.token_c)
    future = ocpi("GET", "/ocpi/2.2.1/emsp/tokens?date_from=2099-01-01T00:00:00Z", token=cpo.token_c)

    assert first.body["status_code"] == 1000 and first["X-Total-Count"] == "3"
    assert [t["uid"] for t in first.body["data"] + second.body["data"]] == ["CARD0", "CARD1", "CARD2"]
    assert "Link" not in second
    token = first.body["data"][0]
    assert token["country_code"] == "NL" and token["party_id"] == "CNT" and token["valid"] is True
    assert token["contract_id"].startswith("NL-CNT-C") and token["last_updated"].endswith("Z")
    assert future.body["data"] == [] and future["X-Total-Count"] == "0"


def test_a_card_is_pushed_to_cpos_when_offered_and_again_when_blocked(
    cpo, cpo_partner, driver, django_capture_on_commit_callbacks
):
    card = id_token_create(uid="DANA0001", driver=driver)

    # when the operator offers the card, then blocks it
    with django_capture_on_commit_callbacks(execute=True):
        services.emsp_token_enable(id_token=card)
    deliver_all()
    with django_capture_on_commit_callbacks(execute=True):
        id_token_block(id_token=card)
    deliver_all()

    # then the CPO got the card valid, then invalid, in that order
    puts = [r for r in cpo.received if r.path == "/ocpi/2.2.1/tokens/NL/CNT/DANA0001"]
    assert [r.method for r in puts] == ["PUT", "PUT"]
    assert [r.body["valid"] for r in puts] == [True, False]
    assert puts[0].body["whitelist"] == "ALLOWED" and puts[0].headers["ocpi-to-party-id"] == "CPX"
    assert puts[1].body["last_updated"] >= puts[0].body["last_updated"]


def test_an_expired_card_is_pushed_as_invalid_by_the_sweep(cpo, cpo_partner, card):
    id_token_update(id_token=card, expires_at=timezone.now() - timedelta(minutes=1))
    Push.objects.all().delete()  # what enabling queued

    pushed = services.emsp_tokens_expired_sync()
    deliver_all()

    assert pushed == 1
    assert cpo.received[-1].method == "PUT" and cpo.received[-1].body["valid"] is False
    assert services.emsp_tokens_expired_sync() == 0  # pushed once


def test_a_cpo_registering_later_gets_every_roaming_card(cpo, card):
    partner, _ = services.partner_create(name="Example CPO", country_code="BE", party_id="CPX", roles=["CPO"])
    services.partner_register_with(
        partner=partner, versions_url=cpo.versions_url, token_a="cpo-token-a",
        our_versions_url="http://testserver/ocpi/versions",
    )  # fmt: skip

    services.partner_initial_push(partner_id=partner.pk)
    deliver_all()

    assert any(r.path == "/ocpi/2.2.1/tokens/NL/CNT/DANA0001" and r.body["valid"] for r in cpo.received)


def test_real_time_authorization_answers_from_the_card_and_logs_the_place(ocpi, cpo, cpo_partner, card):
    body = {"location_id": "LOC1", "evse_uids": ["LOC1-E1"]}

    allowed = ocpi(
        "POST", "/ocpi/2.2.1/emsp/tokens/dana0001/authorize?type=RFID", token=cpo.token_c, body=body
    )
    id_token_block(id_token=card)
    blocked = ocpi("POST", "/ocpi/2.2.1/emsp/tokens/DANA0001/authorize", token=cpo.token_c, body=body)

    assert allowed.body["status_code"] == 1000 and allowed.body["data"]["allowed"] == "ALLOWED"
    assert allowed.body["data"]["token"]["uid"] == "DANA0001"
    assert allowed.body["data"]["location"] == body and allowed.body["data"]["authorization_reference"]
    assert blocked.body["data"]["allowed"] == "BLOCKED"
    logs = list(AuthorizationLog.objects.order_by("id"))
    assert [log.status for log in logs] == ["Accepted", "Blocked"]
    assert logs[0].station_identity == "BE*CPX LOC1/LOC1-E1" and logs[0].source == "ocpi-emsp"


def test_real_time_authorization_refuses_unknown_cards_and_bad_references(
    ocpi, cpo, cpo_partner, card, driver
):
    id_token_create(uid="NOTROAMING", driver=driver)

    unknown = ocpi("POST", "/ocpi/2.2.1/emsp/tokens/NOSUCH/authorize", token=cpo.token_c)
    not_roaming = ocpi("POST", "/ocpi/2.2.1/emsp/tokens/NOTROAMING/authorize", token=cpo.token_c)
    malformed = ocpi("POST", "/ocpi/2.2.1/emsp/tokens/DANA0001/authorize", token=cpo.token_c,
                     body={"evse_uids": "LOC1-E1"})  # fmt: skip
    nobody = ocpi("POST", "/ocpi/2.2.1/emsp/tokens/DANA0001/authorize", token="wrong")

    assert unknown.status_code == 404 and unknown.body["status_code"] == 2004
    assert not_roaming.status_code == 404 and not_roaming.body["status_code"] == 2004
    assert malformed.body["status_code"] == 2001
    assert nobody.status_code == 401
    assert not AuthorizationLog.objects.exists()


# --- Locations and tariffs receivers, pulls ---------------------------------------------------------


def test_a_cpo_pushes_a_location_and_then_an_evse_status(ocpi, cpo, cpo_partner):
    put = ocpi("PUT", "/ocpi/2.2.1/emsp/locations/BE/CPX/LOC1", token=cpo.token_c, body=a_location())
    patch = ocpi(
        "PATCH", "/ocpi/2.2.1/emsp/locations/BE/CPX/LOC1/LOC1-E2", token=cpo.token_c,
        body={"status": "CHARGING", "last_updated": "2026-11-02T10:00:00Z"},
    )  # fmt: skip
    fetched = ocpi("GET", "/ocpi/2.2.1/emsp/locations/BE/CPX/LOC1/LOC1-E2", token=cpo.token_c)

    assert put.status_code == 201 and put.body["status_code"] == 1000
    assert patch.status_code == 200 and patch.body["status_code"] == 1000
    assert fetched.body["data"]["status"] == "CHARGING"
    location = PartnerLocation.objects.get()
    assert [e["status"] for e in location.data["evses"]] == ["AVAILABLE", "CHARGING"]
    assert location.last_updated == datetime(2026, 11, 2, 10, tzinfo=UTC)
    assert not Location.objects.exists()  # never mixed into our own network


@pytest.mark.parametrize(
    ("path", "body", "method", "code"),
    [
        ("/BE/CPX/LOC1", a_location("OTHER"), "PUT", 2001),  # id differs from the URL
        ("/BE/CPX/LOC1", a_location(country_code="DE"), "PUT", 2001),  # party differs
        ("/DE/XXX/LOC1", a_location(country_code="DE", party_id="XXX"), "PUT", 2001),  # not its party
        ("/BE/CPX/LOC1", {**a_location(), "coordinates": {"latitude": "north"}}, "PUT", 2001),
        ("/BE/CPX/LOC1", {**a_location(), "evses": [{"uid": "E1", "status": "SLEEPING", "last_updated": "2026-11-01T10:00:00Z"}]}, "PUT", 2001),
        ("/BE/CPX/LOC1", {k: v for k, v in a_location().items() if k != "last_updated"}, "PUT", 2001),
        ("/BE/CPX/LOC1", {"status": "CHARGING", "last_updated": "2026-11-01T10:00:00Z"}, "PATCH", 2003),  # unknown
        ("/BE/CPX/LOC1/LOC1-E1", {"uid": "LOC1-E1", "status": "AVAILABLE", "last_updated": "2026-11-01T10:00:00Z"}, "PUT", 2003),
    ],
)  # fmt: skip
def test_bad_locations_get_ocpi_errors_and_nothing_is_stored(
    ocpi, cpo, cpo_partner, path, body, method, code
):
    response = ocpi(method, "/ocpi/2.2.1/emsp/locations" + path, token=cpo.token_c, body=body)

    assert response.body["status_code"] == code, response.body
    assert not PartnerLocation.objects.exists()


def test_a_patch_without_last_updated_changes_nothing(ocpi, cpo, cpo_partner):
    ocpi("PUT", "/ocpi/2.2.1/emsp/locations/BE/CPX/LOC1", token=cpo.token_c, body=a_location())

    response = ocpi("PATCH", "/ocpi/2.2.1/emsp/locations/BE/CPX/LOC1/LOC1-E1", token=cpo.token_c,
                    body={"status": "OUTOFORDER"})  # fmt: skip
    invalid = ocpi("POST", "/ocpi/2.2.1/emsp/cdrs", token=cpo.token_c, raw=b"{not json")

    assert response.body["status_code"] == 2001
    assert invalid.status_code == 400 and invalid.body["status_code"] == 2001
    assert PartnerLocation.objects.get().data["evses"][0]["status"] == "AVAILABLE"


def test_locations_and_tariffs_are_pulled_page_by_page_then_incrementally(cpo, cpo_partner):
    cpo.locations = [a_location(f"L{n}") for n in range(3)]
    cpo.tariffs = [a_tariff("AC"), a_tariff("BAD", currency="euro")]

    stored = services.partner_pull(partner_id=cpo_partner.pk, module="locations")
    services.partner_pull(partner_id=cpo_partner.pk, module="tariffs")
    services.partner_pull(partner_id=cpo_partner.pk, module="locations")

    assert stored == 3
    assert sorted(PartnerLocation.objects.values_list("object_id", flat=True)) == ["L0", "L1", "L2"]
    assert list(PartnerTariff.objects.values_list("object_id", flat=True)) == ["AC"]  # the bad one skipped
    pulls = [r for r in cpo.received if r.path == "/ocpi/2.2.1/locations"]
    assert [r.query.get("offset", ["0"])[0] for r in pulls[:2]] == ["0", "2"]  # followed Link rel="next"
    assert "date_from" not in pulls[0].query and pulls[-1].query["date_from"][0].endswith("Z")


def test_a_cpo_puts_and_deletes_a_tariff(ocpi, cpo, cpo_partner):
    put = ocpi("PUT", "/ocpi/2.2.1/emsp/tariffs/BE/CPX/AC", token=cpo.token_c, body=a_tariff())
    bad = ocpi("PUT", "/ocpi/2.2.1/emsp/tariffs/BE/CPX/DC", token=cpo.token_c,
               body=a_tariff("DC", elements=[{"price_components": [{"type": "BEER", "price": 1, "step_size": 1}]}]))  # fmt: skip
    assert put.status_code == 201 and bad.body["status_code"] == 2001
    assert list(PartnerTariff.objects.values_list("object_id", flat=True)) == ["AC"]

    deleted = ocpi("DELETE", "/ocpi/2.2.1/emsp/tariffs/BE/CPX/AC", token=cpo.token_c)

    assert deleted.body["status_code"] == 1000 and not PartnerTariff.objects.exists()


# --- Sessions and CDRs receivers ----------------------------------------------------------------------


def test_a_session_of_our_driver_is_stored_and_patched(ocpi, cpo, cpo_partner, card, driver):
    put = ocpi("PUT", "/ocpi/2.2.1/emsp/sessions/BE/CPX/S1", token=cpo.token_c, body=a_session())
    patch = ocpi("PATCH", "/ocpi/2.2.1/emsp/sessions/BE/CPX/S1", token=cpo.token_c,
                 body={"kwh": 3.2, "total_cost": {"excl_vat": 1.44}, "last_updated": "2026-11-20T09:10:00Z"})  # fmt: skip

    assert put.status_code == 201 and patch.body["status_code"] == 1000
    session = PartnerSession.objects.get()
    assert session.driver == driver and session.kwh == Decimal("3.2") and session.status == "ACTIVE"
    assert session.total_cost_excl_vat == Decimal("1.44")


def test_a_session_or_cdr_for_a_card_not_ours_is_refused(ocpi, cpo, cpo_partner, card, driver):
    id_token_create(uid="NOTROAMING", driver=driver)

    session = ocpi(
        "PUT", "/ocpi/2.2.1/emsp/sessions/BE/CPX/S9", token=cpo.token_c, body=a_session("S9", uid="STRANGER")
    )
    cdr = ocpi("POST", "/ocpi/2.2.1/emsp/cdrs", token=cpo.token_c, body=a_cdr(uid="NOTROAMING"))
    unknown_patch = ocpi("PATCH", "/ocpi/2.2.1/emsp/sessions/BE/CPX/S9", token=cpo.token_c,
                         body={"kwh": 1, "last_updated": "2026-11-20T09:10:00Z"})  # fmt: skip

    assert session.body["status_code"] == 2001 and cdr.body["status_code"] == 2001
    assert unknown_patch.status_code == 404
    assert not PartnerSession.objects.exists() and not PartnerCdr.objects.exists()


def test_a_cdr_is_stored_once_and_priced_with_the_operators_markup(
    ocpi, cpo, cpo_partner, card, driver, settings
):
    settings.OCPI_ROAMING_MARKUP_PERCENT = Decimal("10")
    settings.OCPI_ROAMING_FEE = Decimal("0.50")
    settings.OCPI_ROAMING_VAT_PERCENT = Decimal("21")

    first = ocpi("POST", "/ocpi/2.2.1/emsp/cdrs", token=cpo.token_c, body=a_cdr())
    replay = ocpi("POST", "/ocpi/2.2.1/emsp/cdrs", token=cpo.token_c, body=a_cdr())
    fetched = ocpi("GET", first["Location"].replace("http://testserver", ""), token=cpo.token_c)

    assert first.status_code == 201 and first.body["status_code"] == 1000
    assert replay.status_code == 200 and replay["Location"] == first["Location"]
    assert fetched.body["data"]["id"] == "CDR1"
    cdr = PartnerCdr.objects.get()
    # 5.63 + 10 % (0.563) + 0.50 = 6.693 → 6.69 net; 21 % VAT 1.4049 → 1.40; 8.09 in all
    assert (cdr.driver_excl_vat, cdr.driver_vat, cdr.driver_incl_vat) == (
        Decimal("6.69"), Decimal("1.40"), Decimal("8.09"))  # fmt: skip
    assert cdr.driver == driver


def test_a_cdr_for_a_session_of_another_party_is_refused_and_a_second_one_is_flagged(
    ocpi, cpo, cpo_partner, card
):
    other, _ = services.partner_create(name="Other CPO", country_code="FR", party_id="OTH", roles=["CPO"])
    PartnerSession.objects.create(
        partner=other, country_code="FR", party_id="OTH", object_id="S7", data={}, id_token=card, status="ACTIVE",
        start_date_time=timezone.now(), last_updated=timezone.now(),
    )  # fmt: skip
    ocpi("PUT", "/ocpi/2.2.1/emsp/sessions/BE/CPX/S1", token=cpo.token_c,
         body=a_session(status="COMPLETED", kwh=12.5, total_cost={"excl_vat": 5.63}))  # fmt: skip

    stolen = ocpi("POST", "/ocpi/2.2.1/emsp/cdrs", token=cpo.token_c, body=a_cdr("CDR7", session_id="S7"))
    ocpi("POST", "/ocpi/2.2.1/emsp/cdrs", token=cpo.token_c, body=a_cdr("CDR1"))
    ocpi(
        "POST", "/ocpi/2.2.1/emsp/cdrs", token=cpo.token_c, body=a_cdr("CDR2", total_cost={"excl_vat": 9.99})
    )

    assert stolen.body["status_code"] == 2001
    assert list(PartnerCdr.objects.order_by("id").values_list("object_id", "duplicate_of__object_id")) == [
        ("CDR1", None), ("CDR2", "CDR1")]  # fmt: skip
    issues = services_reconciliation(cpo_partner)
    assert ("duplicate", "CDR2") in issues and not any(kind == "differing" for kind, _ in issues)


def services_reconciliation(partner):
    from ocpi.selectors import roaming_reconciliation

    return [(i["kind"], i["object"]) for i in roaming_reconciliation(partner=partner)]


def test_reconciliation_flags_missing_and_differing_cdrs(ocpi, cpo, cpo_partner, card):
    for sid in ("S1", "S2"):
        ocpi("PUT", f"/ocpi/2.2.1/emsp/sessions/BE/CPX/{sid}", token=cpo.token_c,
             body=a_session(sid, status="COMPLETED", kwh=12.5, total_cost={"excl_vat": 5.63}))  # fmt: skip

    ocpi("POST", "/ocpi/2.2.1/emsp/cdrs", token=cpo.token_c, body=a_cdr("CDR1", total_energy=20))

    issues = services_reconciliation(cpo_partner)
    assert ("missing", "S2") in issues and ("differing", "CDR1") in issues


def test_a_cpo_only_deployment_advertises_no_emsp_role(ocpi, partner_with_token_a, settings):
    settings.OCPI_EMSP_ROLE = False
    _, token_a = partner_with_token_a

    details = ocpi("GET", "/ocpi/2.2.1", token=token_a)

    assert not [e for e in details.body["data"]["endpoints"] if "/emsp/" in e["url"]]
    assert {(e["identifier"], e["role"]) for e in details.body["data"]["endpoints"]} >= {
        ("tokens", "RECEIVER")
    }
