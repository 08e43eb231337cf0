"""OCPI 2.1.1 beside 2.2.1: version negotiation, the flat credentials, every module's 2.1.1 shapes in
and out, pushes and callbacks in the partner's version, and 2.1.1 errors (docs/ocpi.md, "OCPI 2.1.1")."""

from decimal import Decimal

import pytest

from billing.models import Cdr
from billing.services import tariff_create
from ocpi import selectors, services
from ocpi.models import Partner, PartnerCdr, PartnerLocation, PartnerSession, RemoteCommand, RoamingToken
from rfid.models import IdToken
from stations.models import Command, Evse, Station
from tests.ocpi.test_push import ENERGY, charge_an_hour, deliver_all

pytestmark = pytest.mark.django_db


def a_token_211(uid: str = "OLD123", **fields) -> dict:
    """A 2.1.1 Token: no owner fields, `auth_id` for the contract."""
    return {
        "uid": uid, "type": "RFID", "auth_id": f"DE-EMS-C{uid}", "visual_number": "DE-EMS-0002",
        "issuer": "Example eMSP", "valid": True, "whitelist": "ALLOWED", "last_updated": "2026-11-30T10:00:00Z",
        **fields,
    }  # fmt: skip


@pytest.fixture
def registered_211(ocpi, emsp, partner_with_token_a):
    """The fake eMSP registered through our 2.1.1 credentials endpoint (flat credentials, raw token)."""
    emsp.versions_offered = ("2.1.1",)
    partner, token_a = partner_with_token_a
    response = ocpi(
        "POST", "/ocpi/2.1.1/credentials", token=token_a, encode=False, body=emsp.credentials("2.1.1")
    )
    assert response.body["status_code"] == 1000, response.body
    partner.refresh_from_db()
    return partner, response.body["data"]["token"]


def test_both_versions_are_listed_and_the_211_details_have_no_roles(ocpi, partner_with_token_a):
    _, token_a = partner_with_token_a

    details = ocpi("GET", "/ocpi/2.1.1", token=token_a, encode=False)

    assert details.body["data"]["version"] == "2.1.1"
    endpoints = details.body["data"]["endpoints"]
    assert all(set(e) == {"identifier", "url"} for e in endpoints)
    # an eMSP sees ChargeNet as a CPO: our senders and receivers, and none of 2.2.1's extra modules
    assert {e["identifier"]: e["url"] for e in endpoints} == {
        m: f"http://testserver/ocpi/2.1.1/{m}"
        for m in ("credentials", "locations", "tariffs", "sessions", "cdrs", "tokens", "commands")
    }


def test_a_cpo_partner_sees_our_emsp_modules_in_the_211_details(ocpi):
    _, token_a = services.partner_create(name="Old CPO", country_code="BE", party_id="OLD", roles=["CPO"])

    details = ocpi("GET", "/ocpi/2.1.1/", token=token_a, encode=False)

    urls = {e["identifier"]: e["url"] for e in details.body["data"]["endpoints"]}
    assert urls["locations"] == "http://testserver/ocpi/2.1.1/emsp/locations"
    assert urls["commands"] == "http://testserver/ocpi/2.1.1/emsp/commands"


def test_an_emsp_registers_through_211_with_flat_credentials_and_a_raw_token(ocpi, emsp, registered_211):
    partner, token_c = registered_211

    # ChargeNet fetched the 2.1.1 details with the eMSP's token as is
    fetched = [r for r in emsp.received if r.method == "GET"]
    assert [r.path for r in fetched] == ["/ocpi/versions", "/ocpi/2.1.1"]
    assert all(r.headers["authorization"] == f"Token {emsp.token_b}" for r in fetched)
    assert partner.version == "2.1.1" and partner.status == Partner.Status.REGISTERED
    assert partner.endpoint("sessions") == f"{emsp.base}/ocpi/2.1.1/sessions"
    assert partner.endpoint("tokens", "SENDER") == f"{emsp.base}/ocpi/2.1.1/tokens"
    # and answered with the flat 2.1.1 object for its CPO role
    answer = ocpi("GET", "/ocpi/2.1.1/credentials", token=token_c, encode=False).body["data"]
    assert answer == {
        "token": token_c, "url": "http://testserver/ocpi/versions", "business_details": {"name": "ChargeNet"},
        "party_id": "CNT", "country_code": "NL",
    }  # fmt: skip


