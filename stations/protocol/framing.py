"""OCPP-J framing: parse a frame, pick the version's error code, validate a payload.

The `ocpp` library drops unparseable frames without a reply, swaps NotImplemented/NotSupported and
sends 2.0.1 error names to 1.6 stations (docs/architecture.md, "The OCPP layer"). This module owns all of that and is
pure: it never touches the database or the socket.
"""

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs
from jsonschema.exceptions import ValidationError as SchemaValidationError
from ocpp.messages import get_validator

CALL, CALLRESULT, CALLERROR = 2, 3, 4
MAX_MESSAGE_ID_LENGTH = 36
# No OCPP message nests deeper than about ten levels; a deeper frame is refused before anything walks
# it (a JSON parser or a schema validator would recurse until RecursionError).
MAX_DEPTH = 32
FRAME_HEAD = re.compile(r'^\s*\[\s*[234]\s*,\s*"([^"\\]{1,36})"')
# OCPP integers are 32-bit (2.0.1 Part 2 §2.1.4 "integer: 32 bit"; 1.6 follows SOAP's xs:int).
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
# Fields that count or name something (a connector, an EVSE, a reservation, a request, a meter
# register in Wh) are never negative.
NON_NEGATIVE_FIELDS = frozenset(
    {"connectorId", "evseId", "meterStart", "reservationId", "requestId", "transactionId", "seqNo"}
)
# Transaction messages are always answered with a CALLRESULT (1.6 §4.10; docs/architecture.md): their
# out-of-range values are flagged by the services instead of refused here.
RANGE_CHECK_EXEMPT = frozenset({"StopTransaction", "TransactionEvent"})

# Actions a station may send to the CSMS (OCPP 1.6 edition 2 + security whitepaper edition 3).
STATION_ACTIONS: dict[str, frozenset[str]] = {
    "1.6": frozenset(
        {
            "Authorize",
            "BootNotification",
            "DataTransfer",
            "DiagnosticsStatusNotification",
            "FirmwareStatusNotification",
            "Heartbeat",
            "LogStatusNotification",
            "MeterValues",
            "SecurityEventNotification",
            "SignCertificate",
            "SignedFirmwareStatusNotification",
            "StartTransaction",
            "StatusNotification",
            "StopTransaction",
        }
    ),
    "2.0.1": frozenset(
        {
            "Authorize",
            "BootNotification",
            "Heartbeat",
            "MeterValues",
            "StatusNotification",
            "TransactionEvent",
            "ClearedChargingLimit",
            "DataTransfer",
            "FirmwareStatusNotification",
            "LogStatusNotification",
            "NotifyChargingLimit",
            "NotifyCustomerInformation",
            "NotifyDisplayMessages",
            "NotifyEVChargingNeeds",
            "NotifyEVChargingSchedule",
            "NotifyEvent",
            "NotifyMonitoringReport",
            "NotifyReport",
            "PublishFirmwareStatusNotification",
            "ReportChargingProfiles",
            "ReservationStatusUpdate",
            "SecurityEventNotification",
        }
    ),
}
# 2.0.1 A/M certificate management (stations/certificates, docs/security.md).
STATION_ACTIONS["2.0.1"] = STATION_ACTIONS["2.0.1"] | {
    "Get15118EVCertificate",
    "GetCertificateStatus",
    "SignCertificate",
}


def _library_actions(version: str) -> frozenset[str]:
    if version == "1.6":
        from ocpp.v16.enums import Action
    else:
        from ocpp.v201.enums import Action
    return frozenset(a.value for a in Action)


# Every action name the version defines, in either direction: a name outside this set is "not known"
# (NotImplemented); a known name we do not serve is "recognized but not supported" (NotSupported).
KNOWN_ACTIONS: dict[str, frozenset[str]] = {v: _library_actions(v) for v in ("1.6", "2.0.1")}


