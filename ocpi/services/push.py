"""Pushes to partners (an outbox of rows delivered by Celery) and the roaming facts of sessions."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from billing.models import Cdr, Tariff
from chargenet.events import event_batch_memo
from ocpi import selectors, v211
from ocpi.client import PartnerUnreachable, answer_accepted, partner_call
from ocpi.models import ClientInfo, EmspToken, Partner, Push, RoamingSession, RoamingToken
from ocpi.services.routing import body_party
from ocpi.services.tokens import COMMAND_TOKEN_GRACE
from stations.models import Evse, Session, Station


def roaming_session_record(*, session_id: int) -> RoamingSession | None:
    """Note which partner a session belongs to (its card's eMSP) and how it was authorized; once per
    session. Returns None for a session of a local card."""
    existing = RoamingSession.objects.filter(session_id=session_id).first()
    if existing is not None:
        return existing
    session = Session.objects.select_related("id_token").filter(pk=session_id).first()
    if session is None or session.id_token is None:
        return None
    token = (
        RoamingToken.objects.select_related("partner")
        .filter(id_token=session.id_token, partner__status=Partner.Status.REGISTERED)
        .order_by("-id")
        .first()
    )
    if token is None:
        return None
    recent = session.started_at - COMMAND_TOKEN_GRACE
    method, reference = RoamingSession.AuthMethod.WHITELIST, ""
    if (
        token.command_at
        and token.command_at >= recent
        and (not token.authorized_at or token.command_at >= token.authorized_at)
    ):
        method, reference = RoamingSession.AuthMethod.COMMAND, token.authorization_reference
    elif token.authorized_at and token.authorized_at >= recent:
        method, reference = RoamingSession.AuthMethod.AUTH_REQUEST, token.authorization_reference
    try:
        with transaction.atomic():
            return RoamingSession.objects.create(
                session=session,
                partner=token.partner,
                token=token,
                cdr_token=token.cdr_token(),
                auth_method=method,
                authorization_reference=reference,
            )
    except IntegrityError:
        return RoamingSession.objects.get(session_id=session_id)


def _registered() -> list[Partner]:
    """The registered partners, read once per dispatch transaction (most networks have none, and
    every status change and meter value asks)."""
    return event_batch_memo(
        "ocpi.registered_partners",
        lambda: list(Partner.objects.filter(status=Partner.Status.REGISTERED).order_by("id")),
    )


def _receivers(module: str) -> list[Partner]:
    return [p for p in _registered() if p.endpoint(module)]


def push_create(
    *, partner: Partner, module: str, method: str, path: str, object_key: str, event_key: str = ""
) -> Push | None:
    """Queue a change for a partner (the body is rendered from the current state when it is sent).
    Idempotent per event: a redelivered event (same `event_key`) queues nothing new."""
    try:
        with transaction.atomic():
            push = Push.objects.create(
                partner=partner,
                module=module,
                method=method,
                path=path,
                object_key=object_key,
                event_key=event_key,
            )
    except IntegrityError:
        return None
    transaction.on_commit(lambda: _deliver_enqueue(partner.pk, object_key))
    return push


def _deliver_enqueue(partner_id: int, object_key: str) -> None:
    from ocpi.tasks import push_deliver_task

    push_deliver_task.delay(partner_id, object_key)


def _our_path(*ids: str) -> str:
    return "/" + "/".join([settings.OCPI_COUNTRY_CODE, settings.OCPI_PARTY_ID, *ids])


def _fan_out(*, module: str, method: str, path: str, object_key: str, event_key: str) -> list[Push]:
    """One push of the change to every registered partner that receives `module`."""
    pushes = []
    for partner in _receivers(module):
        push = push_create(
            partner=partner,
            module=module,
            method=method,
            path=path,
            object_key=object_key,
            event_key=event_key,
        )
        if push is not None:
            pushes.append(push)
    return pushes


def pushes_for_evse_status(*, station_id: int, evse_id: int, event_key: str = "") -> list[Push]:
    """An EVSE's status changed: PATCH it to every partner that receives locations."""
    if not _receivers("locations"):
        return []
    evse = Evse.objects.select_related("station").filter(station_id=station_id, evse_id=evse_id).first()
    if evse is None or evse.station.location_id is None:
        return []
    if selectors.location_get(location_id=str(evse.station.location_id)) is None:
        return []  # not published
    path = _our_path(str(evse.station.location_id), selectors.evse_uid(evse))
    return _fan_out(
        module="locations", method="PATCH", path=path, object_key=f"evse:{evse.pk}", event_key=event_key
    )


def pushes_for_location(*, location_id: int, event_key: str = "") -> list[Push]:
    """A location changed: PUT it whole to every partner that receives locations."""
    if selectors.location_get(location_id=str(location_id)) is None:
        return []
    return _fan_out(
        module="locations", method="PUT", path=_our_path(str(location_id)),
        object_key=f"location:{location_id}", event_key=event_key,
    )  # fmt: skip


def pushes_for_station(*, station_id: int, event_key: str = "") -> list[Push]:
    """A station was added to, changed at or removed from a location: PUT the location whole."""
    location_id = Station.objects.filter(pk=station_id).values_list("location_id", flat=True).first()
    return pushes_for_location(location_id=location_id, event_key=event_key) if location_id else []


def pushes_for_tariff(*, tariff_id: int, code: str, deleted: bool = False, event_key: str = "") -> list[Push]:
    """A tariff was created or changed (PUT) or deleted (DELETE): tell every partner that receives tariffs."""
    return _fan_out(
        module="tariffs", method="DELETE" if deleted else "PUT", path=_our_path(code),
        object_key=f"tariff:{tariff_id}", event_key=event_key,
    )  # fmt: skip


def pushes_for_session(*, session_id: int, method: str, event_key: str = "") -> Push | None:
    """A roaming session started (PUT), grew (PATCH) or ended (PUT): send it to its eMSP."""
    if not _registered():
        return None  # no eMSP, so no roaming session to record or push
    roaming = roaming_session_record(session_id=session_id)
    if roaming is None or not roaming.partner.endpoint("sessions"):
        return None
    return push_create(
        partner=roaming.partner, module="sessions", method=method, path=_our_path(str(session_id)),
        object_key=f"session:{session_id}", event_key=event_key,
    )  # fmt: skip


def pushes_for_cdr(*, cdr_id: int, event_key: str = "") -> Push | None:
    """A CDR was made: POST it to the eMSP of the session's card, and only to it."""
    if not _registered():
        return None
    cdr = Cdr.objects.filter(pk=cdr_id).first()
    if cdr is None:
        return None
    roaming = roaming_session_record(session_id=cdr.session_id)
    if roaming is None or not roaming.partner.endpoint("cdrs"):
        return None
    if cdr.kind == Cdr.Kind.CREDIT and roaming.partner.version == v211.VERSION:
        return None  # OCPI 2.1.1 has no credit CDRs
    return push_create(
        partner=roaming.partner,
        module="cdrs",
        method="POST",
        path="",
        object_key=f"cdr:{cdr_id}",
        event_key=event_key,
    )


def _push_body(push: Push) -> Any:
    """The push's body in the partner's version: rendered as 2.2.1, mapped for a 2.1.1 partner."""
    body = _push_body_221(push)
    if push.partner.version != v211.VERSION or body is None:
        return body
    kind = push.object_key.partition(":")[0]
    if kind == "location":
        return v211.out_location(body)
    if kind == "tariff":
        return v211.out_tariff(body)
    if kind == "token":
        return v211.out_token(body)
    if kind == "session" and push.method == "PATCH":
        return v211.out_session_patch(body)
    if kind == "session":
        return v211.out_session(body)
    if kind == "cdr":
        return v211.out_cdr(body)
    return body  # an EVSE status PATCH is the same in both versions


def _push_body_221(push: Push) -> Any:
    kind, _, pk = push.object_key.partition(":")
    if kind == "evse":
        evse = Evse.objects.select_related("station").prefetch_related("connectors").get(pk=int(pk))
        data = selectors.evse_to_ocpi(evse, evse.station)
        return {"status": data["status"], "last_updated": data["last_updated"]}
    if kind == "location":
        location = selectors.location_get(location_id=pk)
        return selectors.location_to_ocpi(location) if location else None
    if push.method == "DELETE":
        return None
    if kind == "tariff":
        return selectors.tariff_to_ocpi(Tariff.objects.get(pk=int(pk)))
    if kind == "session":
        session = selectors.session_list(partner=push.partner).get(pk=int(pk))
        data = selectors.session_to_ocpi(session)
        if push.method == "PATCH":
            # OCPI 2.2.1 Sessions module: periods in a PATCH are appended; the PUT at the end carries them all.
            return {k: data[k] for k in ("kwh", "total_cost", "status", "last_updated")}
        return data
    if kind == "cdr":
        return selectors.cdr_to_ocpi(selectors.cdr_list(partner=push.partner).get(pk=int(pk)))
    if kind == "token":
        from ocpi.services.emsp_tokens import emsp_token_to_ocpi

        return emsp_token_to_ocpi(EmspToken.objects.select_related("id_token").get(pk=int(pk)))
    raise ValueError(f"unknown push object {push.object_key}")


def _push_party(push: Push) -> tuple[str, str] | None:
    """The party behind a hub a session or CDR push is for: the owner of the session's token."""
    kind, _, pk = push.object_key.partition(":")
    roaming = RoamingSession.objects.filter(
        **({"session_id": int(pk)} if kind == "session" else {"session__cdrs__pk": int(pk)})
    ).first() if kind in ("session", "cdr") else None  # fmt: skip
    return body_party({"cdr_token": roaming.cdr_token}) if roaming is not None else None


def _party_reachable_check(partner: Partner, party: tuple[str, str] | None) -> None:
    """A party its hub reports OFFLINE or SUSPENDED (HubClientInfo) gets nothing: its pushes wait
    with back-off, like those of a partner that is down. Raises PartnerUnreachable."""
    if party is None:
        return
    info = ClientInfo.objects.filter(partner=partner, country_code=party[0], party_id=party[1]).first()
    if info is not None and info.status in (ClientInfo.Status.OFFLINE, ClientInfo.Status.SUSPENDED):
        raise PartnerUnreachable(f"{party[0]}*{party[1]} is {info.status} at the hub")


def push_backoff(*, attempts: int) -> int:
    """Seconds before the next attempt: 5 s, 15 s, 45 s … capped at ten minutes."""
    return int(min(5 * 3 ** max(0, attempts - 1), 600))


def push_deliver(*, partner_id: int, object_key: str) -> int | None:
    """Send a partner's pending pushes of one object, oldest first, stopping at the first failure.

    Returns seconds until the next attempt is due when one failed (None when nothing is left or
    another worker holds the object). Never raises for a failing partner.
    """
    while True:
        now = timezone.now()
        push = (
            Push.objects.filter(partner_id=partner_id, object_key=object_key, status=Push.Status.PENDING)
            .order_by("id")
            .first()
        )
        if push is None:
            return None
        if push.next_attempt_at and push.next_attempt_at > now:
            return max(1, int((push.next_attempt_at - now).total_seconds()))
        claimed = (
            Push.objects.filter(pk=push.pk, status=Push.Status.PENDING)
            .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
            .update(locked_until=now + timedelta(seconds=settings.OCPI_TIMEOUT + 30))
        )
        if not claimed:
            return None
        push.refresh_from_db()
        partner = push.partner
        error, status, location = "", None, ""
        try:
            body = _push_body(push)
            base = partner.endpoint(push.module)
            if partner.status != Partner.Status.REGISTERED or not base:
                raise PartnerUnreachable("the partner is no longer registered for this module")
            # A CDR is POSTed to the URL exactly as advertised (a peer may route only its own form).
            url = base.rstrip("/") + push.path if push.path else base
            to_party = _push_party(push)
            _party_reachable_check(partner, to_party)
            answer = partner_call(
                partner, method=push.method, url=url, module=push.module, body=body, to_party=to_party
            )
            status = answer.http_status
            location = answer.headers.get("location", "")
            if not answer_accepted(answer):
                error = f"HTTP {answer.http_status}, OCPI {answer.status_code}"
        except (PartnerUnreachable, ObjectDoesNotExist, ValueError) as exc:
            error = str(exc) or exc.__class__.__name__
        push.attempts += 1
        push.locked_until = None
        push.response_status = status
        push.last_error = error[:500]
        if not error:
            push.status = Push.Status.SUCCEEDED
            push.delivered_at = timezone.now()
            push.response_location = location[:500]
        elif push.attempts >= settings.OCPI_PUSH_MAX_ATTEMPTS or partner.status != Partner.Status.REGISTERED:
            push.status = Push.Status.FAILED
        else:
            push.next_attempt_at = timezone.now() + timedelta(seconds=push_backoff(attempts=push.attempts))
        push.save()
        if push.status == Push.Status.PENDING:
            return push_backoff(attempts=push.attempts)


def pushes_due() -> list[tuple[int, str]]:
    """(partner, object) pairs with a pending push that is due: the sweep catches up a partner that
    was down, and pushes whose task was lost."""
    now = timezone.now()
    rows = (
        Push.objects.filter(status=Push.Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .values_list("partner_id", "object_key")
        .distinct()
    )
    return list(rows[:1000])


def partner_initial_push(*, partner_id: int) -> int:
    """A partner that just registered gets our published locations and our tariffs pushed (it may
    still pull them), and, as a CPO, our drivers' roaming cards; we pull its network at once.
    Returns how many pushes were queued."""
    partner = Partner.objects.get(pk=partner_id)
    queued = 0
    if partner.endpoint("tariffs"):
        for tariff in selectors.tariff_list():
            queued += bool(push_create(partner=partner, module="tariffs", method="PUT",
                                       path=_our_path(tariff.code), object_key=f"tariff:{tariff.pk}"))  # fmt: skip
    if partner.endpoint("locations"):
        for location in selectors.location_list():
            queued += bool(push_create(partner=partner, module="locations", method="PUT",
                                       path=_our_path(str(location.pk)), object_key=f"location:{location.pk}"))  # fmt: skip
    from ocpi.services.emsp_tokens import emsp_tokens_initial_push
    from ocpi.tasks import partner_pull_task

    queued += emsp_tokens_initial_push(partner=partner)
    if partner.endpoint("locations", "SENDER") or partner.endpoint("tariffs", "SENDER"):
        partner_pull_task.delay(partner.pk)
    return queued