def test_chargenet_registers_with_the_highest_version_both_speak(emsp, partner_with_token_a):
    partner, _ = partner_with_token_a
    emsp.versions_offered = ("2.1.1", "2.2.1")

    services.partner_register_with(
        partner=partner, versions_url=emsp.versions_url, token_a="a-token-a",
        our_versions_url="http://testserver/ocpi/versions",
    )  # fmt: skip

    partner.refresh_from_db()
    assert partner.version == "2.2.1"
    assert [r.path for r in emsp.received if r.method == "POST"] == ["/ocpi/2.2.1/credentials"]


def test_chargenet_registers_with_a_211_only_platform_in_211(emsp, partner_with_token_a):
    partner, _ = partner_with_token_a
    emsp.versions_offered = ("2.1.1",)

    services.partner_register_with(
        partner=partner, versions_url=emsp.versions_url, token_a="a-token-a",
        our_versions_url="http://testserver/ocpi/versions",
    )  # fmt: skip

    partner.refresh_from_db()
    assert partner.version == "2.1.1" and partner.token_b == emsp.token_b
    posted = next(r for r in emsp.received if r.method == "POST")
    assert posted.path == "/ocpi/2.1.1/credentials"
    assert posted.headers["authorization"] == "Token a-token-a"
    assert set(posted.body) == {"token", "url", "business_details", "party_id", "country_code"}
    assert "ocpi-from-party-id" not in posted.headers


def test_a_platform_that_refuses_a_base64_token_gets_it_raw_from_then_on(emsp, partner_with_token_a):
    partner, _ = partner_with_token_a
    emsp.raw_tokens_only = True

    services.partner_register_with(
        partner=partner, versions_url=emsp.versions_url, token_a="a-token-a",
        our_versions_url="http://testserver/ocpi/versions",
    )  # fmt: skip

    partner.refresh_from_db()
    assert partner.status == Partner.Status.REGISTERED and partner.version == "2.2.1"
    assert partner.send_base64 is False
    calls = [(r.method, r.path, r.headers["authorization"]) for r in emsp.received]
    assert calls[0][2] != "Token a-token-a"  # first base64, refused
    assert calls[1:4] == [("GET", "/ocpi/versions", "Token a-token-a"), ("GET", "/ocpi/2.2.1", "Token a-token-a"),
                         ("POST", "/ocpi/2.2.1/credentials", "Token a-token-a")]  # fmt: skip


def test_an_operator_may_pin_211_for_a_partner_that_speaks_both(emsp, partner_with_token_a):
    partner, _ = partner_with_token_a
    emsp.versions_offered = ("2.1.1", "2.2.1")

    with pytest.raises(services.PartnerError, match="version must be one of"):
        services.partner_register_with(partner=partner, versions_url=emsp.versions_url, token_a="a-token-a",
                                       our_versions_url="http://testserver/ocpi/versions", version="2.0")  # fmt: skip
    services.partner_register_with(
        partner=partner, versions_url=emsp.versions_url, token_a="a-token-a",
        our_versions_url="http://testserver/ocpi/versions", version="2.1.1",
    )  # fmt: skip

    partner.refresh_from_db()
    assert partner.version == "2.1.1"
    assert [r.path for r in emsp.received if r.method == "POST"] == ["/ocpi/2.1.1/credentials"]


def test_locations_and_tariffs_are_served_in_211_shapes(ocpi, registered_211, network):
    _, token = registered_211
    tariff_create(code="AC-1", name="AC", currency="EUR", elements=ENERGY, is_default=True)

    locations = ocpi("GET", "/ocpi/2.1.1/locations", token=token, encode=False)
    connector = ocpi(
        "GET", f"/ocpi/2.1.1/locations/{network[0].pk}/{network[0].stations.first().evses.first().pk}/1",
        token=token, encode=False,
    )  # fmt: skip
    tariffs = ocpi("GET", "/ocpi/2.1.1/tariffs", token=token, encode=False)

    location = locations.body["data"][0]
    assert location["type"] == "UNKNOWN" and location["country"] == "NLD"
    assert not {"publish", "country_code", "party_id"} & set(location)
    assert connector.body["data"]["voltage"] == 230 and connector.body["data"]["tariff_id"] == "AC-1"
    assert not {"max_voltage", "tariff_ids", "max_electric_power"} & set(connector.body["data"])
    tariff = tariffs.body["data"][0]
    assert not {"country_code", "party_id", "type", "min_price", "max_price"} & set(tariff)
    assert tariff["elements"] == [{"price_components": [{"type": "ENERGY", "price": 0.35, "step_size": 1}]}]
    # pagination works the same
    assert locations["X-Total-Count"] == "2"
    # no routing headers in 2.1.1
    assert "OCPI-from-party-id" not in locations


