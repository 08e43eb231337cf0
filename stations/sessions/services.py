"""Charging sessions: authorization, start/stop transactions and meter values."""

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

from django.db import transaction
from django.utils import timezone

from chargenet import sql
from chargenet.events import event_publish
from rfid.services import AuthorizationDecision
from stations.access.services import station_id_token_authorize
from stations.common import (
    INT32_MAX,
    METER_MAX_WH,
    _connector_for,
    _session_event,
    _sessions_close_incomplete,
    _station_get,
    _timestamp_or_now,
    _timestamp_plausible,
)
from stations.models import Command, MeterSample, Reservation, Session, Station

ENERGY_REGISTER = "Energy.Active.Import.Register"

# The writer's statements of every MeterValues and StopTransaction, compiled once (chargenet/sql.py).
_meter_samples_insert = sql.Insert(MeterSample, ignore_conflicts=True)
# A session by its station's transaction id (unique per station), with its EVSE and station.
_session_by_transaction = sql.Select(
    Session,
    where=["station_id", "transaction_id"],
    related=["evse", "station"],
    # What a MeterValues reads of them (its samples, the session's energy, session.updated): the
    # station's other 25 columns and the session's times and JSON lists are not converted each time.
    only={
        "": ["station", "evse", "transaction_id", "id_tag", "status", "meter_start_wh", "energy_wh"],
        "station": ["identity", "created_at"],
    },
)
# The same, locked (FOR UPDATE OF the session only: PostgreSQL refuses it on the nullable side of the
# LEFT JOIN to evse): every StopTransaction closes the session it names.
_session_by_transaction_locked = sql.Select(
    Session, where=["station_id", "transaction_id"], related=["evse", "station"], lock=True
)
_session_energy_update = sql.Update(Session, ["energy_wh", "updated_at"])
# A retried StartTransaction: the session it already opened (same EVSE, card, meter and time).
_session_start_retried = sql.Select(
    Session,
    where=["station_id", "evse__evse_id", "id_tag__iexact", "meter_start_wh", "started_at"],
    related=["evse", "station"],
)
# A session left active on the connector a StartTransaction names (its StopTransaction was lost).
_session_active_on_connector = sql.Select(Session, where=["connector_id", "status"], lock=True)
_session_transaction_id_update = sql.Update(Session, ["transaction_id"])
# A new session (StartTransaction, TransactionEvent Started): stored without the ORM building the INSERT.
_session_insert = sql.Insert(Session, returning_pks=True)
# Everything a StopTransaction changes on its session.
_session_close_update = sql.Update(
    Session,
    ["status", "stopped_at", "meter_stop_wh", "energy_wh", "stop_reason", "flags", "updated_at"],
)


@transaction.atomic
def station_id_tag_authorize(
    *, station_id: int, uid: str, concurrency: str = "none"
) -> AuthorizationDecision:
    """Answer an Authorize request: the decision for `uid` at the station; marks the card used.

    1.6 Authorize never answers ConcurrentTx (1.6 §4.2: only StartTransaction may), so concurrency
    is "none" by default; a 2.0.1 Authorize (no EVSE named) passes "other_stations": the card's own
    session at this station (being stopped with the card) is not concurrent."""
    station = _station_get(station_id)
    return station_id_token_authorize(station=station, uid=uid, concurrency=concurrency)


