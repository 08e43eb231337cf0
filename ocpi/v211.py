"""OCPI 2.1.1: the mapping between the 2.2.1 objects the rest of `ocpi` works with and their 2.1.1
shapes, both ways (docs/ocpi.md, "OCPI 2.1.1").

Every module renders and checks OCPI 2.2.1 objects; a 2.1.1 partner gets them through `out_*` and
what it sends goes through `in_*` before the 2.2.1 checks see it. Pure functions, except where an
embedded Location must be read (a 2.1.1 Session or CDR carries its whole Location).
"""

from typing import TYPE_CHECKING, Any

from django.conf import settings

from ocpi.transport import OcpiError, ocpi_datetime_parse

if TYPE_CHECKING:
    from ocpi.models import Partner

VERSION = "2.1.1"

# OCPI 2.1.1 has no 2004 (unknown token): such answers become the generic client error 2000.
STATUS_CODES = {2004: 2000}

# The modules 2.1.1 has (no chargingprofiles, no hubclientinfo).
MODULE_IDS = frozenset({"credentials", "locations", "tariffs", "sessions", "cdrs", "tokens", "commands"})
# The interface a module of a partner in a role is (2.2.1 names), to file its 2.1.1 endpoints.
PARTNER_INTERFACES: dict[str, dict[str, str]] = {
    "CPO": {"locations": "SENDER", "tariffs": "SENDER", "sessions": "SENDER", "cdrs": "SENDER",
            "tokens": "RECEIVER", "commands": "RECEIVER"},
    "EMSP": {"locations": "RECEIVER", "tariffs": "RECEIVER", "sessions": "RECEIVER", "cdrs": "RECEIVER",
             "tokens": "SENDER", "commands": "SENDER"},
}  # fmt: skip
CDR_DIMENSIONS = frozenset({"ENERGY", "FLAT", "MAX_CURRENT", "MIN_CURRENT", "PARKING_TIME", "TIME"})
RESTRICTIONS = ("start_time", "end_time", "start_date", "end_date", "min_kwh", "max_kwh", "min_power",
                "max_power", "min_duration", "max_duration", "day_of_week")  # fmt: skip
# 2.2.1 CommandResult values a 2.1.1 CommandResponse cannot say.
COMMAND_RESULTS = {"EVSE_OCCUPIED": "REJECTED", "EVSE_INOPERATIVE": "REJECTED", "FAILED": "REJECTED",
                   "CANCELED_RESERVATION": "REJECTED", "UNKNOWN_RESERVATION": "REJECTED"}  # fmt: skip


def partner_role(roles: list[dict[str, Any]]) -> str:
    """The role a 2.1.1 partner plays: CPO when it named only that role, else eMSP."""
    names = {str(r.get("role")) for r in roles}
    return "CPO" if names == {"CPO"} else "EMSP"


def our_role(roles: list[dict[str, Any]]) -> str:
    """The role ChargeNet plays towards a 2.1.1 partner (the other one)."""
    return "EMSP" if partner_role(roles) == "CPO" and settings.OCPI_EMSP_ROLE else "CPO"