def test_a_211_token_becomes_a_roaming_card_and_reads_back_in_211(ocpi, registered_211):
    _, token = registered_211

    created = ocpi("PUT", "/ocpi/2.1.1/tokens/DE/EMS/OLD123", token=token, encode=False, body=a_token_211())
    patched = ocpi(
        "PATCH", "/ocpi/2.1.1/tokens/DE/EMS/OLD123", token=token, encode=False, body={"valid": False}
    )
    fetched = ocpi("GET", "/ocpi/2.1.1/tokens/DE/EMS/old123", token=token, encode=False)

    assert created.status_code == 201 and patched.body["status_code"] == 1000
    stored = RoamingToken.objects.get()
    assert (stored.country_code, stored.party_id, stored.contract_id) == ("DE", "EMS", "DE-EMS-COLD123")
    assert IdToken.objects.get(uid="OLD123").status == IdToken.Status.BLOCKED
    data = fetched.body["data"]
    assert data["auth_id"] == "DE-EMS-COLD123" and data["valid"] is False
    assert not {"country_code", "party_id", "contract_id"} & set(data)


def test_211_errors_use_211_status_codes_in_the_envelope(ocpi, registered_211):
    _, token = registered_211

    unknown = ocpi("GET", "/ocpi/2.1.1/tokens/DE/EMS/NOBODY", token=token, encode=False)
    bad_json = ocpi("PUT", "/ocpi/2.1.1/tokens/DE/EMS/OLD123", token=token, encode=False, raw=b"{nope")
    no_issuer = ocpi(
        "PUT", "/ocpi/2.1.1/tokens/DE/EMS/OLD123", token=token, encode=False, body=a_token_211(issuer=None)
    )
    no_token = ocpi("GET", "/ocpi/2.1.1/locations")

    # 2.1.1 has no 2004: an unknown token is the generic client error, with the 404
    assert unknown.status_code == 404 and unknown.body["status_code"] == 2000
    assert bad_json.status_code == 400 and bad_json.body["status_code"] == 2001
    assert no_issuer.body["status_code"] == 2001 and "issuer" in no_issuer.body["status_message"]
    assert no_token.status_code == 401 and no_token.body["timestamp"].endswith("Z")
    assert not RoamingToken.objects.exists()


def test_a_211_never_token_is_authorized_in_real_time_with_a_211_answer(ocpi, emsp, registered_211, network):
    from rfid.services import AuthorizationContext, id_token_authorize

    _, token = registered_211
    ocpi("PUT", "/ocpi/2.1.1/tokens/DE/EMS/NEV2", token=token, encode=False,
         body=a_token_211(uid="NEV2", whitelist="NEVER"))  # fmt: skip
    emsp.authorize["NEV2"] = {"allowed": "BLOCKED"}  # a 2.1.1 AuthorizationInfo: no token, no reference

    decision = id_token_authorize(uid="NEV2", context=AuthorizationContext(station_identity="CP-1"))

    assert decision.status == "Blocked"
    asked = next(r for r in emsp.received if r.path.endswith("/authorize"))
    assert asked.path == "/ocpi/2.1.1/tokens/NEV2/authorize" and asked.query == {}
    assert asked.body["location_id"] == str(network[0].pk)
    assert (
        asked.headers["authorization"] == f"Token {emsp.token_b}" and "ocpi-to-party-id" not in asked.headers
    )