@transaction.atomic
def session_start(
    *,
    station_id: int,
    connector_id: int,
    id_tag: str,
    meter_start: int,
    timestamp: Any,
    reservation_id: int | None = None,
) -> tuple[Session, AuthorizationDecision]:
    """Record a StartTransaction and assign its integer transaction id; returns (session, decision).

    Idempotent on content: a retry (same connector, id tag, meterStart and timestamp) returns the
    same session. An active session left on the connector lost its StopTransaction: it is closed as
    incomplete and flagged. A card that is not Accepted still gets a session (the CSMS cannot prevent
    a start, 1.6 §4.8), flagged, and its status goes back in idTagInfo. A timestamp no clock can
    have (far ahead, long before the station existed) is replaced by the time of receipt, flagged.
    """
    station = _station_get(station_id)
    flags: list[str] = []
    timestamp = _timestamp_or_now(station, timestamp, flags)
    existing = _session_start_retried(station.pk, connector_id, id_tag, meter_start, timestamp)
    if existing is not None:
        return existing, station_id_token_authorize(
            station=station, uid=id_tag, exclude_session_id=existing.pk
        )
    connector = _connector_for(station, connector_id)
    _sessions_close_incomplete(
        lambda: _session_active_on_connector(connector.pk, Session.Status.ACTIVE),
        stopped_at=lambda old: max(old.started_at, min(timestamp, timezone.now())),
        reason="StopTransactionMissing",
        flag="stop_transaction_missing",
    )
    decision = station_id_token_authorize(station=station, uid=id_tag, evse_id=connector.evse.evse_id)
    if not decision.accepted:
        flags.append(f"authorization_{decision.status.lower()}")
    if timestamp > timezone.now() + timedelta(minutes=5):
        flags.append("clock_ahead")
    session = Session(
        station=station,
        evse=connector.evse,
        connector=connector,
        transaction_id=uuid4().hex,
        id_token=decision.id_token,
        id_tag=id_tag,
        started_at=timestamp,
        meter_start_wh=meter_start,
        reservation_id=reservation_id,
        flags=flags,
    )
    _session_insert.objects([session])
    # The CSMS assigns 1.6 transaction ids; the row's primary key is unique and increasing. Nothing in
    # the same group commit looks the session up by it: the station learns it from the answer.
    session.transaction_id = str(session.pk)
    _session_transaction_id_update.later(session.pk, session.transaction_id)
    if reservation_id is not None:
        Reservation.objects.filter(station=station, reservation_id=reservation_id).update(
            status=Reservation.Status.USED
        )
    event_publish("session.started", _session_event(session))
    return session, decision


@transaction.atomic
def session_stop(
    *,
    station_id: int,
    transaction_id: int,
    meter_stop: int,
    timestamp: Any,
    id_tag: str = "",
    reason: str = "",
    samples: list[dict[str, Any]] | None = None,
) -> tuple[Session, AuthorizationDecision | None]:
    """Record a StopTransaction; returns (session, decision for id_tag or None). Never refuses.

    A retry is not counted twice. An unknown, -1 or 0 transaction id is reconciled: the one active
    session of the station (with that id tag) is closed, or a flagged record of the stop is kept. A
    meterStop no meter can read stops at the last known reading, an implausible timestamp at the
    time of receipt; both are flagged, never stored.
    """
    station = _station_get(station_id)
    flags: list[str] = []
    timestamp = _timestamp_or_now(station, timestamp, flags)
    if not 0 <= meter_stop <= METER_MAX_WH:
        flags.append("meter_stop_implausible")
    samples = [s for s in samples or [] if _timestamp_plausible(station, s["timestamp"])]
    session = _session_close(
        station=station,
        transaction_id=transaction_id,
        meter_stop=meter_stop if 0 <= meter_stop <= METER_MAX_WH else None,
        timestamp=timestamp,
        id_tag=id_tag[:36],
        reason=reason[:40],
        samples=samples,
        flags=flags,
    )
    # idTagInfo for the stop: the card's standing now, not counting the session it just ended.
    decision = (
        station_id_token_authorize(station=station, uid=id_tag, exclude_session_id=session.pk)
        if id_tag
        else None
    )
    return session, decision


