"""The eMSP role's receivers: what CPO partners tell us about their networks (locations with live EVSE
status, tariffs), our drivers' sessions there and their CDRs, priced for the driver. Stored apart from
ChargeNet's own network; every object is checked before anything is stored."""

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from billing.money import money_round, vat_of
from chargenet.events import event_publish
from ocpi import transport, v211
from ocpi.client import PartnerUnreachable, partner_call
from ocpi.models import (
    EmspCommand,
    EmspToken,
    Partner,
    PartnerCdr,
    PartnerLocation,
    PartnerPull,
    PartnerSession,
    PartnerTariff,
)
from ocpi.services.hub import hub_parties
from ocpi.transport import OcpiError

EVSE_STATUSES = {"AVAILABLE", "BLOCKED", "CHARGING", "INOPERATIVE", "OUTOFORDER", "PLANNED", "REMOVED",
                 "RESERVED", "UNKNOWN"}  # fmt: skip
SESSION_STATUSES = {"ACTIVE", "COMPLETED", "INVALID", "PENDING", "RESERVATION"}
AUTH_METHODS = {"AUTH_REQUEST", "COMMAND", "WHITELIST"}
PRICE_TYPES = {"ENERGY", "FLAT", "PARKING_TIME", "TIME"}
CURRENCY = re.compile(r"^[A-Z]{3}$")
PULL_MAX_PAGES = 100


def _bad(message: str) -> OcpiError:
    return OcpiError(message, status_code=transport.INVALID_PARAMETERS)


