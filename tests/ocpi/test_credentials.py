"""Versions, credentials and the transport rules (checklist A and B of docs/ocpi.md)."""

import base64

import pytest

from ocpi.models import Partner, RequestLog

pytestmark = pytest.mark.django_db


def test_versions_without_a_token_are_refused_with_401_in_the_ocpi_envelope(ocpi):
    response = ocpi("GET", "/ocpi/versions")

    assert response.status_code == 401
    assert response.body["status_code"] == 2000
    assert response.body["timestamp"].endswith("Z")


def test_token_a_opens_the_versions_and_their_details_with_absolute_urls(ocpi, partner_with_token_a):
    _, token_a = partner_with_token_a

    versions = ocpi("GET", "/ocpi/versions", token=token_a)
    details = ocpi("GET", "/ocpi/2.2.1/", token=token_a)

    assert versions.status_code == 200
    assert versions.body["data"] == [
        {"version": "2.2.1", "url": "http://testserver/ocpi/2.2.1"},
        {"version": "2.1.1", "url": "http://testserver/ocpi/2.1.1"},
    ]
    endpoints = {(e["identifier"], e["role"]): e["url"] for e in details.body["data"]["endpoints"]}
    assert endpoints[("locations", "SENDER")] == "http://testserver/ocpi/2.2.1/locations"
    assert ("tokens", "RECEIVER") in endpoints and ("commands", "RECEIVER") in endpoints
    assert ("cdrs", "SENDER") in endpoints and ("credentials", "SENDER") in endpoints


def test_token_a_does_not_open_a_functional_module(ocpi, partner_with_token_a):
    _, token_a = partner_with_token_a

    response = ocpi("GET", "/ocpi/2.2.1/locations", token=token_a)

    assert response.status_code == 401
    assert "register first" in response.body["status_message"]


def test_an_emsp_registers_with_token_a_and_gets_a_new_token_that_replaces_it(
    ocpi, emsp, partner_with_token_a
):
    partner, token_a = partner_with_token_a

    # when
    response = ocpi("POST", "/ocpi/2.2.1/credentials", token=token_a, body=emsp.credentials())

    # then ChargeNet fetched the eMSP's versions and details with token B, base64-encoded
    assert response.status_code == 200 and response.body["status_code"] == 1000
    fetched = [r for r in emsp.received if r.method == "GET"]
    assert [r.path for r in fetched] == ["/ocpi/versions", "/ocpi/2.2.1"]
    assert all(
        r.headers["authorization"] == "Token " + base64.b64encode(emsp.token_b.encode()).decode()
        for r in fetched
    )
    credentials = response.body["data"]
    assert credentials["token"] not in ("", token_a)
    assert credentials["url"] == "http://testserver/ocpi/versions"
    assert credentials["roles"] == [
        {"role": "CPO", "country_code": "NL", "party_id": "CNT", "business_details": {"name": "ChargeNet"}},
        {"role": "EMSP", "country_code": "NL", "party_id": "CNT", "business_details": {"name": "ChargeNet"}},
    ]
    partner.refresh_from_db()
    assert partner.status == Partner.Status.REGISTERED
    assert partner.endpoint("sessions") == f"{emsp.base}/ocpi/2.2.1/sessions"
    # token A is spent, token C works
    assert ocpi("GET", "/ocpi/versions", token=token_a).status_code == 401
    assert ocpi("GET", "/ocpi/2.2.1/locations", token=credentials["token"]).status_code == 200


def test_tokens_are_stored_only_as_hashes_and_never_in_the_request_log(registered):
    partner, token_c = registered

    assert token_c not in str(Partner.objects.filter(pk=partner.pk).values().first())
    logged = " ".join(
        f"{r.request_body} {r.response_body}" for r in RequestLog.objects.filter(direction="in")
    )
    assert base64.b64encode(token_c.encode()).decode() not in logged


def test_a_raw_unencoded_token_is_accepted_as_well(ocpi, registered):
    _, token_c = registered

    response = ocpi("GET", "/ocpi/2.2.1/tariffs", token=token_c, encode=False)

    assert response.status_code == 200


def test_a_second_registration_is_refused_with_405(ocpi, emsp, registered):
    _, token_c = registered

    response = ocpi("POST", "/ocpi/2.2.1/credentials", token=token_c, body=emsp.credentials())

    assert response.status_code == 405
    assert response.body["status_code"] == 2000


def test_registration_fails_with_3001_and_stores_nothing_when_the_emsp_cannot_be_reached(
    ocpi, partner_with_token_a
):
    partner, token_a = partner_with_token_a
    body = {"token": "b" * 20, "url": "http://127.0.0.1:9/ocpi/versions", "roles": [{"role": "EMSP"}]}

    response = ocpi("POST", "/ocpi/2.2.1/credentials", token=token_a, body=body)

    assert response.status_code == 200
    assert response.body["status_code"] == 3001
    partner.refresh_from_db()
    assert partner.status == Partner.Status.PENDING and partner.token_b == ""
    assert ocpi("GET", "/ocpi/versions", token=token_a).status_code == 200