def _session_close(
    *,
    station: Station,
    transaction_id: int,
    meter_stop: int | None,
    timestamp: Any,
    id_tag: str,
    reason: str,
    samples: list[dict[str, Any]] | None,
    flags: list[str],
) -> Session:
    """Close the session a StopTransaction names; `meter_stop` None means "unknown" (the last known
    reading is kept) and `flags` are what the caller noticed about the message."""
    session = None
    if 0 < transaction_id <= 2**31 - 1:
        session = _session_by_transaction_locked(station.pk, str(transaction_id))
    if session is None:
        retried = Session.objects.filter(
            station=station, stopped_at=timestamp, meter_stop_wh=meter_stop, status=Session.Status.COMPLETED
        ).first()
        if retried is not None:
            return retried
        active = Session.objects.select_for_update(of=("self",)).filter(
            station=station, status=Session.Status.ACTIVE
        )
        if id_tag:
            active = active.filter(id_tag__iexact=id_tag)
        candidates = list(active.select_related("station", "evse")[:2])
        if len(candidates) == 1:
            session = candidates[0]
            session.flags = [*session.flags, f"stopped_with_unknown_transaction_id_{transaction_id}"[:64]]
        else:
            session, _ = Session.objects.get_or_create(
                station=station,
                transaction_id=f"{transaction_id}@{int(timestamp.timestamp())}"[:36],
                defaults={
                    "status": Session.Status.COMPLETED,
                    "id_tag": id_tag,
                    "started_at": timestamp,
                    "stopped_at": timestamp,
                    "meter_start_wh": meter_stop or 0,
                    "meter_stop_wh": meter_stop or 0,
                    "stop_reason": reason,
                    "flags": ["stop_for_unknown_transaction", *flags],
                },
            )
            event_publish("session.stopped", _session_event(session))
            return session
    if session.status == Session.Status.COMPLETED:
        return session  # a retried StopTransaction: already counted
    if session.status == Session.Status.INCOMPLETE:
        session.flags = [*session.flags, "stopped_late"]
    session.flags = [*session.flags, *flags]
    if samples:
        _meter_samples_store(
            station=station,
            session=session,
            evse_id=session.evse.evse_id if session.evse else 0,
            samples=samples,
        )
    if meter_stop is None:
        meter_stop = session.meter_start_wh + session.energy_wh
    session.status = Session.Status.COMPLETED
    session.stopped_at = timestamp
    session.meter_stop_wh = meter_stop
    energy = meter_stop - session.meter_start_wh
    if energy < 0:
        session.flags = [*session.flags, "meter_went_backwards"]
        energy = 0
    if timestamp < session.started_at:
        session.flags = [*session.flags, "stop_before_start"]
    session.energy_wh = energy
    session.stop_reason = reason or "Local"
    session.updated_at = timezone.now()
    _session_close_update(
        session.pk,
        session.status,
        session.stopped_at,
        session.meter_stop_wh,
        session.energy_wh,
        session.stop_reason,
        session.flags,
        session.updated_at,
    )
    event_publish("session.stopped", _session_event(session))
    return session


def _meter_samples_store(
    *, station: Station, session: Session | None, evse_id: int, samples: list[dict[str, Any]]
) -> int:
    session_id = session.pk if session is not None else None
    rows = [{"station_id": station.pk, "session_id": session_id, "evse_id": evse_id, **s} for s in samples]
    _meter_samples_insert.later(rows)  # a replay's samples are ignored (meter_sample_unique)
    return len(rows)


@transaction.atomic
def meter_values_record(
    *, station_id: int, connector_id: int, transaction_id: int | None, samples: list[dict[str, Any]]
) -> Session | None:
    """Store normalised meter samples (a replay is stored once) and attach them to the session (by
    transaction id, else the active session on the connector); keeps the session's energy_wh.
    Samples dated where no clock can be (see _timestamp_plausible) are dropped."""
    session = None
    # The session comes with its station (one query in the usual case) and EVSE (the event names it).
    if transaction_id is not None:
        session = _session_by_transaction(station_id, str(transaction_id))
    if session is None and connector_id > 0:
        session = (
            Session.objects.select_related("evse", "station")
            .filter(station_id=station_id, evse__evse_id=connector_id, status=Session.Status.ACTIVE)
            .first()
        )
    station = session.station if session is not None else Station.objects.get(pk=station_id)
    samples = [s for s in samples if _timestamp_plausible(station, s["timestamp"])]
    _meter_samples_store(station=station, session=session, evse_id=connector_id, samples=samples)
    if session is not None:
        registers = _energy_registers(samples)
        if registers and session.status == Session.Status.ACTIVE:
            energy = max(registers) - session.meter_start_wh
            if energy > session.energy_wh:
                _session_energy_update.later(session.pk, energy, timezone.now())
                session.energy_wh = energy
        event_publish("session.updated", _session_event(session))
    return session


def _energy_registers(samples: list[dict[str, Any]]) -> list[int]:
    """The whole-meter energy register readings (Wh) among normalised samples. A 2.0.1 signed reading
    counts (its value is the reading, signedMeterValue proves it); a 1.6 SignedData value does not (its
    reading is inside the blob, stored as 0)."""
    return [
        int(s["value"])
        for s in samples
        if s["measurand"] == ENERGY_REGISTER
        and s["unit"] == "Wh"
        and not s.get("phase")
        and not (s.get("signed_data") and not s["value"])
    ]


