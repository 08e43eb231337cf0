"""Who may charge where: private stations and locations, and the context of an authorization.

rfid decides (`rfid.services.id_token_authorize`); stations knows where the card is presented, so
the allow-lists live here and the context is built here (rfid may not import stations).
"""

from collections.abc import Iterable

from django.db import transaction

from chargenet import sql
from chargenet.events import event_publish
from rfid.models import Driver, IdToken
from rfid.services import (
    AuthorizationContext,
    AuthorizationDecision,
    id_token_authorize,
    id_token_remote_prefetch,
    remote_authorizers_registered,
)
from stations.models import Evse, Location, Session, Station


class AccessError(Exception):
    """An access-list change was refused; the message says why."""


def station_is_public(*, station: Station) -> bool:
    """A station is public only when it and its location both are."""
    return station.is_public and (station.location is None or station.location.is_public)


def station_allowed(*, station: Station) -> tuple[frozenset[int], frozenset[str]]:
    """The driver ids and group ids allowed at a private station (its own lists plus its location's)."""
    driver_ids = set(station.allowed_drivers.values_list("pk", flat=True))
    groups = {g for g in station.allowed_groups if g}
    if station.location is not None:
        driver_ids |= set(station.location.allowed_drivers.values_list("pk", flat=True))
        groups |= {g for g in station.location.allowed_groups if g}
    return frozenset(driver_ids), frozenset(groups)


def authorization_context_build(
    *,
    station: Station,
    uid: str,
    evse_id: int | None = None,
    exclude_session_id: int | None = None,
    source: str = "",
    concurrency: str = "elsewhere",
) -> AuthorizationContext:
    """Everything rfid needs to decide for `uid` at `station` (on `evse_id`, when known).

    `concurrency` says which of the card's active sessions count as concurrent: "elsewhere" (any
    but its own on this EVSE), "other_stations" (a 2.0.1 Authorize names no EVSE: none at this
    station) or "none" (a 1.6 Authorize: only StartTransaction may answer ConcurrentTx)."""
    public = station_is_public(station=station)
    driver_ids, groups = (frozenset(), frozenset()) if public else station_allowed(station=station)
    elsewhere = False
    if concurrency != "none":
        active = Session.Status.ACTIVE.value
        for session_id, station_id, session_evse_id in _card_active_sessions(
            uid.strip(), active, uid.strip(), active
        ):
            if session_id == exclude_session_id:
                continue  # the session being stopped or retried is the card's own
            if station_id == station.pk and (
                concurrency == "other_stations" or (evse_id is not None and session_evse_id == evse_id)
            ):
                continue  # the card's own session on this EVSE (e.g. authorizing the stop)
            elsewhere = True
            break
    return AuthorizationContext(
        station_identity=station.identity,
        is_public=public,
        allowed_driver_ids=driver_ids,
        allowed_groups=groups,
        has_active_session_elsewhere=elsewhere,
        source=source or f"ocpp{station.ocpp_version}",
    )


# (session id, station id, EVSE number) of the active sessions of a card, by the id tag the station
# sent or by the card, case-insensitively: every StartTransaction and StopTransaction asks it on the
# OCPP writer. Two branches, each served by an index (the session's LOWER(id_tag) and status; the
# card's LOWER(uid), then the session's card): as one OR they were answered by walking every active
# session of the network.
_card_active_sessions = sql.Raw(
    Session,
    lambda qn: (
        f"SELECT s.{qn('id')}, s.{qn('station_id')}, e.{qn('evse_id')} "
        f"FROM {qn(Session._meta.db_table)} s "
        f"LEFT OUTER JOIN {qn(Evse._meta.db_table)} e ON e.{qn('id')} = s.{qn('evse_id')} "
        f"WHERE LOWER(s.{qn('id_tag')}) = LOWER(%s) AND s.{qn('status')} = %s "
        "UNION "
        f"SELECT s.{qn('id')}, s.{qn('station_id')}, e.{qn('evse_id')} "
        f"FROM {qn(IdToken._meta.db_table)} t "
        f"INNER JOIN {qn(Session._meta.db_table)} s ON s.{qn('id_token_id')} = t.{qn('id')} "
        f"LEFT OUTER JOIN {qn(Evse._meta.db_table)} e ON e.{qn('id')} = s.{qn('evse_id')} "
        f"WHERE LOWER(t.{qn('uid')}) = LOWER(%s) AND s.{qn('status')} = %s"
    ),
)


def station_id_token_authorize(
    *,
    station: Station,
    uid: str,
    evse_id: int | None = None,
    exclude_session_id: int | None = None,
    source: str = "",
    concurrency: str = "elsewhere",
) -> AuthorizationDecision:
    """Authorize `uid` at `station` (the one entry point for OCPP, the account page and OCPI): the
    context from here, the decision (and its log, and the card's last use) from rfid."""
    context = authorization_context_build(
        station=station,
        uid=uid,
        evse_id=evse_id,
        exclude_session_id=exclude_session_id,
        source=source,
        concurrency=concurrency,
    )
    return id_token_authorize(uid=uid, context=context)


def station_id_token_remote_prefetch(*, identity: str, uid: str) -> None:
    """Ask the card's remote authorizer (its eMSP) about `uid` at the station ahead of the decision,
    outside the OCPP group commit (rfid.services.id_token_remote_prefetch). The remote authorizers
    need only the station; the local rules get their full context at the decision."""
    if remote_authorizers_registered():
        id_token_remote_prefetch(uid=uid, context=AuthorizationContext(station_identity=identity))


def card_allowed_at(*, station: Station, id_token: IdToken) -> bool:
    """Whether the card may charge at the station, ignoring its status (used for local lists)."""
    if station_is_public(station=station):
        return True
    driver_ids, groups = station_allowed(station=station)
    return (id_token.driver_id in driver_ids) or bool(
        id_token.parent_id_tag and id_token.parent_id_tag in groups
    )


def _clean_groups(groups: Iterable[str]) -> list[str]:
    cleaned = sorted({g.strip() for g in groups if g and g.strip()})
    for group in cleaned:
        if len(group) > 36 or any(ch.isspace() for ch in group):
            raise AccessError(f"group id {group!r} must be at most 36 characters without spaces")
    return cleaned


@transaction.atomic
def station_access_set(
    *,
    station: Station,
    is_public: bool,
    drivers: Iterable[Driver] = (),
    groups: Iterable[str] = (),
    local_list_enabled: bool | None = None,
) -> Station:
    """Set who may charge at a station (and whether it keeps a local list); publishes
    station.updated, which resynchronises its local list."""
    station.is_public = is_public
    station.allowed_groups = _clean_groups(groups)
    fields = ["is_public", "allowed_groups"]
    if local_list_enabled is not None:
        station.local_list_enabled = local_list_enabled
        fields.append("local_list_enabled")
    station.save(update_fields=fields)
    station.allowed_drivers.set(list(drivers))
    event_publish("station.updated", {"station_id": station.pk, "identity": station.identity})
    return station


@transaction.atomic
def location_access_set(
    *, location: Location, is_public: bool, drivers: Iterable[Driver] = (), groups: Iterable[str] = ()
) -> Location:
    """Set who may charge at every station of a location; publishes location.updated."""
    location.is_public = is_public
    location.allowed_groups = _clean_groups(groups)
    location.save(update_fields=["is_public", "allowed_groups"])
    location.allowed_drivers.set(list(drivers))
    event_publish("location.updated", {"location_id": location.pk})
    return location
