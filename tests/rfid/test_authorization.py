from datetime import timedelta

import pytest
from django.utils import timezone

from rfid.models import AuthorizationLog, IdToken
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


@pytest.mark.django_db
def test_a_card_may_charge_twice_at_once_when_the_setting_allows_it(settings):
    settings.RFID_ALLOW_CONCURRENT_USE = True
    id_token_create(uid="CARD")

    decision = id_token_authorize(uid="CARD", context=AuthorizationContext(has_active_session_elsewhere=True))

    assert decision.status == "Accepted"


@pytest.mark.django_db
def test_every_decision_is_logged_with_card_station_result_and_reason():
    card = id_token_create(uid="04AABB", status=IdToken.Status.BLOCKED)

    id_token_authorize(uid="04aabb", context=AuthorizationContext(station_identity="CP-1", source="ocpp1.6"))
    id_token_authorize(uid="NOBODY", context=AuthorizationContext(station_identity="CP-2"))

    blocked, unknown = AuthorizationLog.objects.order_by("id")
    assert (blocked.id_token, blocked.station_identity, blocked.status, blocked.reason, blocked.source) == (
        card,
        "CP-1",
        "Blocked",
        "card is blocked",
        "ocpp1.6",
    )
    assert (unknown.id_token, unknown.uid, unknown.status, unknown.reason) == (
        None,
        "NOBODY",
        "Invalid",
        "unknown card",
    )


@pytest.mark.django_db
def test_an_accepted_card_records_when_it_was_last_used():
    card = id_token_create(uid="CARD")
    refused = id_token_create(uid="GONE", status=IdToken.Status.BLOCKED)

    id_token_authorize(uid="CARD")
    id_token_authorize(uid="GONE")

    card.refresh_from_db()
    refused.refresh_from_db()
    assert card.last_used_at is not None
    assert refused.last_used_at is None


@pytest.mark.django_db
def test_a_partners_prefetched_answer_outlives_a_rolled_back_attempt_and_is_spent_by_the_committed_one(
    monkeypatch, django_capture_on_commit_callbacks
):
    # given a roaming partner that answers for card ROAM-1, asked ahead of the group commit
    from rfid import services

    asked = []

    def partner(*, uid, context, id_token):
        asked.append(uid)
        return services.AuthorizationDecision(status="Accepted", reason="accepted by the partner")

    monkeypatch.setattr(services, "_remote_authorizers", [partner])
    at_cp1 = AuthorizationContext(station_identity="CP-1")
    services.id_token_remote_prefetch(uid="ROAM-1", context=at_cp1)

    # when the first attempt of the batch is rolled back (another message of the batch raised)
    with pytest.raises(RuntimeError), services.transaction.atomic():
        id_token_authorize(uid="ROAM-1", context=at_cp1)
        raise RuntimeError("another call of the batch raised")
    # and the batch runs again and commits
    with django_capture_on_commit_callbacks(execute=True):
        decision = id_token_authorize(uid="ROAM-1", context=at_cp1)

    # then the partner was asked once, ahead of the commit, and its answer stood
    assert (decision.status, decision.reason, asked) == ("Accepted", "accepted by the partner", ["ROAM-1"])
    # and the answer is spent: the card's next presentation asks again
    id_token_authorize(uid="ROAM-1", context=at_cp1)
    assert asked == ["ROAM-1", "ROAM-1"]
