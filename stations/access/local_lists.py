"""Local authorization lists: keep the cards a station may accept offline on the station itself.

The flow for a station with `local_list_enabled` (docs/drivers-and-cards.md):

1. A card changes (event id_token.created/updated), the station's access lists change
   (station.updated) or it boots (station.booted) → `local_list_sync_request` marks the station due
   after LOCAL_LIST_DEBOUNCE seconds and schedules `local_list_sync_task`; a burst of changes
   becomes one update. The mark is the durable part: `local_list_syncs_due_task` (beat) starts
   every sync that is due, so a task lost with the broker only delays it.
2. `local_list_sync_start` asks the station for its list version (GetLocalListVersion).
3. When that command is answered (event command.updated) `local_list_command_handle` sends a
   differential SendLocalList when the station holds the version we last confirmed, and a full
   one otherwise; when the SendLocalList is accepted, its version and entries become the station's.

A card that is blocked (or otherwise no longer valid) also gets ClearCache at every station that
may have cached it (stations where it was accepted), because OCPP caches are not updated by
SendLocalList.
"""

import logging
from datetime import datetime, timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from rfid.models import AuthorizationLog, IdToken
from stations.access.services import card_allowed_at, station_allowed, station_is_public
from stations.models import Command, LocalListSync, Session, Station
from stations.services import CommandError, command_create

logger = logging.getLogger(__name__)

# Local-list commands are worth little once stale: a station that comes back boots and resyncs.
COMMAND_EXPIRY = 900
LIST_ACTIONS = ("GetLocalListVersion", "SendLocalList")

Entries = dict[str, dict[str, str]]


# --- pure functions ----------------------------------------------------------------------------


def local_list_entry(*, id_token: IdToken, now: datetime | None = None) -> dict[str, str]:
    """The list entry of a card as the station should hold it (protocol-neutral)."""
    now = now or timezone.now()
    status = id_token.status
    if status == IdToken.Status.ACCEPTED and id_token.expires_at and id_token.expires_at <= now:
        status = IdToken.Status.EXPIRED
    return {
        "status": status,
        "expiry": id_token.expires_at.isoformat() if id_token.expires_at else "",
        "group": id_token.parent_id_tag,
        "type": id_token.type,
    }


def local_list_diff(*, old: Entries, new: Entries) -> tuple[Entries, list[str]]:
    """What turns the list `old` into `new`: entries to add or change, and uids to remove."""
    upserts = {uid: info for uid, info in new.items() if old.get(uid) != info}
    removals = sorted(uid for uid in old if uid not in new)
    return upserts, removals