def test_registration_fails_with_3002_when_there_is_no_common_version(ocpi, emsp, partner_with_token_a):
    _, token_a = partner_with_token_a
    emsp.versions_offered = ("2.1.1",)

    response = ocpi("POST", "/ocpi/2.2.1/credentials", token=token_a, body=emsp.credentials())

    assert response.body["status_code"] == 3002
    assert "2.1.1" in response.body["status_message"]


def test_a_malformed_credentials_body_gets_2001_and_invalid_json_gets_400(ocpi, partner_with_token_a):
    _, token_a = partner_with_token_a

    malformed = ocpi("POST", "/ocpi/2.2.1/credentials", token=token_a, body={"token": "x y", "url": "nope"})
    not_json = ocpi("POST", "/ocpi/2.2.1/credentials", token=token_a, raw=b"{not json")

    assert malformed.status_code == 200 and malformed.body["status_code"] == 2001
    assert not_json.status_code == 400 and not_json.body["status_code"] == 2001


def test_put_credentials_refetches_the_endpoints_and_rotates_the_token(ocpi, emsp, registered):
    partner, old_token = registered
    emsp.received.clear()

    response = ocpi("PUT", "/ocpi/2.2.1/credentials", token=old_token, body=emsp.credentials())

    new_token = response.body["data"]["token"]
    assert new_token != old_token
    assert [r.path for r in emsp.received] == ["/ocpi/versions", "/ocpi/2.2.1"]
    assert ocpi("GET", "/ocpi/2.2.1/cdrs", token=old_token).status_code == 401
    assert ocpi("GET", "/ocpi/2.2.1/cdrs", token=new_token).status_code == 200


def test_get_credentials_answers_with_our_credentials_object(ocpi, registered):
    _, token_c = registered

    response = ocpi("GET", "/ocpi/2.2.1/credentials", token=token_c)

    assert response.body["data"]["token"] == token_c
    assert response.body["data"]["url"] == "http://testserver/ocpi/versions"


def test_delete_credentials_unregisters_and_the_token_stops_working(ocpi, registered):
    partner, token_c = registered

    response = ocpi("DELETE", "/ocpi/2.2.1/credentials", token=token_c)

    assert response.status_code == 200 and response.body["status_code"] == 1000
    assert ocpi("GET", "/ocpi/versions", token=token_c).status_code == 401
    partner.refresh_from_db()
    assert partner.status == Partner.Status.UNREGISTERED


def test_request_and_correlation_ids_are_echoed_or_generated(ocpi, registered):
    _, token_c = registered

    echoed = ocpi(
        "GET",
        "/ocpi/2.2.1/tariffs",
        token=token_c,
        headers={"X-Request-ID": "r-1", "X-Correlation-ID": "c-1"},
    )
    generated = ocpi("GET", "/ocpi/2.2.1/tariffs", token=token_c)

    assert echoed["X-Request-ID"] == "r-1" and echoed["X-Correlation-ID"] == "c-1"
    assert len(generated["X-Request-ID"]) == 36 and len(generated["X-Correlation-ID"]) == 36
    assert echoed["OCPI-from-party-id"] == "CNT" and echoed["OCPI-to-party-id"] == "EMS"


def test_every_request_in_and_out_is_in_the_partners_request_log(registered):
    partner, _ = registered

    log = list(
        RequestLog.objects.filter(partner=partner)
        .order_by("id")
        .values_list("direction", "method", "http_status")
    )

    assert log == [("out", "GET", 200), ("out", "GET", 200), ("in", "POST", 200)]


def test_chargenet_registers_with_an_emsp_given_its_versions_url_and_token_a(emsp, db):
    from ocpi.services import partner_create, partner_register_with

    partner, _ = partner_create(name="Example eMSP", country_code="DE", party_id="EMS", roles=["EMSP"])
    emsp.token_b = "their-token-a"  # the eMSP accepts its token A for the handshake

    partner = partner_register_with(
        partner=partner,
        versions_url=emsp.versions_url,
        token_a="their-token-a",
        our_versions_url="https://cpo.example/ocpi/versions",
    )

    post = next(r for r in emsp.received if r.method == "POST")
    assert post.path == "/ocpi/2.2.1/credentials"
    assert post.body["url"] == "https://cpo.example/ocpi/versions"
    assert partner.status == Partner.Status.REGISTERED
    assert partner.token_b == emsp.token_b
    assert partner.token_c_hash  # the token we gave it opens our API
