"""Reads of the rfid app."""

from django.db.models import Q, QuerySet

from chargenet.models import User
from rfid.models import AuthorizationLog, Driver, IdToken


def id_token_list_for_user(*, user: User) -> QuerySet[IdToken]:
    """The cards of the driver behind `user`; none for a user who is not a driver."""
    return IdToken.objects.filter(driver__user=user).order_by("created_at")


def id_token_search(
    *, search: str = "", status: str = "", type: str = "", source: str = "", assigned: str = ""
) -> QuerySet[IdToken]:
    """Cards for the operators' list: free text over uid, number, label, group and owner, plus
    filters on status, type, source and whether a driver owns the card (assigned = yes/no)."""
    tokens = IdToken.objects.select_related("driver")
    if search:
        tokens = tokens.filter(
            Q(uid__icontains=search)
            | Q(printed_number__icontains=search)
            | Q(label__icontains=search)
            | Q(parent_id_tag__icontains=search)
            | Q(driver__name__icontains=search)
            | Q(driver__email__icontains=search)
        )
    if status:
        tokens = tokens.filter(status=status)
    if type:
        tokens = tokens.filter(type=type)
    if source:
        tokens = tokens.filter(source=source)
    if assigned == "yes":
        tokens = tokens.filter(driver__isnull=False)
    elif assigned == "no":
        tokens = tokens.filter(driver__isnull=True)
    return tokens.order_by("-created_at", "-id")


def authorization_log_search(
    *, search: str = "", status: str = "", station: str = "", id_token: IdToken | None = None
) -> QuerySet[AuthorizationLog]:
    """Authorization decisions, newest first, filtered by uid/number, result and station."""
    log = AuthorizationLog.objects.select_related("id_token", "id_token__driver")
    if id_token is not None:
        log = log.filter(id_token=id_token)
    if search:
        log = log.filter(Q(uid__icontains=search) | Q(id_token__printed_number__icontains=search))
    if status:
        log = log.filter(status=status)
    if station:
        log = log.filter(station_identity__iexact=station)
    return log


def driver_for_user(*, user: User) -> Driver | None:
    """The driver account behind a login, if any."""
    return Driver.objects.filter(user=user).first()