def local_list_payload(
    *,
    ocpp_version: str,
    version: int,
    update_type: str,
    upserts: Entries,
    removals: list[str],
    removal_types: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The SendLocalList payload for OCPP 1.6 or 2.0.1 (an entry without info removes the card;
    2.0.1 matches removals on uid and type, so `removal_types` gives the type each was sent with)."""
    items: list[dict[str, Any]] = []
    if ocpp_version == "1.6":
        for uid, info in sorted(upserts.items()):
            tag_info: dict[str, Any] = {"status": info["status"]}
            if info.get("expiry"):
                tag_info["expiryDate"] = info["expiry"]
            if info.get("group"):
                tag_info["parentIdTag"] = info["group"]
            items.append({"idTag": uid, "idTagInfo": tag_info})
        items += [{"idTag": uid} for uid in removals]
        return {"listVersion": version, "updateType": update_type, "localAuthorizationList": items}
    for uid, info in sorted(upserts.items()):
        token_info: dict[str, Any] = {"status": info["status"]}
        if info.get("expiry"):
            token_info["cacheExpiryDateTime"] = info["expiry"]
        if info.get("group"):
            token_info["groupIdToken"] = {"idToken": info["group"], "type": "Central"}
        items.append(
            {"idToken": {"idToken": uid, "type": info.get("type") or "ISO14443"}, "idTokenInfo": token_info}
        )
    types = removal_types or {}
    items += [{"idToken": {"idToken": uid, "type": types.get(uid) or "ISO14443"}} for uid in removals]
    payload: dict[str, Any] = {"versionNumber": version, "updateType": update_type}
    if items:  # 2.0.1 allows no empty list: a Full update without one empties the station's (D01)
        payload["localAuthorizationList"] = items
    return payload


def _reported_version(response: dict[str, Any] | None) -> int | None:
    for key in ("listVersion", "versionNumber", "list_version", "version_number"):
        value = response.get(key) if response else None
        if isinstance(value, int):
            return value
    return None


# --- services ------------------------------------------------------------------------------------


def local_list_desired(*, station: Station) -> Entries:
    """Every card the station should hold, with its status: all cards at a public station, only the
    allowed drivers' and groups' cards at a private one. Cards that need no authorization, cards that
    must be authorized online, and uids too long for OCPP 1.6 (CiString20) are left out."""
    tokens = (
        IdToken.objects.exclude(type=IdToken.Type.NO_AUTHORIZATION)
        .exclude(status=IdToken.Status.INVALID)
        .exclude(offline_allowed=False)
    )
    if not station_is_public(station=station):
        driver_ids, groups = station_allowed(station=station)
        tokens = tokens.filter(Q(driver_id__in=driver_ids) | Q(parent_id_tag__in=groups))
    now = timezone.now()
    entries = {}
    for token in tokens.order_by("uid"):
        if station.ocpp_version == "1.6" and len(token.uid) > 20:
            continue
        entries[token.uid] = local_list_entry(id_token=token, now=now)
    return entries


def local_list_sync_request(*, station_ids: list[int], delay: int | None = None) -> int:
    """Mark local-list stations due for a sync after `delay` seconds (LOCAL_LIST_DEBOUNCE) and
    schedule it; returns how many stations were marked. Stations without a local list are skipped."""
    delay = settings.LOCAL_LIST_DEBOUNCE if delay is None else delay
    due_at = timezone.now() + timedelta(seconds=delay)
    marked = []
    with transaction.atomic():
        for station in Station.objects.filter(pk__in=station_ids, local_list_enabled=True):
            LocalListSync.objects.get_or_create(station=station)
            LocalListSync.objects.filter(station=station).update(due_at=due_at)
            marked.append(station.pk)
        for station_id in marked:
            _sync_later(station_id, countdown=delay)
    return len(marked)


def _sync_later(station_id: int, *, countdown: int) -> None:
    """After the commit, queue the start of a station's sync in `countdown` seconds. Best effort:
    the sync is marked due in the database, and the beat sweep starts it if this task is lost."""

    def queue_sync() -> None:
        local_list_sync_task.apply_async(args=[station_id], countdown=countdown)

    transaction.on_commit(queue_sync, robust=True)


def local_list_syncs_start_due() -> int:
    """Start every local-list sync whose time has come (those whose queued task was lost or is
    late); returns how many GetLocalListVersion commands were sent."""
    started = 0
    due = LocalListSync.objects.filter(due_at__lte=timezone.now(), station__local_list_enabled=True)
    for station in Station.objects.filter(pk__in=due.values("station_id")):
        started += local_list_sync_start(station=station) is not None
    return started


@transaction.atomic
def local_list_sync_start(*, station: Station, force: bool = False) -> Command | None:
    """Begin the sync of a due station by asking its list version; returns the command, or None when
    the station is not due yet (a later change moved its time), is busy or keeps no local list."""
    sync, _ = LocalListSync.objects.get_or_create(station=station)
    # of=self: PostgreSQL refuses FOR UPDATE on the nullable side of the LEFT JOIN to the command.
    sync = (
        LocalListSync.objects.select_for_update(of=("self",))
        .select_related("pending_command")
        .get(pk=sync.pk)
    )
    if not station.local_list_enabled:
        return None
    now = timezone.now()
    if not force and (sync.due_at is None or sync.due_at > now):
        return None
    in_flight = sync.pending_command is not None and sync.pending_command.status not in Command.FINAL
    if sync.stage != LocalListSync.Stage.IDLE and in_flight:
        # The running sync starts another when it finishes (due_at stays set).
        return None
    try:
        command = command_create(
            station=station, action="GetLocalListVersion", payload={}, expires_in=COMMAND_EXPIRY
        )
    except CommandError as exc:
        sync.due_at = None
        sync.stage = LocalListSync.Stage.IDLE
        sync.last_result = f"not sent: {exc}"[:200]
        sync.save()
        return None
    sync.due_at = None
    sync.stage = LocalListSync.Stage.ASKING_VERSION
    sync.pending_command = command
    sync.save()
    return command


@transaction.atomic
def local_list_command_handle(*, command: Command) -> Command | None:
    """Move a station's sync on when its GetLocalListVersion or SendLocalList command is final;
    returns the next command (a SendLocalList) if one was sent."""
    sync = LocalListSync.objects.select_for_update().filter(pending_command=command).first()
    if sync is None or command.status not in Command.FINAL:
        return None
    station = command.station
    next_command = None
    if command.status != Command.Status.ACCEPTED and command.action == "GetLocalListVersion":
        _finish(sync, f"GetLocalListVersion {command.get_status_display().lower()}", confirmed=False)
    elif command.action == "GetLocalListVersion":
        reported = _reported_version(command.response)
        if reported is None or reported < 0:
            _finish(sync, "the station does not support local lists", confirmed=False)
        else:
            next_command = _send(sync, station=station, reported=reported)
    else:
        answer = (command.response or {}).get("status", "")
        if command.status == Command.Status.ACCEPTED:
            sync.version = sync.pending_version or sync.version
            sync.entries = sync.pending_entries
            sync.last_synced_at = timezone.now()
            _finish(sync, f"in sync (version {sync.version}, {len(sync.entries)} cards)", confirmed=True)
        else:
            reason = answer or command.get_status_display().lower()
            _finish(sync, f"SendLocalList {reason}", confirmed=False)
            if answer == "VersionMismatch":
                # The station's version moved under us: start over with a full list.
                sync.due_at = timezone.now()
                sync.save(update_fields=["due_at"])
    if next_command is None and sync.due_at is not None:
        _sync_later(station.pk, countdown=max(0, int((sync.due_at - timezone.now()).total_seconds())))
    return next_command


def _send(sync: LocalListSync, *, station: Station, reported: int) -> Command | None:
    desired = local_list_desired(station=station)
    differential = sync.confirmed and reported == sync.version
    if differential:
        upserts, removals = local_list_diff(old=sync.entries, new=desired)
        if not upserts and not removals:
            _finish(sync, f"in sync (version {sync.version}, {len(desired)} cards)", confirmed=True)
            return None
        update_type = "Differential"
    else:
        upserts, removals, update_type = desired, [], "Full"
    version = max(sync.version, reported) + 1
    payload = local_list_payload(
        ocpp_version=station.ocpp_version,
        version=version,
        update_type=update_type,
        upserts=upserts,
        removals=removals,
        removal_types={uid: sync.entries.get(uid, {}).get("type", "") for uid in removals},
    )
    try:
        command = command_create(
            station=station, action="SendLocalList", payload=payload, expires_in=COMMAND_EXPIRY
        )
    except CommandError as exc:
        _finish(sync, f"not sent: {exc}", confirmed=False)
        return None
    sync.stage = LocalListSync.Stage.SENDING
    sync.pending_command = command
    sync.pending_version = version
    sync.pending_entries = desired
    sync.last_result = f"{update_type.lower()} update to version {version} sent"
    sync.save()
    return command


def _finish(sync: LocalListSync, result: str, *, confirmed: bool) -> None:
    sync.stage = LocalListSync.Stage.IDLE
    sync.pending_command = None
    sync.pending_version = None
    sync.pending_entries = {}
    sync.confirmed = confirmed
    sync.last_result = result[:200]
    sync.save()


@transaction.atomic
def local_list_customer_cleared(*, station_id: int, uid: str, id_token_type: str = "") -> Command | None:
    """A station erased what it held about a card (CustomerInformation with clear, N10), its local
    list entry included. When the list ChargeNet last confirmed there holds the card, a differential
    SendLocalList removes it under the next version, so that ChargeNet and the station agree on the
    list and its version (N10.FR.02); a station whose list is unconfirmed or being synced is synced
    again instead. Returns the SendLocalList, or None."""
    sync = (
        LocalListSync.objects.select_for_update(of=("self",))
        .select_related("pending_command", "station")
        .filter(station_id=station_id)
        .first()
    )
    if sync is None or not sync.station.local_list_enabled or uid not in sync.entries:
        return None
    busy = sync.pending_command is not None and sync.pending_command.status not in Command.FINAL
    if not sync.confirmed or (sync.stage != LocalListSync.Stage.IDLE and busy):
        local_list_sync_request(station_ids=[station_id], delay=0)
        return None
    station = sync.station
    version = sync.version + 1
    payload = local_list_payload(
        ocpp_version=station.ocpp_version,
        version=version,
        update_type="Differential",
        upserts={},
        removals=[uid],
        removal_types={uid: sync.entries[uid].get("type") or id_token_type},
    )
    try:
        command = command_create(
            station=station, action="SendLocalList", payload=payload, expires_in=COMMAND_EXPIRY
        )
    except CommandError as exc:
        _finish(sync, f"not sent: {exc}", confirmed=False)
        return None
    sync.stage = LocalListSync.Stage.SENDING
    sync.pending_command = command
    sync.pending_version = version
    sync.pending_entries = {key: info for key, info in sync.entries.items() if key != uid}
    sync.last_result = f"card {uid} removed after its customer data was cleared: version {version} sent"[:200]
    sync.save()
    return command


def stations_that_may_cache(*, id_token: IdToken) -> list[Station]:
    """Stations that accepted the card (so may hold it in their authorization cache)."""
    identities = set(
        AuthorizationLog.objects.filter(id_token=id_token, status="Accepted").values_list(
            "station_identity", flat=True
        )
    )
    session_station_ids = set(Session.objects.filter(id_token=id_token).values_list("station_id", flat=True))
    return list(
        Station.objects.filter(Q(identity__in=identities) | Q(pk__in=session_station_ids)).exclude(
            registration_status=Station.RegistrationStatus.REJECTED
        )
    )


@transaction.atomic
def local_lists_id_token_changed(*, id_token_id: int) -> list[Command]:
    """React to a card change: ClearCache where a no-longer-valid card may be cached, and a
    (debounced) local-list sync for every local-list station that holds or should hold it."""
    id_token = IdToken.objects.filter(pk=id_token_id).first()
    if id_token is None:
        return []
    commands = []
    if local_list_entry(id_token=id_token)["status"] != IdToken.Status.ACCEPTED:
        for station in stations_that_may_cache(id_token=id_token):
            try:
                commands.append(
                    command_create(
                        station=station, action="ClearCache", payload={}, expires_in=COMMAND_EXPIRY
                    )
                )
            except CommandError:
                logger.warning("could not queue ClearCache for %s", station.identity, exc_info=True)
    affected = [
        station.pk
        for station in Station.objects.filter(local_list_enabled=True).select_related(
            "local_list", "location"
        )
        if id_token.uid in _held(station) or card_allowed_at(station=station, id_token=id_token)
    ]
    local_list_sync_request(station_ids=affected)
    return commands


def _held(station: Station) -> Entries:
    try:
        entries: Entries = station.local_list.entries
    except LocalListSync.DoesNotExist:
        return {}
    return entries


# --- tasks and event subscribers ----------------------------------------------------------------


@shared_task(name="stations.local_list_sync_task")
def local_list_sync_task(station_id: int) -> str | None:
    """Start the local-list sync of a station if it is due; returns the command uuid."""
    station = Station.objects.filter(pk=station_id).first()
    command = local_list_sync_start(station=station) if station else None
    return str(command.uuid) if command else None


@shared_task(name="stations.local_list_syncs_due_task")
def local_list_syncs_due_task() -> int:
    """Beat: start the local-list syncs that are due; returns how many started."""
    return local_list_syncs_start_due()


# The outbox dispatcher calls these inside its transaction, so their work is done exactly once with
# the event (a failure is retried with it) and needs no broker.
def on_id_token_changed(event_type: str, data: dict[str, Any]) -> None:
    local_lists_id_token_changed(id_token_id=data["id_token_id"])


def on_command_updated(event_type: str, data: dict[str, Any]) -> None:
    if data.get("action") in LIST_ACTIONS and data.get("status") in Command.FINAL:
        command = Command.objects.select_related("station").filter(uuid=data["command_id"]).first()
        if command is not None:
            local_list_command_handle(command=command)


def on_station_changed(event_type: str, data: dict[str, Any]) -> None:
    # Boot: the station may have lost its list. Update: its access lists may have changed.
    station_id = data.get("station_id")
    if station_id is not None and Station.objects.filter(pk=station_id, local_list_enabled=True).exists():
        local_list_sync_request(station_ids=[station_id])


def subscribe() -> None:
    """Register the event subscribers (called from StationsConfig.ready)."""
    from chargenet.events import event_subscribe

    event_subscribe("id_token.created", on_id_token_changed)
    event_subscribe("id_token.updated", on_id_token_changed)
    event_subscribe("command.updated", on_command_updated)
    event_subscribe("station.booted", on_station_changed)
    event_subscribe("station.updated", on_station_changed)
