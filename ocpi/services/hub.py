"""Partners that are hubs: the parties behind them (HubClientInfo) and which party a request we
receive acts for (OCPI-from-* headers; ocpi.services.routing has the outgoing side)."""

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from ocpi import transport
from ocpi.models import ClientInfo, Partner
from ocpi.services.partners import partner_parties
from ocpi.transport import OcpiError

CLIENT_INFO_ROLES = ("CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP")


def hub_parties(partner: Partner) -> set[tuple[str, str]]:
    """Every party a partner speaks for: its credentials roles and, for a hub, the parties it told us
    about with HubClientInfo."""
    behind = ClientInfo.objects.filter(partner=partner).values_list("country_code", "party_id")
    return partner_parties(partner) | {(c.upper(), p.upper()) for c, p in behind}


def request_parties(*, partner: Partner, headers: Mapping[str, str]) -> set[tuple[str, str]]:
    """The (country_code, party_id) pairs a request acts for: the party its OCPI-from-* headers name
    (a hub forwarding for one of its parties), else every party of the partner (a direct peer, or a
    peer that sends no routing headers). Raises OcpiError 2001 when the headers name a party the
    partner does not speak for, or only half of one."""
    country_code = headers.get("OCPI-from-country-code", "").strip().upper()
    party_id = headers.get("OCPI-from-party-id", "").strip().upper()
    parties = hub_parties(partner)
    if not country_code and not party_id:
        return parties
    if not country_code or not party_id:
        raise OcpiError(
            "OCPI-from-country-code and OCPI-from-party-id go together",
            status_code=transport.INVALID_PARAMETERS,
        )
    if (country_code, party_id) not in parties:
        raise OcpiError(
            f"{country_code}*{party_id} is not one of the parties you speak for",
            status_code=transport.INVALID_PARAMETERS,
        )
    return {(country_code, party_id)}


def _client_info_check(body: Any, *, country_code: str, party_id: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise OcpiError("the body must be a ClientInfo object", status_code=transport.INVALID_PARAMETERS)
    for name, expected in (("country_code", country_code), ("party_id", party_id)):
        if str(body.get(name, "")).upper() != expected:
            raise OcpiError(
                f"{name} must be {expected}, as in the URL", status_code=transport.INVALID_PARAMETERS
            )
    if body.get("role") not in CLIENT_INFO_ROLES:
        raise OcpiError(
            f"role must be one of {', '.join(CLIENT_INFO_ROLES)}", status_code=transport.INVALID_PARAMETERS
        )
    if body.get("status") not in ClientInfo.Status.values:
        raise OcpiError(
            f"status must be one of {', '.join(ClientInfo.Status.values)}",
            status_code=transport.INVALID_PARAMETERS,
        )
    if not body.get("last_updated"):
        raise OcpiError("last_updated is required", status_code=transport.INVALID_PARAMETERS)
    return body


@transaction.atomic
def client_info_store(
    *, partner: Partner, country_code: str, party_id: str, body: Any
) -> tuple[ClientInfo, bool]:
    """Store what a hub says about one of the parties behind it (PUT /hubclientinfo/{cc}/{pid}); an
    older `last_updated` than the one stored changes nothing. Returns (row, created). Raises
    OcpiError 2001 for a malformed ClientInfo or one whose party differs from the URL."""
    country_code, party_id = country_code.upper(), party_id.upper()
    if not transport.CI_STRING_2.match(country_code) or not transport.PARTY_ID.match(party_id):
        raise OcpiError(
            "the URL needs a 2-letter country code and a 3-character party id",
            status_code=transport.INVALID_PARAMETERS,
        )
    body = _client_info_check(body, country_code=country_code, party_id=party_id)
    last_updated = transport.ocpi_datetime_parse(str(body["last_updated"]), field="last_updated")
    existing = (
        ClientInfo.objects.select_for_update()
        .filter(partner=partner, country_code=country_code, party_id=party_id)
        .first()
    )
    if existing is not None and existing.last_updated > last_updated:
        return existing, False
    info, created = ClientInfo.objects.update_or_create(
        partner=partner,
        country_code=country_code,
        party_id=party_id,
        defaults={"role": body["role"], "status": body["status"], "last_updated": last_updated},
    )
    return info, created


def client_info_to_ocpi(info: ClientInfo) -> dict[str, Any]:
    """A stored ClientInfo as the OCPI object."""
    return {
        "party_id": info.party_id,
        "country_code": info.country_code,
        "role": info.role,
        "status": info.status,
        "last_updated": transport.ocpi_datetime(info.last_updated),
    }
