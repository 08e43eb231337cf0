"""The eMSP role's Commands sender: a driver starts or stops charging on a partner's network from the
account page. The command is a row (sent by Celery, retried), the CPO's immediate CommandResponse and
later CommandResult (POSTed to our response_url) are kept on it for the driver's page."""

import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from chargenet.errors import DomainError
from chargenet.events import event_publish
from ocpi import transport, v211
from ocpi.client import PartnerUnreachable, partner_call
from ocpi.models import EmspCommand, EmspToken, Partner, PartnerLocation, PartnerSession
from ocpi.services.emsp_tokens import emsp_token_to_ocpi
from ocpi.transport import OcpiError
from rfid.models import Driver, IdToken

RESULTS = {
    "ACCEPTED",
    "CANCELED_RESERVATION",
    "EVSE_OCCUPIED",
    "EVSE_INOPERATIVE",
    "FAILED",
    "NOT_SUPPORTED",
    "REJECTED",
    "TIMEOUT",
    "UNKNOWN_RESERVATION",
    "UNKNOWN_SESSION",
}  # fmt: skip  (the last one: a 2.1.1 CPO posts a CommandResponse)
RESPONSES = {"NOT_SUPPORTED", "REJECTED", "ACCEPTED", "UNKNOWN_SESSION"}
SEND_ATTEMPTS = 5


class RoamingChargeError(DomainError):
    """A driver's start or stop on a partner network was refused; the message says why."""

    api_status = 400
    api_code = "roaming_refused"


def _driver_card(driver: Driver) -> EmspToken:
    token = (
        EmspToken.objects.select_related("id_token")
        .filter(id_token__driver=driver, enabled=True, id_token__status=IdToken.Status.ACCEPTED)
        .filter(Q(id_token__expires_at__isnull=True) | Q(id_token__expires_at__gt=timezone.now()))
        .order_by("id")
        .first()
    )
    if token is None:
        raise RoamingChargeError("none of your cards is enabled for roaming; ask the operator")
    return token


def _command_create(*, partner: Partner, command: str, driver: Driver, id_token: IdToken | None,
                    body: dict[str, Any], our_base_url: str) -> EmspCommand:  # fmt: skip
    if partner.status != Partner.Status.REGISTERED or not partner.endpoint("commands", "RECEIVER"):
        raise RoamingChargeError(f"{partner.name} takes no remote commands")
    row = EmspCommand(partner=partner, command=command, driver=driver, id_token=id_token, body={})
    base = settings.OCPI_BASE_URL or our_base_url.rstrip("/")
    version = partner.version or transport.VERSION
    row.body = {"response_url": f"{base}/ocpi/{version}/emsp/commands/{command}/{row.uuid}", **body}
    row.save()
    transaction.on_commit(lambda: _send_enqueue(row.pk))
    return row


def _send_enqueue(command_id: int) -> None:
    from ocpi.tasks import emsp_command_send_task

    emsp_command_send_task.delay(command_id)


@transaction.atomic
def roaming_charge_start(
    *, driver: Driver, location: PartnerLocation, evse_uid: str, our_base_url: str
) -> EmspCommand:
    """A driver starts charging at a partner's EVSE with their roaming card: START_SESSION goes to
    the CPO. Raises RoamingChargeError for no roaming card, an unknown or unavailable EVSE."""
    token = _driver_card(driver)
    evse = next((e for e in location.data.get("evses", []) if e.get("uid") == evse_uid), None)
    if evse is None or not location.publish:
        raise RoamingChargeError("unknown charge point")
    if evse.get("status") not in ("AVAILABLE", "RESERVED", "CHARGING"):
        raise RoamingChargeError(f"the charge point is {str(evse.get('status')).lower()}")
    body = {
        "token": emsp_token_to_ocpi(token),
        "location_id": location.object_id,
        "evse_uid": evse_uid,
        # The CPO copies it into the session: that is how the driver's page finds the session.
        "authorization_reference": uuid.uuid4().hex,
    }
    return _command_create(partner=location.partner, command="START_SESSION", driver=driver,
                           id_token=token.id_token, body=body, our_base_url=our_base_url)  # fmt: skip


@transaction.atomic
def roaming_charge_stop(*, driver: Driver, session: PartnerSession, our_base_url: str) -> EmspCommand:
    """A driver stops their session on a partner's network: STOP_SESSION goes to the CPO. Raises
    RoamingChargeError for another driver's or a finished session."""
    if session.driver_id != driver.pk:
        raise RoamingChargeError("not your session")
    if session.status not in ("ACTIVE", "PENDING"):
        raise RoamingChargeError("the session has ended")
    return _command_create(partner=session.partner, command="STOP_SESSION", driver=driver,
                           id_token=session.id_token, body={"session_id": session.object_id},
                           our_base_url=our_base_url)  # fmt: skip


