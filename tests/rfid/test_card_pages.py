"""Operators' card pages: list, search, create, edit, block, import, authorization log."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from rfid.models import IdToken
from rfid.services import AuthorizationContext, id_token_authorize, id_token_create


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


@pytest.mark.django_db
def test_an_operator_finds_cards_by_number_and_filters_by_status(operator_client, driver):
    id_token_create(uid="04AA", printed_number="NL-100", driver=driver)
    id_token_create(uid="04BB", printed_number="NL-200", status=IdToken.Status.BLOCKED)

    found = operator_client.get(reverse("rfid:card-list"), {"q": "nl-100"})
    blocked = operator_client.get(reverse("rfid:card-list"), {"status": "Blocked"})
    unassigned = operator_client.get(reverse("rfid:card-list"), {"assigned": "no"})

    assert "04AA" in found.text and "04BB" not in found.text
    assert "04BB" in blocked.text and "04AA" not in blocked.text
    assert "04BB" in unassigned.text and "04AA" not in unassigned.text


@pytest.mark.django_db
def test_an_operator_creates_a_card_for_a_driver(operator_client, driver):
    response = operator_client.post(
        reverse("rfid:card-create"),
        {
            "uid": "04CAFE",
            "printed_number": "NL-1",
            "type": "ISO14443",
            "status": "Accepted",
            "source": "local",
            "driver_email": "DANA@example.com",
        },
    )

    token = IdToken.objects.get(uid="04CAFE")
    assert response.status_code == 302
    assert token.driver == driver


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("uid", "number", "message"),
    [("04ca fe", "", "uid must be"), ("other", "NL-1", "already exists"), ("04cafe", "", "already exists")],
)
def test_a_bad_card_is_refused_with_a_clear_message_and_nothing_is_created(
    operator_client, uid, number, message
):
    id_token_create(uid="04CAFE", printed_number="NL-1")

    response = operator_client.post(
        reverse("rfid:card-create"),
        {"uid": uid, "printed_number": number, "type": "ISO14443", "status": "Accepted", "source": "local"},
    )

    assert response.status_code == 200
    assert message in response.text
    assert IdToken.objects.count() == 1


@pytest.mark.django_db
def test_an_operator_assigns_a_card_to_a_driver_by_editing_it(operator_client, driver):
    token = id_token_create(uid="04AA")

    operator_client.post(
        reverse("rfid:card-edit", args=[token.pk]),
        {
            "type": "ISO14443",
            "status": "Accepted",
            "source": "local",
            "driver_email": driver.email,
            "label": "Fleet",
        },
    )

    token.refresh_from_db()
    assert (token.driver, token.label) == (driver, "Fleet")


@pytest.mark.django_db
def test_an_operator_blocks_and_unblocks_a_card(operator_client):
    token = id_token_create(uid="04AA")

    operator_client.post(reverse("rfid:card-block", args=[token.pk]))
    token.refresh_from_db()
    assert token.status == "Blocked"
    assert id_token_authorize(uid="04AA").status == "Blocked"

    operator_client.post(reverse("rfid:card-unblock", args=[token.pk]))
    token.refresh_from_db()
    assert token.status == "Accepted"


@pytest.mark.django_db
def test_a_viewer_sees_cards_but_cannot_act(client, viewer):
    token = id_token_create(uid="04AA")
    client.force_login(viewer)

    assert client.get(reverse("rfid:card-list")).status_code == 200
    detail = client.get(reverse("rfid:card-detail", args=[token.pk]))
    assert detail.status_code == 200 and "Block</button>" not in detail.text
    assert client.post(reverse("rfid:card-block", args=[token.pk])).status_code == 403
    assert client.get(reverse("rfid:card-create")).status_code == 403
    token.refresh_from_db()
    assert token.status == "Accepted"


@pytest.mark.django_db
def test_drivers_cannot_open_operator_card_pages(client, driver):
    client.force_login(driver.user)

    assert client.get(reverse("rfid:card-list")).status_code == 403
    assert client.get(reverse("rfid:authorization-list")).status_code == 403


@pytest.mark.django_db
def test_the_card_page_shows_its_recent_authorizations(operator_client):
    token = id_token_create(uid="04AA", status=IdToken.Status.EXPIRED)
    id_token_authorize(uid="04aa", context=AuthorizationContext(station_identity="CP-9"))

    response = operator_client.get(reverse("rfid:card-detail", args=[token.pk]))

    assert "CP-9" in response.text and "card has expired" in response.text


@pytest.mark.django_db
def test_the_authorization_log_filters_by_result(operator_client):
    id_token_create(uid="GOOD")
    id_token_authorize(uid="GOOD", context=AuthorizationContext(station_identity="CP-1"))
    id_token_authorize(uid="STRANGER", context=AuthorizationContext(station_identity="CP-2"))

    response = operator_client.get(reverse("rfid:authorization-list"), {"status": "Invalid"})

    assert "STRANGER" in response.text and "GOOD" not in response.text


@pytest.mark.django_db
def test_a_csv_import_keeps_good_rows_and_reports_each_bad_row(operator_client, driver):
    id_token_create(uid="EXISTING")
    csv = (
        "uid,printed_number,status,expires_at,driver_email\n"
        "04A1,NL-1,Accepted,2030-12-31,dana@example.com\n"
        "existing,NL-2,,,\n"
        "bad uid,NL-3,,,\n"
        "04A4,NL-4,Lost,,\n"
        "04A5,NL-5,,not-a-date,\n"
        "04A6,NL-6,,,nobody@example.com\n"
        "04A7,NL-1,,,\n"
        "04A8,,,,\n"
    )

    response = operator_client.post(
        reverse("rfid:card-import"), {"file": SimpleUploadedFile("cards.csv", csv.encode(), "text/csv")}
    )

    report = {row.line: (row.ok, row.message) for row in response.context["report"]}
    assert report[2] == (True, "created")
    assert "already exists" in report[3][1]
    assert "uid must be" in report[4][1]
    assert "status must be" in report[5][1]
    assert "not a date" in report[6][1]
    assert "no driver" in report[7][1]
    assert "NL-1" in report[8][1]
    assert report[9] == (True, "created")
    assert sorted(IdToken.objects.values_list("uid", flat=True)) == ["04A1", "04A8", "EXISTING"]
    assert IdToken.objects.get(uid="04A1").driver == driver
    assert "2 created" in response.text


@pytest.mark.django_db
def test_a_file_without_a_uid_column_is_refused(operator_client):
    response = operator_client.post(
        reverse("rfid:card-import"), {"file": SimpleUploadedFile("cards.csv", b"number\nNL-1\n", "text/csv")}
    )

    assert "including uid" in response.text
    assert not IdToken.objects.exists()