class ErrorCode:
    """Version-correct CALLERROR code names (OCPP-J 1.6 Table 7, 2.0.1 Part 4 Table 8)."""

    NOT_IMPLEMENTED = "NotImplemented"
    NOT_SUPPORTED = "NotSupported"
    INTERNAL_ERROR = "InternalError"
    PROTOCOL_ERROR = "ProtocolError"
    SECURITY_ERROR = "SecurityError"
    PROPERTY_CONSTRAINT = "PropertyConstraintViolation"
    TYPE_CONSTRAINT = "TypeConstraintViolation"
    GENERIC_ERROR = "GenericError"

    @staticmethod
    def formation(version: str) -> str:
        # 1.6 keeps the typo "FormationViolation" (errata §5.2, "will not be fixed").
        return "FormationViolation" if version == "1.6" else "FormatViolation"

    @staticmethod
    def occurrence(version: str) -> str:
        # 1.6 keeps the typo "Occurence" (errata §5.1); 2.0.1 Part 4 §4.3 spells it correctly (the
        # ocpp 2.1.0 library keeps the typo for 2.0.1 too; stations must accept both on input).
        return "OccurenceConstraintViolation" if version == "1.6" else "OccurrenceConstraintViolation"

    @staticmethod
    def rpc_framework(version: str) -> str:
        # 2.0.1 has RpcFrameworkError for an unreadable frame; 1.6 has no such code.
        return "FormationViolation" if version == "1.6" else "RpcFrameworkError"


@dataclass
class FrameError(Exception):
    """A frame the CSMS must answer with a CALLERROR (or ignore, when `reply` is False)."""

    message_id: str
    code: str
    description: str
    reply: bool = True
    details: dict = field(default_factory=dict)

    def to_frame(self) -> str:
        return call_error(self.message_id, self.code, self.description, self.details)


@dataclass
class Frame:
    """A well-formed OCPP-J frame."""

    message_type: int
    message_id: str
    action: str = ""
    payload: Any = None
    error_code: str = ""
    error_description: str = ""


def call_error(message_id: str, code: str, description: str, details: dict | None = None) -> str:
    """Serialise a CALLERROR; the description is cut to 255 characters (2.0.1 P4 §4.2.3)."""
    return json.dumps([CALLERROR, message_id, code, description[:255], details or {}], separators=(",", ":"))


def call_result(message_id: str, payload: dict) -> str:
    return json.dumps([CALLRESULT, message_id, payload], separators=(",", ":"))


