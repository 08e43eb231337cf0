from datetime import timedelta

import pytest
from django.utils import timezone

from rfid.models import IdToken
from rfid.services import AuthorizationContext, id_token_authorize, id_token_create


@pytest.mark.django_db
def test_a_valid_card_is_accepted_whatever_the_case_of_its_uid():
    id_token_create(uid="04AABB", parent_id_tag="FLEET-1")

    decision = id_token_authorize(uid="04aabb")

    assert decision.status == "Accepted"
    assert decision.parent_id_tag == "FLEET-1"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "status", "reason"),
    [
        ({"status": IdToken.Status.BLOCKED}, "Blocked", "blocked"),
        ({"status": IdToken.Status.INVALID}, "Invalid", "invalid"),
        ({"status": IdToken.Status.EXPIRED}, "Expired", "expired"),
        ({"expires_at": timezone.now() - timedelta(minutes=1)}, "Expired", "expired"),
    ],
)
def test_it_refuses_a_card_that_is_not_valid(fields, status, reason):
    id_token_create(uid="CARD", **fields)

    decision = id_token_authorize(uid="CARD")

    assert decision.status == status
    assert reason in decision.reason


@pytest.mark.django_db
def test_an_unknown_card_is_invalid():
    decision = id_token_authorize(uid="NOBODY")

    assert decision.status == "Invalid"
    assert decision.reason == "unknown card"


@pytest.mark.django_db
def test_a_card_already_charging_elsewhere_is_refused_as_concurrent():
    id_token_create(uid="CARD")

    decision = id_token_authorize(uid="CARD", context=AuthorizationContext(has_active_session_elsewhere=True))

    assert decision.status == "ConcurrentTx"


@pytest.mark.django_db
def test_a_private_location_accepts_only_listed_drivers_or_groups(driver, other_driver):
    id_token_create(uid="DANA", driver=driver)
    id_token_create(uid="BOB", driver=other_driver)
    id_token_create(uid="FLEET", parent_id_tag="ACME")
    private = AuthorizationContext(
        is_public=False, allowed_driver_ids=frozenset({driver.pk}), allowed_groups=frozenset({"ACME"})
    )

    assert id_token_authorize(uid="DANA", context=private).status == "Accepted"
    assert id_token_authorize(uid="FLEET", context=private).status == "Accepted"
    refused = id_token_authorize(uid="BOB", context=private)
    assert refused.status == "Invalid"
    assert refused.reason == "not allowed at this location"
