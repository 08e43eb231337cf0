"""OCPI 2.2.1 routing helpers free of any service: the party an outgoing object is for (OCPI-to-*
headers to a hub) and filters on the party that owns an object's token."""

from typing import Any

from django.db.models import Q


def parties_q(field: str, parties: set[tuple[str, str]]) -> Q:
    """A filter on a JSON field holding an OCPI object with country_code and party_id (a CDR token),
    matching any of `parties` (case-insensitive, as OCPI CiStrings are)."""
    query = Q(pk__in=[])
    for country_code, party_id in parties:
        query |= Q(**{f"{field}__country_code__iexact": country_code, f"{field}__party_id__iexact": party_id})
    return query


def body_party(body: Any) -> tuple[str, str] | None:
    """The party an outgoing object is for: the owner of its token (a Session's or CDR's `cdr_token`),
    so a hub forwards it to that party; None for objects every party may get (locations, tariffs)."""
    if not isinstance(body, dict):
        return None
    token = body.get("cdr_token") if isinstance(body.get("cdr_token"), dict) else body.get("token")
    if not isinstance(token, dict) or not token.get("country_code") or not token.get("party_id"):
        return None
    return str(token["country_code"]).upper(), str(token["party_id"]).upper()