def frame_parse(text: str, *, version: str) -> Frame:
    """Parse an OCPP-J frame; raises FrameError with the version's code for anything malformed.

    A frame with an unknown message type is not answered (1.6 J §4.1.3 "ignore"), but 2.0.1 answers
    MessageTypeNotSupported (Part 4 §4.4).
    """
    try:
        message = json.loads(text)
    except (ValueError, TypeError):
        raise FrameError("-1", ErrorCode.rpc_framework(version), "frame is not valid JSON") from None
    except RecursionError:
        message = None
    if message is None or _depth_exceeds(message, MAX_DEPTH):
        head = FRAME_HEAD.match(text[:100])
        raise FrameError(
            head.group(1) if head else "-1",
            ErrorCode.formation(version) if head else ErrorCode.rpc_framework(version),
            f"frame nests deeper than {MAX_DEPTH} levels",
        )
    if not isinstance(message, list) or not message:
        raise FrameError("-1", ErrorCode.rpc_framework(version), "frame is not a JSON array")
    message_type = message[0]
    raw_id = message[1] if len(message) > 1 else None
    readable_id = raw_id if isinstance(raw_id, str) and 0 < len(raw_id) <= MAX_MESSAGE_ID_LENGTH else None
    if not isinstance(message_type, int) or isinstance(message_type, bool):
        raise FrameError(
            readable_id or "-1", ErrorCode.rpc_framework(version), "MessageTypeId is not an integer"
        )
    if message_type not in (CALL, CALLRESULT, CALLERROR):
        if version == "1.6":
            raise FrameError(readable_id or "-1", "", "unknown message type", reply=False)
        raise FrameError(
            readable_id or "-1", "MessageTypeNotSupported", f"message type {message_type} is not supported"
        )
    if readable_id is None:
        raise FrameError(
            "-1", ErrorCode.rpc_framework(version), "MessageId is missing, not a string or longer than 36"
        )
    if message_type == CALL:
        if len(message) != 4:
            raise FrameError(
                readable_id, ErrorCode.PROTOCOL_ERROR, "a CALL has 4 elements: [2, id, action, payload]"
            )
        action, payload = message[2], message[3]
        if not isinstance(action, str) or not action:
            raise FrameError(readable_id, ErrorCode.formation(version), "action is not a string")
        if not isinstance(payload, dict):
            raise FrameError(readable_id, ErrorCode.formation(version), "payload is not a JSON object")
        return Frame(CALL, readable_id, action=action, payload=payload)
    if message_type == CALLRESULT:
        if len(message) != 3:
            raise FrameError(
                readable_id, ErrorCode.PROTOCOL_ERROR, "a CALLRESULT has 3 elements", reply=False
            )
        return Frame(CALLRESULT, readable_id, payload=message[2])
    if len(message) < 4:
        raise FrameError(readable_id, ErrorCode.PROTOCOL_ERROR, "a CALLERROR has 5 elements", reply=False)
    details = message[4] if len(message) > 4 else {}
    return Frame(
        CALLERROR,
        readable_id,
        payload=details,
        error_code=str(message[2]),
        error_description=str(message[3]),
    )


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether a parsed JSON value nests deeper than `limit` (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in item if isinstance(child, (dict, list)))
    return False


def action_check(action: str, *, version: str) -> None:
    """Raise FrameError for an action the version does not define (NotImplemented: "not known by
    receiver") or that a station may not send us (NotSupported: "recognized but not supported")."""
    if action not in KNOWN_ACTIONS[version]:
        raise FrameError("", ErrorCode.NOT_IMPLEMENTED, f"{action} is not a known action")
    if action not in STATION_ACTIONS[version]:
        raise FrameError("", ErrorCode.NOT_SUPPORTED, f"{action} is not supported by this central system")


@dataclass(frozen=True)
class Violation:
    """One schema violation: the version's error code, a readable cause, and whether it is harmless."""

    code: str
    cause: str
    harmless: bool


# Violations real chargers commit that do not change the meaning of a message (over-long strings, unknown enum values).
# action → schema keywords that are harmless for it.
HARMLESS: dict[str, frozenset[str]] = {
    "BootNotification": frozenset({"maxLength"}),
    "MeterValues": frozenset({"enum"}),
    "StatusNotification": frozenset({"enum", "maxLength"}),
}
# In StatusNotification an unknown *status* would change its meaning; only vendor fields may stretch.
HARMLESS_FIELDS_EXCLUDED: dict[str, frozenset[str]] = {
    "StatusNotification": frozenset({"status", "connectorId"})
}

_KEYWORD_CODES = {
    "type": ErrorCode.TYPE_CONSTRAINT,
    "maxLength": ErrorCode.TYPE_CONSTRAINT,
    "minLength": ErrorCode.TYPE_CONSTRAINT,
    "enum": ErrorCode.PROPERTY_CONSTRAINT,
    "pattern": ErrorCode.PROPERTY_CONSTRAINT,
    "format": ErrorCode.PROPERTY_CONSTRAINT,
    "minimum": ErrorCode.PROPERTY_CONSTRAINT,
    "maximum": ErrorCode.PROPERTY_CONSTRAINT,
    "multipleOf": ErrorCode.PROPERTY_CONSTRAINT,
}