def test_211_commands_answer_a_command_response_and_post_the_result_in_the_same_shape(
    ocpi, emsp, registered_211, network
):
    from stations.connection.services.commands import command_complete

    _, token = registered_211
    Station.objects.filter(identity="CP-1").update(channel_name="test.channel")
    evse = Evse.objects.get(station__identity="CP-1", evse_id=1)
    body = {"response_url": f"{emsp.base}/results/211", "token": a_token_211(), "location_id": str(network[0].pk),
            "evse_uid": str(evse.pk)}  # fmt: skip

    response = ocpi("POST", "/ocpi/2.1.1/commands/START_SESSION", token=token, encode=False, body=body)
    cancel = ocpi(
        "POST", "/ocpi/2.1.1/commands/CANCEL_RESERVATION", token=token, encode=False,
        body={"response_url": f"{emsp.base}/results/212", "reservation_id": 1},
    )  # fmt: skip
    command = Command.objects.get()
    Command.objects.filter(pk=command.pk).update(status=Command.Status.SENT)
    command_complete(command_id=command.pk, response={"status": "Rejected"})
    services.remote_command_result_send(remote_command_id=RemoteCommand.objects.get().pk)

    assert response.body["data"] == {"result": "ACCEPTED"}  # no timeout in 2.1.1
    assert command.payload == {"connectorId": 1, "idTag": "OLD123"}
    assert RoamingToken.objects.get().contract_id == "DE-EMS-COLD123"
    assert cancel.body["data"] == {"result": "NOT_SUPPORTED"}
    result = next(r for r in emsp.received if r.path == "/results/211")
    assert result.body == {"result": "REJECTED"}
    assert result.headers["authorization"] == f"Token {emsp.token_b}"


def test_a_211_partner_gets_its_session_and_cdr_in_211_shapes(
    ocpi, emsp, registered_211, network, django_capture_on_commit_callbacks
):
    partner, token = registered_211
    ocpi("PUT", "/ocpi/2.1.1/tokens/DE/EMS/OLD123", token=token, encode=False, body=a_token_211())
    tariff_create(code="AC-1", name="AC", currency="EUR", elements=ENERGY, is_default=True)

    # when a car charges 12.345 kWh with the eMSP's card
    session, cdr = charge_an_hour(django_capture_on_commit_callbacks, id_tag="OLD123")

    # then the session is a 2.1.1 Session with its Location embedded
    put = [r for r in emsp.pushes("sessions", "2.1.1") if r.method == "PUT"][-1]
    assert put.path == f"/ocpi/2.1.1/sessions/NL/CNT/{session.pk}"
    assert put.headers["authorization"] == f"Token {emsp.token_b}"
    body = put.body
    assert body["start_datetime"] == "2026-11-30T09:00:00Z" and body["end_datetime"] == "2026-11-30T10:00:00Z"
    assert body["auth_id"] == "DE-EMS-COLD123" and body["auth_method"] == "WHITELIST"
    assert body["location"]["id"] == str(network[0].pk) and len(body["location"]["evses"]) == 1
    assert body["total_cost"] == 4.32 and body["kwh"] == 12.345
    assert not {"cdr_token", "start_date_time", "location_id"} & set(body)
    # and the CDR a 2.1.1 CDR with the same total, to the cent
    posted = emsp.wait_for(lambda r: r.method == "POST" and r.path == "/ocpi/2.1.1/cdrs", what="the CDR")
    assert posted.body["id"] == cdr.cdr_id and posted.body["stop_date_time"] == "2026-11-30T10:00:00Z"
    assert Decimal(str(posted.body["total_cost"])) == Cdr.objects.get().total_excl_vat == Decimal("4.32")
    assert posted.body["auth_id"] == "DE-EMS-COLD123"
    assert not {"cdr_token", "session_id", "cdr_location", "end_date_time"} & set(posted.body)
    assert all("tariff_id" not in p for p in posted.body["charging_periods"])
    # and pulling gives the same shapes
    pulled = ocpi("GET", "/ocpi/2.1.1/cdrs", token=token, encode=False).body["data"]
    assert pulled[0]["total_cost"] == posted.body["total_cost"]
    sessions = ocpi("GET", "/ocpi/2.1.1/sessions", token=token, encode=False).body["data"]
    assert sessions[0]["auth_id"] == "DE-EMS-COLD123"
    assert partner.version == "2.1.1"


# --- the eMSP role in 2.1.1: a CPO partner that speaks only 2.1.1 -----------------------------------