def emsp_command_send(*, command_id: int) -> str:
    """Send a queued command to its CPO once; keep its CommandResponse. A CPO that cannot be reached
    is tried again by the sweep, SEND_ATTEMPTS times in all. Idempotent: a sent command stays sent."""
    claimed = EmspCommand.objects.filter(pk=command_id, status=EmspCommand.Status.QUEUED).update(
        attempts=F("attempts") + 1, updated_at=timezone.now()
    )
    if not claimed:
        return "not queued"
    command = EmspCommand.objects.select_related("partner").get(pk=command_id)
    url = f"{command.partner.endpoint('commands', 'RECEIVER').rstrip('/')}/{command.command}"
    try:
        body = v211.out_command(command.body) if command.partner.version == v211.VERSION else command.body
        answer = partner_call(command.partner, method="POST", url=url, module="commands", body=body)
    except PartnerUnreachable as exc:
        if command.attempts >= SEND_ATTEMPTS:
            _command_finish(command, status=EmspCommand.Status.FAILED, result="FAILED", message=str(exc))
        return "retry"
    # Some CPOs (extrawest's library among them) wrap the CommandResponse in a list.
    data = answer.data[0] if isinstance(answer.data, list) and answer.data else answer.data
    data = data if isinstance(data, dict) else {}
    response = str(data.get("result", ""))
    if not answer.ok or response not in RESPONSES:
        _command_finish(command, status=EmspCommand.Status.FAILED, result="FAILED",
                        message=f"HTTP {answer.http_status}, OCPI {answer.status_code}", response=response)  # fmt: skip
        return "failed"
    if response != "ACCEPTED":
        message = _text(data.get("message"))
        _command_finish(command, status=EmspCommand.Status.FAILED, result=response, message=message,
                        response=response)  # fmt: skip
        return response
    with transaction.atomic():
        EmspCommand.objects.filter(pk=command.pk, status=EmspCommand.Status.QUEUED).update(
            status=EmspCommand.Status.SENT, response=response, updated_at=timezone.now()
        )
        event_publish("roaming_command.updated", {"emsp_command_id": command.pk, "status": "sent"})
    return response


def _text(value: Any) -> str:
    """The first text of an OCPI DisplayText list (or a plain string)."""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return str(value[0].get("text", ""))[:300]
    return str(value or "")[:300]


def _command_finish(
    command: EmspCommand, *, status: str, result: str, message: str = "", response: str = ""
) -> None:
    with transaction.atomic():
        fields: dict[str, Any] = {"status": status, "result": result, "message": message[:300],
                                  "updated_at": timezone.now()}  # fmt: skip
        if response:
            fields["response"] = response
        EmspCommand.objects.filter(pk=command.pk).update(**fields)
        event_publish("roaming_command.updated", {"emsp_command_id": command.pk, "status": status})


def emsp_command_result(*, partner: Partner, command: str, command_uuid: str, body: Any) -> None:
    """The CPO posts the CommandResult of a command we sent (to our response_url). Raises OcpiError
    2001 for a malformed result, 2001/404 for a command that is not this partner's."""
    row = EmspCommand.objects.filter(
        partner=partner, command=command.upper(), uuid=_uuid(command_uuid)
    ).first()
    if row is None:
        raise OcpiError(
            f"unknown command {command_uuid}", status_code=transport.INVALID_PARAMETERS, http_status=404
        )
    if not isinstance(body, dict) or body.get("result") not in RESULTS:
        raise OcpiError(
            f"result must be one of {', '.join(sorted(RESULTS))}", status_code=transport.INVALID_PARAMETERS
        )
    result = str(body["result"])
    status = EmspCommand.Status.DONE if result == "ACCEPTED" else EmspCommand.Status.FAILED
    _command_finish(row, status=status, result=result, message=_text(body.get("message")))


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        return uuid.UUID(int=0)


def emsp_commands_due() -> list[int]:
    """Commands to (re)send: queued for more than ten seconds (a lost task, a CPO that was down). A
    sent command whose result never came is reported TIMEOUT after twice OCPI_COMMAND_TIMEOUT."""
    now = timezone.now()
    stale = EmspCommand.objects.filter(
        status=EmspCommand.Status.SENT,
        updated_at__lt=now - timedelta(seconds=2 * settings.OCPI_COMMAND_TIMEOUT),
    )
    for command in stale:
        _command_finish(command, status=EmspCommand.Status.FAILED, result="TIMEOUT",
                        message="the charge point did not answer in time")  # fmt: skip
    return list(
        EmspCommand.objects.filter(
            status=EmspCommand.Status.QUEUED, updated_at__lt=now - timedelta(seconds=10)
        ).values_list("id", flat=True)[:500]
    )