@transaction.atomic
def transaction_event_record(
    *,
    station_id: int,
    event_type: str,
    transaction_id: str,
    timestamp: Any,
    evse_id: int | None = None,
    connector_id: int | None = None,
    id_tag: str = "",
    samples: list[dict[str, Any]] | None = None,
    stopped_reason: str = "",
    reservation_id: int | None = None,
    seq_no: int | None = None,
    remote_start_id: int | None = None,
    trigger_reason: str = "",
) -> tuple[Session, AuthorizationDecision | None]:
    """Record an OCPP 2.0.1 TransactionEvent (Started/Updated/Ended) on the session the station's own
    transaction id names; returns (session, decision for id_tag or None). Never refuses.

    Idempotent per (station, transactionId, seqNo) by content, so no seqNo is stored: a retry finds
    the same session, its samples are stored once, energy only grows and an Ended session is not closed
    twice; events may arrive out of order. An Updated/Ended whose Started was lost creates the session,
    flagged. Offline (queued) events are processed as any other. An implausible timestamp, EVSE or
    reservation id is flagged and replaced (by the time of receipt, or nothing), never stored.
    A Transaction.Begin reading is the meter start whichever event carries it; a transaction the
    station deauthorized because no EV was plugged in in time (EVConnectTimeout) is flagged.
    """
    station = _station_get(station_id)
    noticed: list[str] = []
    timestamp = _timestamp_or_now(station, timestamp, noticed)
    samples = [s for s in samples or [] if _timestamp_plausible(station, s["timestamp"])]
    if evse_id is not None and not 0 <= evse_id <= INT32_MAX or not 0 <= (connector_id or 0) <= INT32_MAX:
        noticed.append("evse_implausible")
        evse_id = connector_id = None
    if reservation_id is not None and not 0 <= reservation_id <= INT32_MAX:
        noticed.append("reservation_implausible")
        reservation_id = None
    transaction_id = transaction_id[:36]
    registers = _energy_registers(samples)
    begin = _energy_registers([s for s in samples if s["context"] == "Transaction.Begin"])
    session = (
        Session.objects.select_for_update(of=("self",))
        .filter(station=station, transaction_id=transaction_id)
        .select_related("station", "evse")
        .first()
    )
    created = session is None
    if session is None:
        connector = _connector_for(station, evse_id, connector_id or 1) if evse_id else None
        if connector is not None and event_type == "Started":
            # An active session left on the connector lost its Ended event.
            for old in Session.objects.select_for_update().filter(
                station=station, connector=connector, status=Session.Status.ACTIVE
            ):
                old.status = Session.Status.INCOMPLETE
                old.stopped_at = max(old.started_at, min(timestamp, timezone.now()))
                old.stop_reason = "TransactionEventEndedMissing"
                old.flags = [*old.flags, "stop_transaction_missing"]
                old.save()
                event_publish("session.stopped", _session_event(old))
        flags = [] if event_type == "Started" else ["started_event_missing"]
        flags.extend(noticed)
        if timestamp > timezone.now() + timedelta(minutes=5):
            flags.append("clock_ahead")
        session = Session(
            station=station,
            evse=connector.evse if connector else None,
            connector=connector,
            transaction_id=transaction_id,
            started_at=timestamp,
            meter_start_wh=min(registers) if registers else 0,
            reservation_id=reservation_id,
            flags=flags,
        )
        _session_insert.objects([session])
        if reservation_id is not None:
            Reservation.objects.filter(station=station, reservation_id=reservation_id).update(
                status=Reservation.Status.USED
            )
        event_publish("session.started", _session_event(session))
    else:
        session.flags = [*session.flags, *(f for f in noticed if f not in session.flags)]
        if session.evse is None and evse_id:
            connector = _connector_for(station, evse_id, connector_id or 1)
            session.evse, session.connector = connector.evse, connector
        if event_type == "Started" and timestamp < session.started_at:
            # The Started event arrived after a later event had opened the session: it knows the start.
            session.started_at = timestamp
            if registers:
                session.meter_start_wh = min(registers)
    if remote_start_id is not None and session.remote_start_id is None and 0 <= remote_start_id <= INT32_MAX:
        _remote_start_match(session, remote_start_id)
    if trigger_reason == "EVConnectTimeout" and "ev_connect_timeout" not in session.flags:
        session.flags = [*session.flags, "ev_connect_timeout"]
    if seq_no is not None and 0 <= seq_no <= INT32_MAX and seq_no not in session.seq_nos:
        session.seq_nos = sorted([*session.seq_nos, seq_no])
    if event_type == "Ended" and _seq_no_gap(session) and "seq_no_gap" not in session.flags:
        # E.FR: events are missing; ask the station whether it still holds them in its queue.
        from stations.connection.services.commands import command_create

        session.flags = [*session.flags, "seq_no_gap"]
        command_create(
            station=station, action="GetTransactionStatus", payload={"transactionId": session.transaction_id}
        )
    decision = None
    if id_tag:
        decision = station_id_token_authorize(
            station=station, uid=id_tag, evse_id=evse_id, exclude_session_id=session.pk
        )
        if not session.id_tag:  # e.g. cable plugged in first, the card presented later (E03)
            session.id_tag = id_tag[:36]
            session.id_token = decision.id_token
            if not decision.accepted:
                session.flags = [*session.flags, f"authorization_{decision.status.lower()}"]
    evse_number = session.evse.evse_id if session.evse else (evse_id or 0)
    if samples:
        _meter_samples_store(station=station, session=session, evse_id=evse_number, samples=samples)
    was_open = session.status != Session.Status.COMPLETED
    if was_open:
        if begin and not created:
            # J02: the start reading may come after the Started event, e.g. in the Updated of the
            # cable plug-in when the EVSE was not known at authorization: energy counts from it.
            highest = max(session.meter_start_wh + session.energy_wh, *registers)
            session.meter_start_wh = min(begin)
            session.energy_wh = max(0, highest - session.meter_start_wh)
        if registers and max(registers) - session.meter_start_wh > session.energy_wh:
            session.energy_wh = max(registers) - session.meter_start_wh
        if event_type == "Ended":
            meter_stop = max(registers) if registers else session.meter_start_wh + session.energy_wh
            energy = meter_stop - session.meter_start_wh
            if energy < 0:
                session.flags = [*session.flags, "meter_went_backwards"]
                energy = 0
            if timestamp < session.started_at:
                session.flags = [*session.flags, "stop_before_start"]
            if session.status == Session.Status.INCOMPLETE:
                session.flags = [*session.flags, "stopped_late"]
            session.status = Session.Status.COMPLETED
            session.stopped_at = timestamp
            session.meter_stop_wh = meter_stop
            session.energy_wh = energy
            session.stop_reason = (stopped_reason or "Local")[:40]
    session.save()
    if was_open and session.status == Session.Status.COMPLETED:
        event_publish("session.stopped", _session_event(session))
    elif was_open and not created:
        event_publish("session.updated", _session_event(session))
    return session, decision