@pytest.fixture
def cpo_211(ocpi, emsp):
    """A 2.1.1 CPO (BE*OLD) registered with ChargeNet through our 2.1.1 credentials endpoint."""
    emsp.versions_offered = ("2.1.1",)
    emsp.country_code, emsp.party_id = "BE", "OLD"
    partner, token_a = services.partner_create(
        name="Old CPO", country_code="BE", party_id="OLD", roles=["CPO"]
    )
    response = ocpi(
        "POST", "/ocpi/2.1.1/credentials", token=token_a, encode=False, body=emsp.credentials("2.1.1")
    )
    assert response.body["status_code"] == 1000, response.body
    partner.refresh_from_db()
    return partner, response.body["data"]["token"]


def a_location_211(location_id: str = "L1") -> dict:
    return {
        "id": location_id, "type": "ON_STREET", "name": "Markt", "address": "Markt 1", "city": "Gent", "country": "BEL",
        "coordinates": {"latitude": "51.054342", "longitude": "3.717424"}, "time_zone": "Europe/Brussels",
        "evses": [{"uid": f"{location_id}-E1", "evse_id": "BE*OLD*E1", "status": "AVAILABLE", "last_updated": "2026-11-01T10:00:00Z",
                   "connectors": [{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE",
                                   "voltage": 230, "amperage": 16, "tariff_id": "T1", "last_updated": "2026-11-01T10:00:00Z"}]}],
        "last_updated": "2026-11-01T10:00:00Z",
    }  # fmt: skip


def test_a_211_cpo_pushes_a_location_a_session_and_a_cdr_of_our_driver(ocpi, cpo_211, card, driver, settings):
    settings.OCPI_ROAMING_MARKUP_PERCENT = Decimal("10")
    settings.OCPI_ROAMING_FEE = Decimal("0.50")
    settings.OCPI_ROAMING_VAT_PERCENT = Decimal("21")
    partner, token = cpo_211
    contract = card.emsp_token.contract_id
    location = a_location_211()

    put_location = ocpi(
        "PUT", "/ocpi/2.1.1/emsp/locations/BE/OLD/L1", token=token, encode=False, body=location
    )
    patch_evse = ocpi(
        "PATCH", "/ocpi/2.1.1/emsp/locations/BE/OLD/L1/L1-E1", token=token, encode=False, body={"status": "CHARGING"}
    )  # fmt: skip
    session = {"id": "S1", "start_datetime": "2026-11-30T09:00:00Z", "kwh": 12.5, "auth_id": contract,
               "auth_method": "AUTH_REQUEST", "location": location, "currency": "EUR", "total_cost": 5.63,
               "status": "COMPLETED", "last_updated": "2026-11-30T10:00:00Z", "end_datetime": "2026-11-30T10:00:00Z"}  # fmt: skip
    put_session = ocpi("PUT", "/ocpi/2.1.1/emsp/sessions/BE/OLD/S1", token=token, encode=False, body=session)
    periods = [
        {"start_date_time": "2026-11-30T09:00:00Z", "dimensions": [{"type": "ENERGY", "volume": 12.5}]}
    ]
    for _ in range(2):  # a 2.1.1 PATCH replaces the periods (2.2.1 would append them)
        ocpi("PATCH", "/ocpi/2.1.1/emsp/sessions/BE/OLD/S1", token=token, encode=False,
             body={"charging_periods": periods})  # fmt: skip
    cdr = {"id": "CDR1", "start_date_time": "2026-11-30T09:00:00Z", "stop_date_time": "2026-11-30T10:00:00Z",
           "auth_id": contract, "auth_method": "AUTH_REQUEST", "location": location, "currency": "EUR",
           "charging_periods": [{"start_date_time": "2026-11-30T09:00:00Z",
                                 "dimensions": [{"type": "ENERGY", "volume": 12.5}]}],
           "total_cost": 5.63, "total_energy": 12.5, "total_time": 1.0, "last_updated": "2026-11-30T10:00:00Z"}  # fmt: skip
    post_cdr = ocpi("POST", "/ocpi/2.1.1/emsp/cdrs", token=token, encode=False, body=cdr)
    foreign = ocpi(
        "POST", "/ocpi/2.1.1/emsp/cdrs", token=token, encode=False, body={**cdr, "id": "CDR2", "auth_id": "XX-YYY-1"}
    )  # fmt: skip

    assert [r.status_code for r in (put_location, put_session, post_cdr)] == [201, 201, 201]
    assert patch_evse.body["status_code"] == 1000
    stored = PartnerLocation.objects.get(partner=partner)
    assert stored.data["evses"][0]["status"] == "CHARGING"
    assert stored.data["evses"][0]["connectors"][0]["tariff_ids"] == ["T1"]
    assert PartnerSession.objects.get().driver == driver
    assert PartnerSession.objects.get().data["charging_periods"] == periods
    row = PartnerCdr.objects.get()
    assert (row.kwh, row.partner_excl_vat) == (Decimal("12.5"), Decimal("5.63"))
    assert (row.driver_excl_vat, row.driver_incl_vat, row.driver) == (
        Decimal("6.69"),
        Decimal("8.09"),
        driver,
    )
    assert post_cdr["Location"] == f"http://testserver/ocpi/2.1.1/emsp/cdrs/{row.pk}"
    # the 2.1.1 CDR names no session: it is matched to the session by card and start, so the
    # reconciliation finds nothing wrong
    assert row.session_id == "S1" and selectors.roaming_reconciliation(partner=partner) == []
    # a CDR for a card that is not ours is refused, nothing stored
    assert foreign.body["status_code"] == 2001 and PartnerCdr.objects.count() == 1