def _require(obj: Any, names: tuple[str, ...], what: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise _bad(f"the body must be a {what} object")
    missing = [n for n in names if obj.get(n) in (None, "")]
    if missing:
        raise _bad(f"the {what} lacks {', '.join(missing)}")
    return obj


def _string(obj: dict[str, Any], name: str, limit: int) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise _bad(f"{name} must be a string of 1 to {limit} characters")
    return value


def _number(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _bad(f"{name} must be a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise _bad(f"{name} must be a number") from None
    if not number.is_finite() or number < 0:
        raise _bad(f"{name} must be a number of at least 0")
    return number


def _when(obj: dict[str, Any], name: str) -> datetime:
    return transport.ocpi_datetime_parse(str(obj.get(name, "")), field=name)


def _party_check(
    partner: Partner, country_code: str, party_id: str, obj: dict[str, Any] | None = None
) -> None:
    """The party in the URL (and the body) must be one the calling partner speaks for."""
    if (country_code.upper(), party_id.upper()) not in hub_parties(partner):
        raise _bad(f"{country_code}*{party_id} is not one of your parties")
    if obj is not None and (
        str(obj.get("country_code", "")).upper() != country_code.upper()
        or str(obj.get("party_id", "")).upper() != party_id.upper()
    ):
        raise _bad("country_code and party_id in the body differ from the URL")


def _key(partner: Partner, country_code: str, party_id: str, object_id: str) -> dict[str, Any]:
    return {"partner": partner, "country_code": country_code.upper(), "party_id": party_id.upper(),
            "object_id": object_id}  # fmt: skip


# --- locations ------------------------------------------------------------------------------------


def _connector_check(connector: Any) -> None:
    _require(connector, ("id", "standard", "format", "power_type", "last_updated"), "Connector")
    _string(connector, "id", 36)
    _when(connector, "last_updated")


def _evse_check(evse: Any) -> None:
    _require(evse, ("uid", "status", "last_updated"), "EVSE")
    _string(evse, "uid", 36)
    if evse["status"] not in EVSE_STATUSES:
        raise _bad(f"status must be one of {', '.join(sorted(EVSE_STATUSES))}")
    connectors = evse.get("connectors", [])
    if not isinstance(connectors, list):
        raise _bad("connectors must be a list")
    for connector in connectors:
        _connector_check(connector)
    _when(evse, "last_updated")


def _location_check(location: Any, object_id: str) -> None:
    required = ("id", "country_code", "party_id", "address", "city", "country", "coordinates", "time_zone",
                "last_updated")  # fmt: skip
    _require(location, required, "Location")
    if location["id"] != object_id:
        raise _bad("the id in the body differs from the id in the URL")
    coordinates = location["coordinates"]
    try:
        latitude = Decimal(str(coordinates["latitude"]))
        longitude = Decimal(str(coordinates["longitude"]))
    except (TypeError, KeyError, InvalidOperation):
        raise _bad("coordinates must hold latitude and longitude") from None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise _bad("coordinates are out of range")
    if not isinstance(location.get("evses", []), list):
        raise _bad("evses must be a list")
    for evse in location.get("evses", []):
        _evse_check(evse)
    _when(location, "last_updated")


def _location_save(row: PartnerLocation) -> None:
    data = row.data
    coordinates = data.get("coordinates") or {}
    row.name = str(data.get("name") or data.get("address") or "")[:255]
    row.city = str(data.get("city") or "")[:45]
    row.latitude = Decimal(str(coordinates.get("latitude"))).quantize(Decimal("0.000001"))
    row.longitude = Decimal(str(coordinates.get("longitude"))).quantize(Decimal("0.000001"))
    row.publish = data.get("publish") is not False
    stamps = [data.get("last_updated"), *(e.get("last_updated") for e in data.get("evses", []))]
    row.last_updated = max(transport.ocpi_datetime_parse(str(s), field="last_updated") for s in stamps if s)
    row.save()


@transaction.atomic
def partner_location_store(
    *, partner: Partner, country_code: str, party_id: str, location_id: str, evse_uid: str = "",
    connector_id: str = "", body: Any, patch: bool,
) -> tuple[PartnerLocation, bool]:  # fmt: skip
    """A CPO puts or patches a location, one of its EVSEs or connectors (OCPI Locations receiver).
    Returns the location and whether it is new. Raises OcpiError 2001 for a malformed object or ids
    that differ from the URL, 2003/404 for an EVSE or connector of an unknown location."""
    if not isinstance(body, dict):
        raise _bad("the body must be an object")
    if patch and not body.get("last_updated"):
        raise _bad("a PATCH must carry last_updated")
    _party_check(partner, country_code, party_id)
    key = _key(partner, country_code, party_id, location_id)
    row = PartnerLocation.objects.select_for_update().filter(**key).first()
    if row is None and (evse_uid or patch):
        raise OcpiError(
            f"unknown location {location_id}", status_code=transport.UNKNOWN_LOCATION, http_status=404
        )
    if not evse_uid:
        data = {**row.data, **body} if patch and row is not None else dict(body)
        _location_check(data, location_id)
        _party_check(partner, country_code, party_id, data)
    else:
        assert row is not None
        data = dict(row.data)
        evses = list(data.get("evses", []))
        index = next((i for i, e in enumerate(evses) if str(e.get("uid")) == evse_uid), None)
        if connector_id:
            if index is None:
                raise OcpiError(
                    f"unknown EVSE {evse_uid}", status_code=transport.UNKNOWN_LOCATION, http_status=404
                )
            evse = dict(evses[index])
            connectors = list(evse.get("connectors", []))
            position = next((i for i, c in enumerate(connectors) if str(c.get("id")) == connector_id), None)
            if patch and position is None:
                raise OcpiError(f"unknown connector {connector_id}", status_code=transport.UNKNOWN_LOCATION,
                                http_status=404)  # fmt: skip
            connector = {**connectors[position], **body} if patch and position is not None else dict(body)
            if str(connector.get("id")) != connector_id:
                raise _bad("the id in the body differs from the connector id in the URL")
            _connector_check(connector)
            if position is None:
                connectors.append(connector)
            else:
                connectors[position] = connector
            evse["connectors"] = connectors
            evse["last_updated"] = max(str(evse.get("last_updated", "")), str(connector["last_updated"]))
        else:
            if patch and index is None:
                raise OcpiError(
                    f"unknown EVSE {evse_uid}", status_code=transport.UNKNOWN_LOCATION, http_status=404
                )
            evse = {**evses[index], **body} if patch and index is not None else dict(body)
            if str(evse.get("uid")) != evse_uid:
                raise _bad("the uid in the body differs from the EVSE uid in the URL")
        _evse_check(evse)
        if index is None:
            evses.append(evse)
        else:
            evses[index] = evse
        data["evses"] = evses
    created = row is None
    if row is None:
        row = PartnerLocation(**key, last_updated=timezone.now())
    row.data = data
    _location_save(row)
    return row, created


# --- tariffs --------------------------------------------------------------------------------------


def _tariff_check(tariff: Any, tariff_id: str) -> None:
    _require(tariff, ("id", "country_code", "party_id", "currency", "elements", "last_updated"), "Tariff")
    if tariff["id"] != tariff_id:
        raise _bad("the id in the body differs from the id in the URL")
    if not CURRENCY.match(str(tariff["currency"])):
        raise _bad("currency must be an ISO 4217 code")
    if not isinstance(tariff["elements"], list) or not tariff["elements"]:
        raise _bad("elements must be a non-empty list")
    for element in tariff["elements"]:
        components = element.get("price_components") if isinstance(element, dict) else None
        if not isinstance(components, list) or not components:
            raise _bad("each element needs price_components")
        for component in components:
            if not isinstance(component, dict) or component.get("type") not in PRICE_TYPES:
                raise _bad(f"each price component needs a type: {', '.join(sorted(PRICE_TYPES))}")
            _number(component.get("price"), "price")
            if not isinstance(component.get("step_size"), int) or component["step_size"] < 0:
                raise _bad("step_size must be a whole number")
    _when(tariff, "last_updated")


@transaction.atomic
def partner_tariff_store(
    *, partner: Partner, country_code: str, party_id: str, tariff_id: str, body: Any, delete: bool = False
) -> tuple[PartnerTariff | None, bool]:
    """A CPO puts (whole) or deletes one of its tariffs. Raises OcpiError 2001 for a malformed tariff."""
    _party_check(partner, country_code, party_id, None if delete else body)
    key = _key(partner, country_code, party_id, tariff_id)
    if delete:
        deleted, _ = PartnerTariff.objects.filter(**key).delete()
        if not deleted:
            raise OcpiError(f"unknown tariff {tariff_id}", http_status=404)
        return None, False
    _tariff_check(body, tariff_id)
    row, created = PartnerTariff.objects.update_or_create(
        **key,
        defaults={"data": body, "currency": body["currency"], "last_updated": _when(body, "last_updated")},
    )
    return row, created


# --- sessions -------------------------------------------------------------------------------------


def _our_card(cdr_token: Any) -> EmspToken:
    """The roaming-enabled card a CdrToken names; OcpiError 2001 when it is not one of ours."""
    if not isinstance(cdr_token, dict) or not isinstance(cdr_token.get("uid"), str):
        raise _bad("cdr_token must be a CdrToken object with a uid")
    if (str(cdr_token.get("country_code", settings.OCPI_COUNTRY_CODE)).upper(),
            str(cdr_token.get("party_id", settings.OCPI_PARTY_ID)).upper()) != (
            settings.OCPI_COUNTRY_CODE, settings.OCPI_PARTY_ID):  # fmt: skip
        raise _bad("the token is not one of ours")
    token = (
        EmspToken.objects.select_related("id_token").filter(id_token__uid__iexact=cdr_token["uid"]).first()
    )
    if token is None:
        raise _bad(f"the token {cdr_token['uid']} is not one of ours")
    return token


def _session_check(session: Any, session_id: str) -> None:
    required = ("id", "country_code", "party_id", "start_date_time", "kwh", "cdr_token", "auth_method",
                "location_id", "evse_uid", "connector_id", "currency", "status", "last_updated")  # fmt: skip
    _require(session, required, "Session")
    if session["id"] != session_id:
        raise _bad("the id in the body differs from the id in the URL")
    if session["status"] not in SESSION_STATUSES:
        raise _bad(f"status must be one of {', '.join(sorted(SESSION_STATUSES))}")
    if session["auth_method"] not in AUTH_METHODS:
        raise _bad(f"auth_method must be one of {', '.join(sorted(AUTH_METHODS))}")
    if not CURRENCY.match(str(session["currency"])):
        raise _bad("currency must be an ISO 4217 code")
    _number(session["kwh"], "kwh")
    for name in ("start_date_time", "last_updated"):
        _when(session, name)
    if session.get("end_date_time"):
        _when(session, "end_date_time")
    if session.get("total_cost") is not None:
        _number((session["total_cost"] or {}).get("excl_vat") if isinstance(session["total_cost"], dict) else None,
                "total_cost.excl_vat")  # fmt: skip


@transaction.atomic
def partner_session_store(
    *, partner: Partner, country_code: str, party_id: str, session_id: str, body: Any, patch: bool
) -> tuple[PartnerSession, bool]:
    """A CPO puts or patches one of our drivers' sessions on its network. Raises OcpiError 2001 for a
    malformed session, a token not ours or one that differs from the session's, 2001/404 when
    patching an unknown session."""
    if not isinstance(body, dict):
        raise _bad("the body must be a Session object")
    _party_check(partner, country_code, party_id)
    key = _key(partner, country_code, party_id, session_id)
    row = PartnerSession.objects.select_for_update().filter(**key).first()
    if patch:
        if row is None:
            raise OcpiError(f"unknown session {session_id}", status_code=transport.INVALID_PARAMETERS,
                            http_status=404)  # fmt: skip
        if not body.get("last_updated"):
            raise _bad("a PATCH must carry last_updated")
        data = {**row.data, **body}
        if "charging_periods" in body and partner.version != v211.VERSION:
            # OCPI 2.2.1 Sessions: periods in a PATCH are added to those known (2.1.1 replaces them).
            data["charging_periods"] = [*row.data.get("charging_periods", []), *body["charging_periods"]]
    else:
        data = dict(body)
    _session_check(data, session_id)
    _party_check(partner, country_code, party_id, data)
    token = _our_card(data["cdr_token"])
    if row is not None and row.id_token_id not in (None, token.id_token_id):
        raise _bad("the session's token cannot change")
    reference = str(data.get("authorization_reference") or "")[:36]
    command = (
        EmspCommand.objects.filter(
            partner=partner, command="START_SESSION", body__authorization_reference=reference
        )
        .exclude(driver=None)
        .first()
        if reference
        else None
    )
    total = data.get("total_cost")
    fields = {
        "data": data,
        "id_token": token.id_token,
        "driver": command.driver if command else token.id_token.driver,
        "status": data["status"],
        "location_id": str(data["location_id"])[:36],
        "evse_uid": str(data["evse_uid"])[:36],
        "kwh": _number(data["kwh"], "kwh"),
        "currency": data["currency"],
        "total_cost_excl_vat": _number(total["excl_vat"], "excl_vat") if isinstance(total, dict) else None,
        "authorization_reference": reference,
        "start_date_time": _when(data, "start_date_time"),
        "end_date_time": _when(data, "end_date_time") if data.get("end_date_time") else None,
        "last_updated": _when(data, "last_updated"),
    }
    created = row is None
    if row is None:
        row = PartnerSession.objects.create(**key, **fields)
    else:
        for name, value in fields.items():
            setattr(row, name, value)
        row.save()
    event_publish("roaming_session.updated", {"partner_session_id": row.pk, "status": row.status})
    return row, created


# --- CDRs -----------------------------------------------------------------------------------------


def roaming_price(*, partner_excl_vat: Decimal, currency: str) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """What the driver pays for a partner's CDR: the partner's price excl. VAT plus the operator's
    markup percentage and fixed roaming fee, rounded once, then VAT. Returns net, VAT %, VAT, gross."""
    markup = partner_excl_vat * settings.OCPI_ROAMING_MARKUP_PERCENT / 100
    net = money_round(partner_excl_vat + markup + settings.OCPI_ROAMING_FEE, currency)
    rate = settings.OCPI_ROAMING_VAT_PERCENT
    vat = money_round(vat_of(net, rate), currency)
    return net, rate, vat, net + vat


def _cdr_check(cdr: Any) -> None:
    required = ("id", "country_code", "party_id", "start_date_time", "end_date_time", "cdr_token", "auth_method",
                "cdr_location", "currency", "charging_periods", "total_cost", "total_energy", "total_time",
                "last_updated")  # fmt: skip
    _require(cdr, required, "CDR")
    _string(cdr, "id", 39)
    if cdr["auth_method"] not in AUTH_METHODS:
        raise _bad(f"auth_method must be one of {', '.join(sorted(AUTH_METHODS))}")
    if not CURRENCY.match(str(cdr["currency"])):
        raise _bad("currency must be an ISO 4217 code")
    if not isinstance(cdr["cdr_location"], dict) or not cdr["cdr_location"].get("id"):
        raise _bad("cdr_location must be a CdrLocation with an id")
    if not isinstance(cdr["charging_periods"], list) or not cdr["charging_periods"]:
        raise _bad("charging_periods must be a non-empty list")
    if not isinstance(cdr["total_cost"], dict):
        raise _bad("total_cost must be a Price object")
    _number(cdr["total_cost"].get("excl_vat"), "total_cost.excl_vat")
    if cdr["total_cost"].get("incl_vat") is not None:
        _number(cdr["total_cost"]["incl_vat"], "total_cost.incl_vat")
    _number(cdr["total_energy"], "total_energy")
    _number(cdr["total_time"], "total_time")
    if _when(cdr, "end_date_time") < _when(cdr, "start_date_time"):
        raise _bad("end_date_time is before start_date_time")
    _when(cdr, "last_updated")
    if cdr.get("session_id") is not None:
        _string(cdr, "session_id", 36)


@transaction.atomic
def partner_cdr_store(*, partner: Partner, body: Any) -> tuple[PartnerCdr, bool]:
    """A CPO posts the CDR of one of our drivers' sessions. Stored once (a replay returns the stored
    CDR), priced for the driver (roaming_price), invoiced with the driver's next invoice. Raises
    OcpiError 2001 for a malformed CDR, a token not ours, a party not the caller's, or a session that
    another party or another card reported."""
    _cdr_check(body)
    country_code, party_id = str(body["country_code"]).upper(), str(body["party_id"]).upper()
    _party_check(partner, country_code, party_id)
    key = _key(partner, country_code, party_id, body["id"])
    existing = PartnerCdr.objects.filter(**key).first()
    if existing is not None:
        return existing, False
    token = _our_card(body["cdr_token"])
    session_id = str(body.get("session_id") or "")
    duplicate_of = None
    if session_id:
        sessions = PartnerSession.objects.filter(object_id=session_id)
        if sessions.exclude(partner=partner, country_code=country_code, party_id=party_id).exists():
            raise _bad(f"the session {session_id} belongs to another party")
        if sessions.exclude(id_token=token.id_token).exists():
            raise _bad(f"the session {session_id} was charged with another card")
        duplicate_of = PartnerCdr.objects.filter(
            partner=partner, country_code=country_code, party_id=party_id, session_id=session_id,
            duplicate_of=None,
        ).first()  # fmt: skip
    session = (
        PartnerSession.objects.filter(partner=partner, country_code=country_code, party_id=party_id,
                                      object_id=session_id).first() if session_id else None
    )  # fmt: skip
    currency = str(body["currency"])
    partner_excl = _number(body["total_cost"]["excl_vat"], "excl_vat")
    net, rate, vat, gross = roaming_price(partner_excl_vat=partner_excl, currency=currency)
    incl = body["total_cost"].get("incl_vat")
    try:
        with transaction.atomic():
            row = PartnerCdr.objects.create(
                **key,
                data=body,
                last_updated=_when(body, "last_updated"),
                id_token=token.id_token,
                driver=session.driver if session and session.driver_id else token.id_token.driver,
                session_id=session_id[:36],
                location_name=str(
                    body["cdr_location"].get("name") or body["cdr_location"].get("address") or ""
                )[:255],
                start_date_time=_when(body, "start_date_time"),
                end_date_time=_when(body, "end_date_time"),
                kwh=_number(body["total_energy"], "total_energy"),
                currency=currency,
                partner_excl_vat=partner_excl,
                partner_incl_vat=_number(incl, "incl_vat") if incl is not None else None,
                driver_excl_vat=net,
                driver_vat_percent=rate,
                driver_vat=vat,
                driver_incl_vat=gross,
                duplicate_of=duplicate_of,
            )
    except IntegrityError:
        # The same CDR posted twice at once: the other request stored it.
        return PartnerCdr.objects.get(**key), False
    event_publish("roaming_cdr.created", {"partner_cdr_id": row.pk, "driver_id": row.driver_id})
    return row, True


# --- billing: partner CDRs on the driver's invoice -------------------------------------------------


def _billable(start: datetime, end: datetime) -> "QuerySet[PartnerCdr]":
    return PartnerCdr.objects.filter(
        driver__isnull=False, invoice_line__isnull=True, duplicate_of__isnull=True,
        end_date_time__gte=start, end_date_time__lt=end,
    )  # fmt: skip


def roaming_invoice_drivers(*, start: datetime, end: datetime) -> set[int]:
    """Drivers with uninvoiced partner CDRs that ended in the period (billing's invoice run)."""
    return set(_billable(start, end).values_list("driver_id", flat=True))


def roaming_invoice_lines(*, driver_id: int, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The driver's uninvoiced partner CDRs as invoice lines, at the price fixed when they arrived."""
    lines = []
    zone = ZoneInfo(settings.OPERATOR_TIME_ZONE)
    for cdr in (
        _billable(start, end)
        .filter(driver_id=driver_id)
        .select_related("partner")
        .order_by("end_date_time", "id")
    ):
        local = timezone.localtime(cdr.start_date_time, zone)

        def attach(line: Any, pk: int = cdr.pk) -> None:
            PartnerCdr.objects.filter(pk=pk).update(invoice_line=line)

        lines.append(
            {
                "description": f"Roaming: charging {local:%Y-%m-%d %H:%M %Z} at {cdr.location_name or cdr.partner.name}"
                f" ({cdr.partner.name}), {cdr.kwh:.3f} kWh ({cdr.object_id})"[:300],
                "currency": cdr.currency,
                "vat_percent": cdr.driver_vat_percent,
                "amount_excl_vat": cdr.driver_excl_vat,
                "amount_vat": cdr.driver_vat,
                "amount_incl_vat": cdr.driver_incl_vat,
                "attach": attach,
            }
        )
    return lines


# --- incremental pulls ------------------------------------------------------------------------------


def _next_link(headers: dict[str, str]) -> str:
    match = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', headers.get("link", ""))
    return match.group(1) if match else ""


def partner_pull(*, partner_id: int, module: str) -> int:
    """Pull a CPO partner's locations or tariffs changed since the last pull (date_from), following
    every Link rel="next"; each object is checked and stored as if pushed, a bad one skipped. Returns
    how many were stored. Never raises for a failing partner (the error is kept on the pull)."""
    partner = Partner.objects.get(pk=partner_id)
    base = partner.endpoint(module, "SENDER")
    if partner.status != Partner.Status.REGISTERED or not base:
        return 0
    pull, _ = PartnerPull.objects.get_or_create(partner=partner, module=module)
    started = timezone.now()
    url = base + (f"?date_from={transport.ocpi_datetime(pull.pulled_until)}" if pull.pulled_until else "")
    stored, error = 0, ""
    try:
        for _ in range(PULL_MAX_PAGES):
            answer = partner_call(partner, method="GET", url=url, module=module)
            if not answer.ok or not isinstance(answer.data, list):
                raise PartnerUnreachable(f"HTTP {answer.http_status}, OCPI {answer.status_code}")
            for item in answer.data:
                stored += _pulled_store(partner, module, item)
            url = _next_link(answer.headers)
            if not url:
                break
    except PartnerUnreachable as exc:
        error = str(exc)[:500]
    PartnerPull.objects.filter(pk=pull.pk).update(
        last_run_at=started, last_error=error, **({} if error else {"pulled_until": started})
    )
    return stored


def _pulled_store(partner: Partner, module: str, item: Any) -> int:
    if not isinstance(item, dict):
        return 0
    try:
        country_code, party_id = str(item.get("country_code", "")), str(item.get("party_id", ""))
        if partner.version == v211.VERSION:  # 2.1.1 objects name no owner: the partner owns them
            country_code, party_id = partner.country_code, partner.party_id
            convert = v211.in_location if module == "locations" else v211.in_tariff
            item = convert(item, country_code=country_code, party_id=party_id)
        object_id = str(item.get("id", ""))
        if module == "locations":
            partner_location_store(partner=partner, country_code=country_code, party_id=party_id,
                                   location_id=object_id, body=item, patch=False)  # fmt: skip
        else:
            partner_tariff_store(partner=partner, country_code=country_code, party_id=party_id,
                                 tariff_id=object_id, body=item)  # fmt: skip
    except OcpiError:
        return 0
    return 1


def partner_pulls_due() -> list[tuple[int, str]]:
    """(partner, module) pairs to pull: every registered partner's locations and tariffs senders."""
    return [
        (partner.pk, module)
        for partner in Partner.objects.filter(status=Partner.Status.REGISTERED).order_by("id")
        for module in ("locations", "tariffs")
        if partner.endpoint(module, "SENDER")
    ]