def _code_for(error: SchemaValidationError, version: str) -> str:
    if error.validator in ("required", "minItems", "maxItems"):
        return ErrorCode.occurrence(version)
    if error.validator == "additionalProperties":
        return ErrorCode.formation(version)
    return _KEYWORD_CODES.get(str(error.validator), ErrorCode.formation(version))


def range_violations(action: str, payload: Any, *, version: str) -> list[Violation]:
    """Values the schema lets through but no column or domain can hold: integers beyond 32 bits
    (TypeConstraintViolation), a negative count or id, or a NUL character (PropertyConstraintViolation).
    Empty for StopTransaction and TransactionEvent, which are always served (their services flag bad
    values; nul_free cleans their strings)."""
    if action in RANGE_CHECK_EXEMPT:
        return []
    violations = []
    stack: list[tuple[str, str, Any]] = [("", "", payload)]
    while stack:
        path, key, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((f"{path}.{k}" if path else k, k, v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((f"{path}.{i}", key, v) for i, v in enumerate(value))
        elif isinstance(value, str) and "\x00" in value:
            # No database text column takes NUL (PostgreSQL refuses it); no OCPP field needs it.
            cause = f"{path}: contains a NUL character"
            violations.append(Violation(ErrorCode.PROPERTY_CONSTRAINT, cause, False))
        elif isinstance(value, int) and not isinstance(value, bool):
            if not INT_MIN <= value <= INT_MAX:
                cause = f"{path}: {value} is beyond a 32-bit integer"
                violations.append(Violation(ErrorCode.TYPE_CONSTRAINT, cause, False))
            elif value < 0 and key in NON_NEGATIVE_FIELDS:
                cause = f"{path}: {value} must not be negative"
                violations.append(Violation(ErrorCode.PROPERTY_CONSTRAINT, cause, False))
    return violations


def nul_free(text: str, frame: Frame) -> str:
    """The CALL `text` with NUL characters removed from its strings (re-serialised only when it has
    any). For the transaction messages, which are served rather than refused for them."""
    if "\\u0000" not in text:
        return text

    def strip(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("\x00", "")
        if isinstance(value, dict):
            return {strip(k): strip(v) for k, v in value.items()}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return json.dumps([CALL, frame.message_id, frame.action, strip(frame.payload)], separators=(",", ":"))


@functools.lru_cache(maxsize=512)
def _schema_check(message_type: int, action: str, version: str) -> Any:
    """The same schema compiled by jsonschema-rs: it tells a valid payload (nearly every one) in a
    microsecond where the `jsonschema` validator walks it in Python for 80-300 µs on the event loop.
    Only an invalid payload is walked again by `jsonschema`, whose errors name the OCPP error code.
    Formats are not checked, as `jsonschema` does not check them either."""
    return jsonschema_rs.Draft4Validator(
        get_validator(message_type, action, version).schema, validate_formats=False
    )


def payload_violations(
    action: str, payload: dict, *, version: str, message_type: int = CALL
) -> list[Violation]:
    """Every schema and range violation of `payload` for `action`, most severe first (empty when
    valid)."""
    if _schema_check(message_type, action, version).is_valid(payload):
        return range_violations(action, payload, version=version) if message_type == CALL else []
    validator = get_validator(message_type, action, version)
    errors = sorted(validator.iter_errors(payload), key=lambda e: e.validator != "required")
    violations = []
    for error in errors:
        path = ".".join(str(p) for p in error.absolute_path) or "(payload)"
        leaf = next((p for p in reversed(error.absolute_path) if isinstance(p, str)), "")
        harmless = error.validator in HARMLESS.get(
            action, frozenset()
        ) and leaf not in HARMLESS_FIELDS_EXCLUDED.get(action, frozenset())
        violations.append(Violation(_code_for(error, version), f"{path}: {error.message}", harmless))
    if message_type == CALL:
        violations.extend(range_violations(action, payload, version=version))
    return violations
