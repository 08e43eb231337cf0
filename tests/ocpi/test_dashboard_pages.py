"""The dashboard's Roaming section, page by page (the browser scenario is in live/)."""

import pytest

from ocpi.models import Partner

pytestmark = pytest.mark.django_db


def test_an_operator_adds_a_partner_and_is_shown_token_a_once(client, operator):
    client.force_login(operator)

    response = client.post(
        "/roaming/new/", {"name": "Example eMSP", "country_code": "de", "party_id": "ems", "roles": "EMSP"}
    )

    assert response.status_code == 200
    partner = Partner.objects.get()
    assert (partner.country_code, partner.party_id) == ("DE", "EMS")
    token_a = response.context["token_a"]
    assert token_a and token_a in response.content.decode()
    assert "http://testserver/ocpi/versions" in response.content.decode()
    # later visits never show it again
    assert token_a not in client.get(f"/roaming/{partner.pk}/").content.decode()


def test_a_malformed_party_is_refused_with_the_reason_and_nothing_is_stored(client, operator):
    client.force_login(operator)

    response = client.post(
        "/roaming/new/", {"name": "Example eMSP", "country_code": "Germany", "party_id": "EMS"}
    )

    assert response.status_code == 400
    assert "alpha-2" in response.content.decode()
    assert not Partner.objects.exists()


def test_a_viewer_sees_partners_but_may_not_add_one(client, viewer, partner_with_token_a):
    client.force_login(viewer)

    listing = client.get("/roaming/")
    adding = client.post("/roaming/new/", {"name": "X", "country_code": "FR", "party_id": "XXX"})

    assert listing.status_code == 200 and "Example eMSP" in listing.content.decode()
    assert adding.status_code == 403
    assert Partner.objects.count() == 1


def test_the_partner_page_shows_status_last_exchange_and_the_request_log(client, operator, registered):
    partner, _ = registered
    client.force_login(operator)

    page = client.get(f"/roaming/{partner.pk}/").content.decode()

    assert "Registered" in page
    assert "never" not in page.split('id="partner-last-success">')[1][:30]
    assert "POST /ocpi/2.2.1/credentials" in page and "GET http://127.0.0.1:" in page


def test_the_operator_has_chargenet_register_with_a_partner_from_its_page(
    client, operator, emsp, partner_with_token_a
):
    partner, _ = partner_with_token_a
    client.force_login(operator)

    response = client.post(
        f"/roaming/{partner.pk}/register/", {"versions_url": emsp.versions_url, "token_a": emsp.token_b}
    )

    assert response.status_code == 200
    partner.refresh_from_db()
    assert partner.status == Partner.Status.REGISTERED
    assert "Registered" in response.content.decode()


def test_a_failed_registration_says_why_on_the_page(client, operator, partner_with_token_a):
    partner, _ = partner_with_token_a
    client.force_login(operator)

    response = client.post(
        f"/roaming/{partner.pk}/register/",
        {"versions_url": "http://127.0.0.1:9/ocpi/versions", "token_a": "abc"},
    )

    assert response.status_code == 400
    assert "could not use the partner" in response.content.decode().lower()
    partner.refresh_from_db()
    assert partner.status == Partner.Status.PENDING