def test_our_card_is_offered_and_authorized_in_211_shapes(ocpi, cpo_211, card):
    _, token = cpo_211

    listed = ocpi("GET", "/ocpi/2.1.1/emsp/tokens", token=token, encode=False)
    allowed = ocpi(
        "POST", f"/ocpi/2.1.1/emsp/tokens/{card.uid}/authorize", token=token, encode=False,
        body={"location_id": "L1"},
    )  # fmt: skip
    unknown = ocpi("POST", "/ocpi/2.1.1/emsp/tokens/NOBODY/authorize", token=token, encode=False)

    assert listed.body["data"][0]["auth_id"] == card.emsp_token.contract_id
    assert not {"country_code", "party_id", "contract_id"} & set(listed.body["data"][0])
    assert allowed.body["data"]["allowed"] == "ALLOWED"
    assert set(allowed.body["data"]) == {"allowed", "location", "info"}
    assert unknown.status_code == 404 and unknown.body["status_code"] == 2000


def test_our_card_is_pushed_to_a_211_cpo_and_a_driver_starts_charging_there_in_211(
    client, ocpi, emsp, cpo_211, card, driver, eager_tasks, django_capture_on_commit_callbacks
):
    from ocpi.models import EmspCommand

    partner, token = cpo_211
    deliver_all()
    ocpi("PUT", "/ocpi/2.1.1/emsp/locations/BE/OLD/L1", token=token, encode=False, body=a_location_211())
    client.force_login(driver.user)

    # when Dana starts charging at the 2.1.1 CPO's EVSE
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/account/roaming/start/", {"location": PartnerLocation.objects.get().pk, "evse_uid": "L1-E1"}
        )

    # then the CPO got her card as a 2.1.1 Token, and START_SESSION in 2.1.1
    pushed = next(r for r in emsp.pushes("tokens", "2.1.1") if r.method == "PUT")
    assert pushed.path == f"/ocpi/2.1.1/tokens/NL/CNT/{card.uid}"
    assert pushed.body["auth_id"] == card.emsp_token.contract_id and "contract_id" not in pushed.body
    start = emsp.wait_for(lambda r: r.path == "/ocpi/2.1.1/commands/START_SESSION", what="START_SESSION")
    assert start.headers["authorization"] == f"Token {emsp.token_b}"
    assert "authorization_reference" not in start.body and start.body["token"]["auth_id"]
    command = EmspCommand.objects.get()
    assert command.status == EmspCommand.Status.SENT
    assert (
        start.body["response_url"]
        == f"http://testserver/ocpi/2.1.1/emsp/commands/START_SESSION/{command.uuid}"
    )
    # and the CPO's 2.1.1 result (a CommandResponse) reaches the driver's command
    result = ocpi(
        "POST", start.body["response_url"].replace("http://testserver", ""), token=token, encode=False,
        body={"result": "ACCEPTED"},
    )  # fmt: skip
    assert result.body["status_code"] == 1000
    command.refresh_from_db()
    assert (command.status, command.result) == (EmspCommand.Status.DONE, "ACCEPTED")
