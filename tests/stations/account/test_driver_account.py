"""The driver's self-service: sign up, verify, reset the password, my cards, isolation."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.urls import reverse
from django.utils import timezone

from rfid.models import Driver, IdToken
from rfid.services import id_token_authorize, id_token_create

STRONG = "charge-my-car-2024"


def _link(message) -> str:
    return re.search(r"https?://\S+", message.body).group(0)


@pytest.mark.django_db
def test_a_driver_signs_up_confirms_the_email_and_lands_on_the_account(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("signup"), {"name": "Eve", "email": "Eve@Example.com", "password": STRONG}
        )

    assert "Check your e-mail" in response.text
    user = get_user_model().objects.get(username="eve@example.com")
    assert not user.is_active
    assert not client.login(username="eve@example.com", password=STRONG)

    confirmed = client.get(_link(mail.outbox[0]), follow=True)

    assert confirmed.request["PATH_INFO"] == reverse("account")
    user.refresh_from_db()
    assert user.is_active and user.role == "driver"
    assert Driver.objects.get(user=user).email == "eve@example.com"


class MailServerDown(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError("the mail server is down")


@pytest.mark.django_db(transaction=True)
def test_a_signup_while_the_mail_server_is_down_gets_its_link_once_it_is_back(client, settings):
    from chargenet.events import events_dispatch_due
    from chargenet.models import Event

    # given the mail server down
    settings.EMAIL_BACKEND = f"{__name__}.MailServerDown"

    # when a driver signs up
    response = client.post(reverse("signup"), {"email": "eve@example.com", "password": STRONG})

    # then the sign-up is taken, and its mail waits as durable work
    assert "Check your e-mail" in response.text
    assert mail.outbox == []
    (pending,) = Event.objects.filter(type="driver.signed_up", dispatched_at__isnull=True)
    assert "the mail server is down" in pending.last_error

    # when the mail server is back and the retry is due
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    Event.objects.filter(pk=pending.pk).update(next_attempt_at=timezone.now())
    events_dispatch_due()

    # then the link arrives, once, and it works
    assert [m.to for m in mail.outbox] == [["eve@example.com"]]
    events_dispatch_due()
    assert len(mail.outbox) == 1
    client.get(_link(mail.outbox[0]))
    assert get_user_model().objects.get(username="eve@example.com").is_active


@pytest.mark.django_db
def test_a_taken_email_or_a_weak_password_is_refused_and_no_account_is_made(client, driver):
    taken = client.post(reverse("signup"), {"email": "dana@example.com", "password": STRONG})
    weak = client.post(reverse("signup"), {"email": "new@example.com", "password": "123"})

    assert "already exists" in taken.text
    assert "too short" in weak.text
    assert not get_user_model().objects.filter(username="new@example.com").exists()
    assert len(mail.outbox) == 0


@pytest.mark.django_db
def test_a_forged_confirmation_link_activates_nothing(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("signup"), {"email": "eve@example.com", "password": STRONG})
    link = _link(mail.outbox[0])

    response = client.get(link[:-3] + "xyz/")

    assert response.status_code == 400
    assert not get_user_model().objects.get(username="eve@example.com").is_active


@pytest.mark.django_db
def test_a_driver_resets_a_forgotten_password(client, driver):
    driver.user.email = "dana@example.com"
    driver.user.save()

    client.post(reverse("password_reset"), {"email": "dana@example.com"})
    form = client.get(_link(mail.outbox[0]), follow=True)
    done = client.post(
        form.request["PATH_INFO"], {"new_password1": STRONG, "new_password2": STRONG}, follow=True
    )

    assert "Password changed" in done.text
    assert client.login(username="dana", password=STRONG)


@pytest.fixture
def dana(client, driver):
    client.force_login(driver.user)
    return client


@pytest.mark.django_db
def test_a_driver_claims_an_issued_card_by_its_printed_number(dana, driver):
    id_token_create(uid="04AA", printed_number="NL-CNT-42")

    response = dana.post(
        reverse("rfid:my-card-add"), {"printed_number": "nl-cnt-42", "label": "Keys"}, follow=True
    )

    token = IdToken.objects.get(uid="04AA")
    assert (token.driver, token.label) == (driver, "Keys")
    assert "NL-CNT-42" in response.text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("number", "message"),
    [("NL-NOPE", "no card with number"), ("NL-BOB", "belongs to another account"), ("NL-OLD", "blocked")],
)
def test_a_card_that_cannot_be_claimed_is_refused_and_stays_as_it_was(dana, other_driver, number, message):
    id_token_create(uid="BOB", printed_number="NL-BOB", driver=other_driver)
    id_token_create(uid="OLD", printed_number="NL-OLD", status=IdToken.Status.BLOCKED)

    response = dana.post(reverse("rfid:my-card-add"), {"printed_number": number})

    assert message in response.text
    assert IdToken.objects.get(uid="BOB").driver == other_driver
    assert IdToken.objects.get(uid="OLD").driver is None


@pytest.mark.django_db
def test_a_driver_blocks_a_lost_card_at_once(dana, driver):
    token = id_token_create(uid="04AA", printed_number="NL-1", driver=driver)

    dana.post(reverse("rfid:my-card-block", args=[token.pk]))

    token.refresh_from_db()
    assert token.status == "Blocked"
    assert id_token_authorize(uid="04AA").status == "Blocked"


@pytest.mark.django_db
def test_a_driver_renames_a_card(dana, driver):
    token = id_token_create(uid="04AA", driver=driver)

    dana.post(reverse("rfid:my-card-edit", args=[token.pk]), {"label": "Work car"})

    token.refresh_from_db()
    assert token.label == "Work car"


@pytest.mark.django_db
def test_another_drivers_card_is_not_found_and_is_left_alone(dana, other_driver):
    theirs = id_token_create(uid="BOB", printed_number="NL-BOB", driver=other_driver, label="Bob's")

    assert dana.get(reverse("rfid:my-card-edit", args=[theirs.pk])).status_code == 404
    assert dana.post(reverse("rfid:my-card-edit", args=[theirs.pk]), {"label": "mine"}).status_code == 404
    assert dana.post(reverse("rfid:my-card-block", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert (theirs.status, theirs.label) == ("Accepted", "Bob's")
    assert "NL-BOB" not in dana.get(reverse("account")).text


@pytest.mark.django_db
def test_operators_do_not_get_driver_pages(client, operator):
    client.force_login(operator)

    assert client.get(reverse("account")).status_code == 403
    assert client.get(reverse("charging:overview")).status_code == 403