def _seq_no_gap(session: Session) -> bool:
    """Whether seqNos 0 … the highest received are not all there (2.0.1 E: seqNo counts from 0)."""
    return bool(session.seq_nos) and len(session.seq_nos) < max(session.seq_nos) + 1


def _remote_start_match(session: Session, remote_start_id: int) -> None:
    """Tie a 2.0.1 session to the RequestStartTransaction whose remoteStartId it carries (F01/F02):
    the card of the remote start is the session's card when the station named none yet."""
    session.remote_start_id = remote_start_id
    command = (
        Command.objects.filter(
            station_id=session.station_id,
            action="RequestStartTransaction",
            payload__remoteStartId=remote_start_id,
        )
        .order_by("-pk")
        .first()
    )
    if command is None:
        session.flags = [*session.flags, "remote_start_unknown"]
        return
    uid = str((command.payload.get("idToken") or {}).get("idToken") or "")
    if uid and not session.id_tag:
        session.id_tag = uid[:36]
        session.id_token = station_id_token_authorize(station=session.station, uid=uid).id_token


# The price of a session as its driver sees it comes from billing, which stations may not import:
# billing registers its pricing here when it is installed (billing/apps.py).
SessionCoster = Callable[[Session], Decimal | None]
_session_costers: list[SessionCoster] = []


def session_cost_register(coster: SessionCoster) -> None:
    """Let `coster(session)` price a session (incl. VAT, in its tariff's currency) for the station."""
    if coster not in _session_costers:
        _session_costers.append(coster)