def endpoints_in(endpoints: list[dict[str, Any]], *, roles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A 2.1.1 partner's endpoints with the 2.2.1 interface (role) each is, from the partner's role."""
    interfaces = PARTNER_INTERFACES[partner_role(roles)]
    return [{**e, "role": interfaces.get(e["identifier"], "SENDER")} for e in endpoints]


# --- credentials ------------------------------------------------------------------------------------


def out_credentials(data: dict[str, Any], *, role: str) -> dict[str, Any]:
    """Our 2.2.1 Credentials (with roles) as the flat 2.1.1 object for the role we play."""
    chosen = next((r for r in data["roles"] if r["role"] == role), data["roles"][0])
    return {
        "token": data["token"],
        "url": data["url"],
        "business_details": chosen["business_details"],
        "party_id": chosen["party_id"],
        "country_code": chosen["country_code"],
    }


def in_credentials(body: Any, *, roles: list[dict[str, Any]]) -> Any:
    """A flat 2.1.1 Credentials object as a 2.2.1 one; the role is the one the partner was added with."""
    if not isinstance(body, dict) or "roles" in body:
        return body
    role = {
        "role": partner_role(roles),
        "country_code": body.get("country_code"),
        "party_id": body.get("party_id"),
        "business_details": body.get("business_details") or {"name": ""},
    }
    return {"token": body.get("token"), "url": body.get("url"), "roles": [role]}


# --- locations ------------------------------------------------------------------------------------


def out_connector(data: dict[str, Any]) -> dict[str, Any]:
    connector = {k: v for k, v in data.items() if k not in ("max_voltage", "max_amperage", "max_electric_power",
                                                             "tariff_ids")}  # fmt: skip
    connector["voltage"] = data.get("max_voltage", 230)
    connector["amperage"] = data.get("max_amperage", 16)
    if data.get("tariff_ids"):
        connector["tariff_id"] = data["tariff_ids"][0]
    return connector


def out_evse(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "connectors": [out_connector(c) for c in data.get("connectors", [])]}


def out_location(data: dict[str, Any]) -> dict[str, Any]:
    location = {
        k: v for k, v in data.items() if k not in ("country_code", "party_id", "publish", "parking_type")
    }
    location["type"] = "UNKNOWN"
    location["evses"] = [out_evse(e) for e in data.get("evses", [])]
    return {k: v for k, v in location.items() if v is not None}


def in_connector(body: Any) -> Any:
    if not isinstance(body, dict):
        return body
    connector = {k: v for k, v in body.items() if k not in ("voltage", "amperage", "tariff_id")}
    if "voltage" in body:
        connector["max_voltage"] = body["voltage"]
    if "amperage" in body:
        connector["max_amperage"] = body["amperage"]
    if body.get("tariff_id"):
        connector["tariff_ids"] = [body["tariff_id"]]
    return connector


def in_evse(body: Any) -> Any:
    if not isinstance(body, dict) or not isinstance(body.get("connectors"), list):
        return body
    return {**body, "connectors": [in_connector(c) for c in body["connectors"]]}


def in_location(body: Any, *, country_code: str, party_id: str) -> Any:
    """A 2.1.1 Location (or a PATCH of one) with the owner fields 2.2.1 checks, taken from the URL."""
    if not isinstance(body, dict):
        return body
    location = {k: v for k, v in body.items() if k != "type"}
    if "id" in body or "address" in body:
        location = {"country_code": country_code, "party_id": party_id, **location}
    if isinstance(body.get("evses"), list):
        location["evses"] = [in_evse(e) for e in body["evses"]]
    return location


# --- tariffs --------------------------------------------------------------------------------------


def out_tariff(data: dict[str, Any]) -> dict[str, Any]:
    elements = []
    for element in data.get("elements", []):
        out: dict[str, Any] = {
            "price_components": [
                {k: c[k] for k in ("type", "price", "step_size") if k in c} for c in element.get("price_components", [])
            ]
        }  # fmt: skip
        restrictions = {k: v for k, v in (element.get("restrictions") or {}).items() if k in RESTRICTIONS}
        if restrictions:
            out["restrictions"] = restrictions
        elements.append(out)
    tariff = {k: data[k] for k in ("id", "currency", "tariff_alt_text", "tariff_alt_url", "energy_mix",
                                   "last_updated") if data.get(k) is not None}  # fmt: skip
    return {**tariff, "elements": elements}


def in_tariff(body: Any, *, country_code: str, party_id: str) -> Any:
    if not isinstance(body, dict):
        return body
    return {"country_code": country_code, "party_id": party_id, **body}


# --- sessions and CDRs ------------------------------------------------------------------------------


def _periods(periods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Charging periods without `tariff_id` and without the dimensions 2.1.1 does not know."""
    return [
        {
            "start_date_time": p["start_date_time"],
            "dimensions": [d for d in p.get("dimensions", []) if d.get("type") in CDR_DIMENSIONS],
        }
        for p in periods
    ]


def _auth_method(method: str) -> str:
    # 2.1.1 knows no COMMAND: a session started by the eMSP's command was authorized by the eMSP.
    return "AUTH_REQUEST" if method == "COMMAND" else method


def _excl_vat(price: Any) -> Any:
    return price.get("excl_vat") if isinstance(price, dict) else price


def session_location(location_id: str, evse_uid: str, connector_id: str) -> dict[str, Any] | None:
    """Our Location as 2.1.1 embeds it in a Session or CDR: only the EVSE and connector used."""
    from ocpi import selectors
    from stations.models import Location

    location = Location.objects.filter(pk=int(location_id)).first() if location_id.isdigit() else None
    if location is None:
        return None
    data = out_location(selectors.location_to_ocpi(location))
    evses = [e for e in data["evses"] if e["uid"] == evse_uid]
    for evse in evses:
        evse["connectors"] = [c for c in evse["connectors"] if c["id"] == connector_id] or evse["connectors"][
            :1
        ]
    return {**data, "evses": evses}


def _auth_id(cdr_token: dict[str, Any]) -> str:
    """2.1.1 names the driver by `auth_id`: the token's contract id."""
    return str(cdr_token.get("contract_id") or cdr_token.get("uid", ""))


def out_session(data: dict[str, Any]) -> dict[str, Any]:
    """A 2.2.1 Session as 2.1.1: `start_datetime`, `auth_id`, the whole Location, cost as a number."""
    session: dict[str, Any] = {
        "id": data["id"],
        "start_datetime": data["start_date_time"],
        "kwh": data["kwh"],
        "auth_id": _auth_id(data["cdr_token"]),
        "auth_method": _auth_method(data["auth_method"]),
        "location": session_location(data["location_id"], data["evse_uid"], data["connector_id"]),
        "currency": data["currency"],
        "charging_periods": _periods(data.get("charging_periods", [])),
        "status": data["status"] if data["status"] != "RESERVATION" else "PENDING",
        "last_updated": data["last_updated"],
    }
    if data.get("end_date_time"):
        session["end_datetime"] = data["end_date_time"]
    if data.get("total_cost") is not None:
        session["total_cost"] = _excl_vat(data["total_cost"])
    return session


def out_session_patch(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _excl_vat(v) if k == "total_cost" else v for k, v in data.items()}


def out_cdr(data: dict[str, Any]) -> dict[str, Any]:
    """A 2.2.1 CDR as 2.1.1: `stop_date_time`, `auth_id`, the whole Location, totals as numbers."""
    where = data["cdr_location"]
    location = session_location(str(where.get("id", "")), str(where.get("evse_uid", "")),
                                str(where.get("connector_id", "")))  # fmt: skip
    cdr: dict[str, Any] = {
        "id": data["id"],
        "start_date_time": data["start_date_time"],
        "stop_date_time": data["end_date_time"],
        "auth_id": _auth_id(data["cdr_token"]),
        "auth_method": _auth_method(data["auth_method"]),
        "location": location,
        "currency": data["currency"],
        "tariffs": [out_tariff(t) for t in data.get("tariffs", [])],
        "charging_periods": _periods(data["charging_periods"]),
        "total_cost": _excl_vat(data["total_cost"]),
        "total_energy": data["total_energy"],
        "total_time": data["total_time"],
        "last_updated": data["last_updated"],
    }
    if data.get("total_parking_time") is not None:
        cdr["total_parking_time"] = data["total_parking_time"]
    return cdr


def _cdr_token(auth_id: Any, *, country_code: str, party_id: str) -> dict[str, Any]:
    """2.1.1 names the driver by `auth_id` (the contract id); our cards are found by it."""
    from ocpi.models import EmspToken

    token = EmspToken.objects.select_related("id_token").filter(contract_id__iexact=str(auth_id)).first()
    uid = token.id_token.uid if token is not None else str(auth_id)
    return {"country_code": settings.OCPI_COUNTRY_CODE, "party_id": settings.OCPI_PARTY_ID, "uid": uid,
            "type": "RFID", "contract_id": str(auth_id)}  # fmt: skip


def _where(location: Any) -> tuple[str, str, str]:
    if not isinstance(location, dict):
        return "", "", ""
    evse = next(iter(location.get("evses") or []), {}) or {}
    connector = next(iter(evse.get("connectors") or []), {}) or {}
    return str(location.get("id", "")), str(evse.get("uid", "")), str(connector.get("id", ""))


def in_session(body: Any, *, country_code: str, party_id: str) -> Any:
    """A 2.1.1 Session (or PATCH) as 2.2.1: dates renamed, `auth_id` → cdr_token, the embedded
    Location → location_id/evse_uid/connector_id, a number cost → Price."""
    if not isinstance(body, dict):
        return body
    session = {k: v for k, v in body.items() if k not in ("start_datetime", "end_datetime", "auth_id", "location",
                                                           "total_cost", "meter_id")}  # fmt: skip
    if "id" in body:
        session |= {"country_code": country_code, "party_id": party_id}
    if "start_datetime" in body:
        session["start_date_time"] = body["start_datetime"]
    if body.get("end_datetime"):
        session["end_date_time"] = body["end_datetime"]
    if "auth_id" in body:
        session["cdr_token"] = _cdr_token(body["auth_id"], country_code=country_code, party_id=party_id)
    if "location" in body:
        session["location_id"], session["evse_uid"], session["connector_id"] = _where(body["location"])
    if body.get("total_cost") is not None:
        session["total_cost"] = {"excl_vat": body["total_cost"]}
    return session


def in_cdr(body: Any, *, partner: "Partner") -> Any:
    """A 2.1.1 CDR as 2.2.1. The owner is the calling partner; 2.1.1 CDRs name no session, so the
    session is the partner's one with the same card and start (for the reconciliation)."""
    if not isinstance(body, dict):
        return body
    country_code, party_id = partner.country_code, partner.party_id
    given = body.get("location")
    location: dict[str, Any] = given if isinstance(given, dict) else {}
    location_id, evse_uid, connector_id = _where(location)
    cdr = {k: v for k, v in body.items() if k not in ("stop_date_time", "auth_id", "location", "total_cost",
                                                       "meter_id")}  # fmt: skip
    cdr |= {
        "country_code": country_code,
        "party_id": party_id,
        "end_date_time": body.get("stop_date_time"),
        "cdr_token": _cdr_token(body.get("auth_id", ""), country_code=country_code, party_id=party_id),
        "cdr_location": {
            "id": location_id,
            "name": location.get("name"),
            "address": location.get("address"),
            "city": location.get("city"),
            "country": location.get("country"),
            "evse_uid": evse_uid,
            "connector_id": connector_id,
        },
        "total_cost": {"excl_vat": body.get("total_cost")},
    }
    session_id = _session_of(partner, cdr)
    if session_id:
        cdr["session_id"] = session_id
    return cdr


def _session_of(partner: "Partner", cdr: dict[str, Any]) -> str:
    from ocpi.models import PartnerSession

    try:
        start = ocpi_datetime_parse(str(cdr.get("start_date_time", "")), field="start_date_time")
    except OcpiError:
        return ""  # the CDR checks say so
    session = (
        PartnerSession.objects.filter(
            partner=partner, id_token__uid__iexact=cdr["cdr_token"]["uid"], start_date_time=start
        )
        .order_by("-id")
        .first()
    )
    return session.object_id if session is not None else ""


# --- tokens and commands ------------------------------------------------------------------------------


def out_token(data: dict[str, Any]) -> dict[str, Any]:
    """A 2.2.1 Token as 2.1.1: `auth_id` for the contract id, no owner fields."""
    token = {k: data[k] for k in ("uid", "visual_number", "issuer", "valid", "whitelist", "language",
                                  "last_updated") if k in data}  # fmt: skip
    return {**token, "type": data["type"] if data["type"] == "RFID" else "OTHER",
            "auth_id": data.get("contract_id", data["uid"])}  # fmt: skip


def in_token(body: Any, *, country_code: str, party_id: str) -> Any:
    """A 2.1.1 Token (or PATCH) as 2.2.1: the owner from the URL, `auth_id` as the contract id."""
    if not isinstance(body, dict):
        return body
    token = {k: v for k, v in body.items() if k != "auth_id"}
    if "uid" in body:
        token = {"country_code": country_code, "party_id": party_id, **token}
    if "auth_id" in body:
        token["contract_id"] = body["auth_id"]
    return token


def out_authorization_info(data: dict[str, Any]) -> dict[str, Any]:
    return {k: data[k] for k in ("allowed", "location", "info") if k in data}


def out_command_response(data: dict[str, Any]) -> dict[str, Any]:
    """2.1.1 CommandResponse: `result` and `message`, no `timeout`; also the async result's shape."""
    response = {"result": COMMAND_RESULTS.get(data["result"], data["result"])}
    if data.get("message"):
        response["message"] = data["message"]
    return response


def in_command(body: Any, *, country_code: str, party_id: str) -> Any:
    """A 2.1.1 command body as 2.2.1 (its Token gets the partner's party)."""
    if isinstance(body, dict) and isinstance(body.get("token"), dict):
        return {**body, "token": in_token(body["token"], country_code=country_code, party_id=party_id)}
    return body


def out_command(body: dict[str, Any]) -> dict[str, Any]:
    """Our START_SESSION/STOP_SESSION body as 2.1.1 (no authorization_reference, a 2.1.1 Token)."""
    command = {k: v for k, v in body.items() if k not in ("authorization_reference", "connector_id")}
    if isinstance(body.get("token"), dict):
        command["token"] = out_token(body["token"])
    return command
