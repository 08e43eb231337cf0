"""Cards in the Django admin: blocking one there does what blocking it on the card page does."""

import pytest
from django.urls import reverse

from rfid.models import IdToken
from rfid.services import AuthorizationContext, id_token_authorize, id_token_create
from stations.models import Command
from stations.services import station_create

pytestmark = pytest.mark.usefixtures("eager_tasks")


def _admin_action(client, action: str, *ids: int):
    return client.post(
        reverse("admin:rfid_idtoken_changelist"),
        {"action": action, "_selected_action": [str(pk) for pk in ids]},
        follow=True,
    )


@pytest.mark.django_db
def test_blocking_a_card_in_the_admin_clears_the_cache_of_stations_where_it_was_accepted(
    client, sam, django_capture_on_commit_callbacks
):
    # given a card accepted at CP-1
    station_create(identity="CP-1")
    station_create(identity="CP-2")
    card = id_token_create(uid="04AA")
    id_token_authorize(uid="04AA", context=AuthorizationContext(station_identity="CP-1"))
    client.force_login(sam)

    # when support blocks it in the admin
    with django_capture_on_commit_callbacks(execute=True):
        page = _admin_action(client, "id_token_block", card.pk)

    # then it is blocked and CP-1 is told to forget it, as when an operator blocks it on the card page
    card.refresh_from_db()
    assert page.status_code == 200
    assert card.status == IdToken.Status.BLOCKED
    clear = Command.objects.filter(action="ClearCache")
    assert [c.station.identity for c in clear] == ["CP-1"]


@pytest.mark.django_db
def test_unblocking_a_card_that_is_not_blocked_in_the_admin_says_why_and_changes_nothing(client, sam):
    card = id_token_create(uid="04AA")
    client.force_login(sam)

    page = _admin_action(client, "id_token_unblock", card.pk)

    card.refresh_from_db()
    assert "only a blocked card can be unblocked" in page.text
    assert card.status == IdToken.Status.ACCEPTED


@pytest.mark.django_db
def test_a_card_cannot_be_edited_in_the_admin(client, sam):
    card = id_token_create(uid="04AA", label="Dana's card")
    client.force_login(sam)

    response = client.post(
        reverse("admin:rfid_idtoken_change", args=[card.pk]), {"uid": "04AA", "status": "Blocked"}
    )

    card.refresh_from_db()
    assert response.status_code == 403
    assert card.status == IdToken.Status.ACCEPTED