def session_total_cost(*, session_id: int) -> Decimal | None:
    """The session's total cost from the registered pricing, or None when no pricing is installed."""
    session = Session.objects.select_related("station__location", "id_token__driver", "connector").get(
        pk=session_id
    )
    for coster in _session_costers:
        cost = coster(session)
        if cost is not None:
            return cost
    return None


# What a driver is told about the prices (a 2.0.1 idTokenInfo personalMessage) also comes from
# billing: it registers a function of (station, card uid, language) that returns
# {"language", "text"} (the driver's tariff's text, best in that language) or None.
TariffTexter = Callable[[Station, str, str], dict[str, str] | None]
_tariff_texters: list[TariffTexter] = []


def tariff_text_register(texter: TariffTexter) -> None:
    """Let `texter(station, uid, language)` give the text about the card's prices at the station."""
    if texter not in _tariff_texters:
        _tariff_texters.append(texter)


def station_id_token_tariff_text(*, station_id: int, uid: str) -> dict[str, str] | None:
    """The text about the prices the card `uid` charges at on the station ({"language", "text"}),
    preferring the station's display language (its DisplayMessageCtrlr.Language, else the site's
    LANGUAGE_CODE); None when no pricing is installed or the tariff has no text."""
    from django.conf import settings

    from stations.devicemodel.selectors import station_display_language

    station = _station_get(station_id)
    language = station_display_language(station=station) or settings.LANGUAGE_CODE
    for texter in _tariff_texters:
        text = texter(station, uid, language)
        if text is not None:
            return text
    return None


def session_cost_updated_send(*, session_id: int) -> Command | None:
    """Tell a 2.0.1 station the running cost of a session it is charging (I: CostUpdated), as a durable
    command: the price the driver sees (billing's pricing), at most once per
    OCPP_COST_UPDATED_INTERVAL seconds per session and only when the amount changed since the last
    one sent. Nothing is sent for a 1.6 station, a session that ended, without pricing, or when the
    interval is 0 (turned off). Returns the command queued, if any."""
    from django.conf import settings

    from stations.connection.services.commands import CommandError, command_create

    interval = settings.OCPP_COST_UPDATED_INTERVAL
    if interval <= 0:
        return None
    with transaction.atomic():
        # Locked so two reactions to the same session's updates do not both send.
        session = (
            Session.objects.select_for_update(of=("self",))
            .select_related("station")
            .filter(pk=session_id)
            .first()
        )
        if (
            session is None
            or session.status != Session.Status.ACTIVE
            or session.station.ocpp_version != "2.0.1"
            or not session.transaction_id
        ):
            return None
        last = (
            Command.objects.filter(
                station_id=session.station_id,
                action="CostUpdated",
                payload__transactionId=session.transaction_id,
            )
            .order_by("-pk")
            .first()
        )
        if last is not None and last.created_at > timezone.now() - timedelta(seconds=interval):
            return None
        cost = session_total_cost(session_id=session.pk)
        if cost is None:
            return None
        total = float(cost.quantize(Decimal("0.01")))
        delivered = last is not None and last.status not in (
            Command.Status.ERROR,
            Command.Status.TIMED_OUT,
            Command.Status.EXPIRED,
        )
        if delivered and last is not None and last.payload.get("totalCost") == total:
            return None
        try:
            return command_create(
                station=session.station,
                action="CostUpdated",
                payload={"totalCost": total, "transactionId": session.transaction_id},
                # a running cost is stale soon: one the station did not get in time gives way to the next
                expires_in=max(interval, 60),
            )
        except CommandError:  # e.g. the station was Rejected meanwhile: nothing may be sent
            return None


def _on_session_updated(event_type: str, data: dict[str, Any]) -> None:
    from chargenet.events import event_batch_memo

    # Only 2.0.1 stations hear of running costs: the others' sessions are not even read.
    speaking_201 = event_batch_memo(
        "stations.ocpp201_stations",
        lambda: set(Station.objects.filter(ocpp_version="2.0.1").values_list("pk", flat=True)),
    )
    if data.get("station_id") in speaking_201:
        session_cost_updated_send(session_id=data["session_id"])


def subscribe() -> None:
    """React to session events (stations/apps.py)."""
    from chargenet.events import event_subscribe

    event_subscribe("session.updated", _on_session_updated)
