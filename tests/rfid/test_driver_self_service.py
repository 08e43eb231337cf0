"""A driver manages their own account: details, a card found again, their data, deleting it."""

import json

import pytest

from chargenet.models import User
from rfid.models import Driver, IdToken
from rfid.services import id_token_block, id_token_create


@pytest.fixture
def dana(client, driver):
    client.force_login(driver.user)
    return client


@pytest.mark.django_db
def test_a_driver_edits_their_billing_details(dana, driver):
    response = dana.post(
        "/account/details/",
        {
            "name": "Dana D.",
            "phone": "+46 70 000",
            "billing_name": "Dana AB",
            "billing_address": "Storgatan 2\n222 22 Lund",
            "vat_number": "SE1",
        },
        follow=True,
    )

    assert "Your details are saved" in response.text
    driver.refresh_from_db()
    assert (driver.billing_name, driver.billing_address, driver.vat_number) == (
        "Dana AB",
        "Storgatan 2\n222 22 Lund",
        "SE1",
    )


@pytest.mark.django_db
def test_an_over_long_detail_is_refused_and_nothing_changes(dana, driver):
    response = dana.post("/account/details/", {"name": "x" * 201, "billing_name": "Dana AB"})

    assert response.status_code == 400
    driver.refresh_from_db()
    assert driver.billing_name == ""


@pytest.mark.django_db
def test_a_driver_unblocks_a_card_they_blocked_but_not_one_support_blocked(dana, driver):
    # given one card Dana blocked herself (lost, then found) and one support blocked
    mine = id_token_create(uid="DANA1", driver=driver, printed_number="N-1")
    dana.post(f"/account/cards/{mine.pk}/block/")
    theirs = id_token_block(id_token=id_token_create(uid="DANA2", driver=driver, printed_number="N-2"))
    assert dana.get("/account/").text.count("Unblock (found)") == 1

    # when she unblocks both
    found = dana.post(f"/account/cards/{mine.pk}/unblock/", follow=True)
    refused = dana.post(f"/account/cards/{theirs.pk}/unblock/", follow=True)

    # then hers works again, support's stays blocked and she is told why
    assert "works again" in found.text
    assert IdToken.objects.get(pk=mine.pk).status == "Accepted"
    assert "blocked by the network&#x27;s support" in refused.text
    assert IdToken.objects.get(pk=theirs.pk).status == "Blocked"


@pytest.mark.django_db
def test_a_driver_downloads_all_their_data(dana, driver):
    id_token_create(uid="DANA1", driver=driver, printed_number="N-1")

    response = dana.get("/billing/my-data/")

    data = json.loads(response.content)
    assert response["Content-Disposition"].startswith("attachment")
    assert data["account"]["username"] == "dana" and data["cards"][0]["printed_number"] == "N-1"
    assert {"sessions", "priced_sessions", "invoices", "details"} <= set(data)


@pytest.mark.django_db
def test_deleting_the_account_erases_the_person_and_blocks_the_cards(dana, driver):
    card = id_token_create(uid="DANA1", driver=driver, printed_number="N-1", label="Car keys")

    wrong = dana.post("/account/delete/", {"confirm": "not-me"})
    assert wrong.status_code == 400 and User.objects.get(pk=driver.user.pk).is_active

    response = dana.post("/account/delete/", {"confirm": "dana"})

    assert "Your account is deleted" in response.text
    user = User.objects.get(pk=driver.user.pk)
    assert not user.is_active and not user.has_usable_password() and user.username.startswith("deleted-")
    assert Driver.objects.get(pk=driver.pk).email == "" and Driver.objects.get(pk=driver.pk).name == ""
    card.refresh_from_db()
    assert card.status == "Blocked" and card.driver is None and card.label == ""
