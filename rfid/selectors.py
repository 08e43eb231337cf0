"""Reads of the rfid app."""

from django.db.models import QuerySet

from rfid.models import IdToken


def id_token_list_for_user(*, user) -> QuerySet[IdToken]:
    """The cards of the driver behind `user`; none for a user who is not a driver."""
    return IdToken.objects.filter(driver__user=user).order_by("created_at")
