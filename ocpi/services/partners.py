"""Partners and credentials: adding a partner, the token A/B/C handshake both ways, unregistering,
the request log."""

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chargenet.errors import DomainError
from ocpi import transport, v211
from ocpi.client import Answer, PartnerUnreachable, ocpi_call
from ocpi.models import Partner, Push, RequestLog
from ocpi.services.push import partner_initial_push
from ocpi.transport import OcpiError

ROLES = ("CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP")


class PartnerError(DomainError):
    """A partner change was refused; the message says why."""

    api_status = 400
    api_code = "validation_error"


def _roles_clean(roles: Any, *, country_code: str, party_id: str) -> list[dict[str, Any]]:
    """CredentialsRole objects from role names or objects; each (role, country, party) once."""
    if not isinstance(roles, list) or not roles:
        raise PartnerError('roles must be a non-empty list, e.g. ["EMSP"]')
    cleaned: list[dict[str, Any]] = []
    for item in roles:
        if isinstance(item, str):
            item = {"role": item}
        if not isinstance(item, dict) or item.get("role") not in ROLES:
            raise PartnerError(f"each role must be one of {', '.join(ROLES)}")
        role = {
            "role": item["role"],
            "country_code": str(item.get("country_code") or country_code).upper(),
            "party_id": str(item.get("party_id") or party_id).upper(),
            "business_details": item.get("business_details") or {"name": ""},
        }
        if not transport.CI_STRING_2.match(role["country_code"]) or not transport.PARTY_ID.match(
            role["party_id"]
        ):
            raise PartnerError("each role needs a 2-letter country_code and a 3-character party_id")
        key = (role["role"], role["country_code"], role["party_id"])
        if key in {(r["role"], r["country_code"], r["party_id"]) for r in cleaned}:
            raise PartnerError(f"the role {'/'.join(key)} is listed twice")
        cleaned.append(role)
    return cleaned


@transaction.atomic
def partner_create(*, name: str, country_code: str, party_id: str, roles: Any) -> tuple[Partner, str]:
    """Add a roaming partner and issue its credentials token A (returned once, stored only hashed).

    Raises PartnerError for a malformed country code, party id or roles, or a party already known.
    """
    name, country_code, party_id = name.strip(), country_code.strip().upper(), party_id.strip().upper()
    if not name:
        raise PartnerError("name is required")
    if not transport.CI_STRING_2.match(country_code):
        raise PartnerError("country_code must be an ISO 3166-1 alpha-2 code, e.g. DE")
    if not transport.PARTY_ID.match(party_id):
        raise PartnerError("party_id must be 3 letters or digits, e.g. ABC")
    cleaned = _roles_clean(roles, country_code=country_code, party_id=party_id)
    if Partner.objects.filter(country_code=country_code, party_id=party_id).exists():
        raise PartnerError(f"a partner {country_code}*{party_id} already exists")
    token_a = transport.token_new()
    partner = Partner.objects.create(
        name=name[:200],
        country_code=country_code,
        party_id=party_id,
        roles=cleaned,
        token_a_hash=transport.token_hash(token_a),
    )
    return partner, token_a


def partner_authenticate(*, header: str) -> tuple[Partner, bool] | None:
    """The partner an `Authorization` header belongs to and whether it used token A; None if nobody.

    Accepts the token base64-encoded (2.2.1) and raw (2.1.1, and 2.2 peers that do not encode).
    """
    for candidate in transport.token_candidates(header):
        digest = transport.token_hash(candidate)
        partner = Partner.objects.filter(token_c_hash=digest, status=Partner.Status.REGISTERED).first()
        if partner is not None:
            return partner, False
        partner = (
            Partner.objects.filter(token_a_hash=digest).exclude(status=Partner.Status.REGISTERED).first()
        )
        if partner is not None:
            return partner, True
    return None


def our_credentials(*, token: str, versions_url: str) -> dict[str, Any]:
    """Our Credentials object: the token a partner calls us with, our versions URL, our CPO and eMSP roles."""
    return {
        "token": token,
        "url": versions_url,
        # One platform, both roles (docs/ocpi.md): partners' drivers roam here, ours roam there.
        "roles": [
            {
                "role": role,
                "country_code": settings.OCPI_COUNTRY_CODE,
                "party_id": settings.OCPI_PARTY_ID,
                "business_details": {"name": settings.OCPI_BUSINESS_NAME},
            }
            for role in (("CPO", "EMSP") if settings.OCPI_EMSP_ROLE else ("CPO",))
        ],
    }


@dataclass(frozen=True)
class PartnerPlatform:
    """What a partner's versions URL told us: the version we share, its endpoints, and whether it
    wants its token as is (it refused the base64 form)."""

    version: str
    endpoints: list[dict[str, Any]]
    raw_token: bool = False


def _versions_fetch(
    *, partner: Partner, versions_url: str, token: str, encode: bool, version: str = ""
) -> PartnerPlatform:
    """GET the partner's versions and the details of the highest version we share (or of `version`,
    the one the partner chose by registering through it). Raises OcpiError 3001 (unusable API),
    3002 (no common version) or 3003 (no credentials endpoint)."""

    def fetch(url: str, what: str) -> Answer:
        nonlocal encode
        answer = ocpi_call(
            partner=partner, method="GET", url=url, token=token, module="versions", encode_token=encode
        )
        if answer.http_status in (401, 403) and encode:
            # A 2.1.1 platform (and many 2.2 ones) wants the token as is: try once more that way.
            encode = False
            answer = ocpi_call(
                partner=partner, method="GET", url=url, token=token, module="versions", encode_token=False
            )
        if not answer.ok:
            raise PartnerUnreachable(f"{what} answered HTTP {answer.http_status}, OCPI {answer.status_code}")
        return answer

    try:
        answer = fetch(versions_url, "versions")
        versions = answer.data if isinstance(answer.data, list) else []
        offered = {str(v.get("version")): str(v.get("url")) for v in versions if isinstance(v, dict)}
        chosen = next((v for v in ((version,) if version else transport.VERSIONS) if v in offered), "")
        if not chosen:
            raise OcpiError(
                f"no common OCPI version (we speak {version or ', '.join(transport.VERSIONS)}; "
                f"the partner offers {', '.join(offered) or 'none'})",
                status_code=transport.UNSUPPORTED_VERSION,
            )
        answer = fetch(offered[chosen], "version details")
    except PartnerUnreachable as exc:
        raise OcpiError(
            f"could not use the partner's API: {exc}", status_code=transport.CLIENT_API_UNUSABLE
        ) from None
    details = answer.data[0] if isinstance(answer.data, list) and answer.data else answer.data
    raw_endpoints = details.get("endpoints") if isinstance(details, dict) else None
    endpoints = [
        {"identifier": str(e["identifier"]), "role": str(e.get("role", "")), "url": str(e["url"])}
        for e in raw_endpoints or []
        if isinstance(e, dict) and e.get("identifier") and e.get("url")
    ]
    if not any(e["identifier"] == "credentials" for e in endpoints):
        raise OcpiError(
            "the partner lists no credentials endpoint", status_code=transport.NO_MATCHING_ENDPOINTS
        )
    if chosen == v211.VERSION:
        endpoints = v211.endpoints_in(endpoints, roles=partner.roles)
    return PartnerPlatform(version=chosen, endpoints=endpoints, raw_token=not encode)


def _credentials_parse(body: Any) -> tuple[str, str, Any]:
    if not isinstance(body, dict):
        raise OcpiError("the body must be a Credentials object", status_code=transport.INVALID_PARAMETERS)
    token, url, roles = body.get("token"), body.get("url"), body.get("roles")
    if not isinstance(token, str) or not transport.TOKEN_PATTERN.match(token):
        raise OcpiError(
            "token must be 1 to 64 printable characters", status_code=transport.INVALID_PARAMETERS
        )
    if not isinstance(url, str) or not re.match(r"^https?://", url):
        raise OcpiError("url must be the partner's versions URL", status_code=transport.INVALID_PARAMETERS)
    return token, url, roles


def partner_credentials_store(
    *, partner: Partner, body: Any, versions_url: str, update: bool, version: str = transport.VERSION
) -> dict[str, Any]:
    """A partner registers (POST, with token A) or updates its registration (PUT, with its token)
    through our credentials endpoint of `version`, which is the version it chose.

    Before answering we fetch the partner's versions and endpoints with the token it gave us; only
    then is anything stored, a new token issued to it and token A (or its old token) retired.
    Returns our Credentials object. Raises OcpiError (405 for the wrong state, 2001 for a bad body,
    3001/3002/3003 when the partner's platform cannot be used).
    """
    registered = partner.status == Partner.Status.REGISTERED
    if update and not registered:
        raise OcpiError("not registered: register with POST first", http_status=405)
    if not update and registered:
        raise OcpiError("already registered: use PUT to update or DELETE to unregister", http_status=405)
    token_b, url, roles = _credentials_parse(body)
    try:
        cleaned_roles = _roles_clean(roles, country_code=partner.country_code, party_id=partner.party_id)
    except PartnerError as exc:
        raise OcpiError(str(exc), status_code=transport.INVALID_PARAMETERS) from None
    platform = _versions_fetch(
        partner=partner, versions_url=url, token=token_b, version=version,
        encode=partner.send_base64 and version != v211.VERSION,
    )  # fmt: skip
    token_c = transport.token_new()
    _partner_registered(
        partner, token_b=token_b, versions_url=url, platform=platform, roles=cleaned_roles, token_c=token_c
    )
    return our_credentials(token=token_c, versions_url=versions_url)


@transaction.atomic
def partner_unregister(*, partner: Partner) -> Partner:
    """End the roaming connection: the partner's token stops working and no more pushes go out.
    Raises OcpiError 405 when the partner is not registered."""
    partner = Partner.objects.select_for_update().get(pk=partner.pk)
    if partner.status != Partner.Status.REGISTERED:
        raise OcpiError("not registered", http_status=405)
    partner.status = Partner.Status.UNREGISTERED
    partner.token_c_hash = ""
    partner.token_b = ""
    partner.save()
    Push.objects.filter(partner=partner, status=Push.Status.PENDING).update(
        status=Push.Status.FAILED, last_error="partner unregistered"
    )
    return partner


def partner_register_with(
    *, partner: Partner, versions_url: str, token_a: str, our_versions_url: str, version: str = ""
) -> Partner:
    """ChargeNet registers with a partner: given its versions URL and the token A it issued us, fetch
    its endpoints in the highest version both speak (or in `version`, when the operator pins one),
    POST our credentials (with a fresh token for it to call us with) and keep the token it answers
    with for all later calls. Raises PartnerError saying what went wrong; nothing is stored then."""
    if not transport.TOKEN_PATTERN.match(token_a or ""):
        raise PartnerError("token A must be 1 to 64 printable characters")
    if version and version not in transport.VERSIONS:
        raise PartnerError(f"version must be one of {', '.join(transport.VERSIONS)}")
    if partner.status == Partner.Status.REGISTERED:
        raise PartnerError("the partner is registered already")
    try:
        platform = _versions_fetch(
            partner=partner,
            versions_url=versions_url,
            token=token_a,
            encode=partner.send_base64,
            version=version,
        )
    except OcpiError as exc:
        raise PartnerError(exc.message) from None
    credentials_url = next(e["url"] for e in platform.endpoints if e["identifier"] == "credentials")
    token_c = transport.token_new()
    # The partner fetches our versions with the token we are about to give it before it answers
    # the POST: until the handshake completes the token opens what token A opens.
    previous_token_a = partner.token_a_hash
    Partner.objects.filter(pk=partner.pk).update(token_a_hash=transport.token_hash(token_c))
    try:
        return _partner_register_post(
            partner, credentials_url=credentials_url, platform=platform, token_a=token_a, token_c=token_c,
            versions_url=versions_url, our_versions_url=our_versions_url,
        )  # fmt: skip
    except PartnerError:
        Partner.objects.filter(pk=partner.pk).update(token_a_hash=previous_token_a)
        raise


def _partner_register_post(
    partner: Partner,
    *,
    credentials_url: str,
    platform: PartnerPlatform,
    token_a: str,
    token_c: str,
    versions_url: str,
    our_versions_url: str,
) -> Partner:
    ours = our_credentials(token=token_c, versions_url=our_versions_url)
    old = platform.version == v211.VERSION
    try:
        answer = ocpi_call(
            partner=partner,
            method="POST",
            url=credentials_url,
            token=token_a,
            module="credentials",
            encode_token=partner.send_base64 and not old and not platform.raw_token,
            body=v211.out_credentials(ours, role=v211.our_role(partner.roles)) if old else ours,
        )
    except PartnerUnreachable as exc:
        raise PartnerError(f"the partner's credentials endpoint failed: {exc}") from None
    data = answer.data[0] if isinstance(answer.data, list) and answer.data else answer.data
    if old:
        data = v211.in_credentials(data, roles=partner.roles)
    if not answer.ok or not isinstance(data, dict):
        raise PartnerError(
            f"the partner refused our credentials (HTTP {answer.http_status}, OCPI {answer.status_code})"
        )
    try:
        token_b, their_url, roles = _credentials_parse(data)
        cleaned_roles = _roles_clean(roles, country_code=partner.country_code, party_id=partner.party_id)
    except (OcpiError, PartnerError) as exc:
        raise PartnerError(f"the partner's credentials are malformed: {exc}") from None
    return _partner_registered(
        partner,
        token_b=token_b,
        versions_url=their_url or versions_url,
        platform=platform,
        roles=cleaned_roles,
        token_c=token_c,
    )


@transaction.atomic
def _partner_registered(
    partner: Partner,
    *,
    token_b: str,
    versions_url: str,
    platform: PartnerPlatform,
    roles: list[dict[str, Any]],
    token_c: str,
) -> Partner:
    """Store a completed handshake: the partner's token and endpoints, the hash of the token it calls
    us with; token A is retired."""
    partner = Partner.objects.select_for_update().get(pk=partner.pk)
    partner.token_b = token_b
    partner.versions_url = versions_url
    partner.version = platform.version
    partner.endpoints = platform.endpoints
    if platform.raw_token and platform.version != v211.VERSION:
        partner.send_base64 = False  # a 2.2 peer that refused base64: raw from now on
    partner.roles = roles
    partner.token_c_hash = transport.token_hash(token_c)
    partner.token_a_hash = ""
    partner.status = Partner.Status.REGISTERED
    partner.save()
    transaction.on_commit(lambda: partner_initial_push(partner_id=partner.pk))
    return partner


def partner_parties(partner: Partner) -> set[tuple[str, str]]:
    """The (country_code, party_id) pairs a partner speaks for (upper case)."""
    parties = {(partner.country_code.upper(), partner.party_id.upper())}
    for role in partner.roles:
        parties.add((str(role.get("country_code", "")).upper(), str(role.get("party_id", "")).upper()))
    return parties


def request_log_record(
    *,
    partner: Partner | None,
    method: str,
    url: str,
    http_status: int,
    ocpi_status: int | None,
    request_id: str,
    correlation_id: str,
    request_body: str,
    response_body: str,
) -> None:
    """Record an incoming OCPI request and our answer (the Authorization header is never kept)."""
    RequestLog.objects.create(
        partner=partner,
        direction=RequestLog.Direction.IN,
        method=method[:7],
        url=url[:500],
        http_status=http_status,
        ocpi_status=ocpi_status,
        request_id=request_id[:64],
        correlation_id=correlation_id[:64],
        request_body=request_body[:20000],
        response_body=response_body[:20000],
        error="" if ocpi_status == transport.SUCCESS else response_body[:500],
    )


def ocpi_log_prune() -> int:
    """Delete request-log rows and finished pushes older than OCPI_LOG_RETENTION_DAYS; returns how
    many rows went. Pending pushes are kept whatever their age."""
    cutoff = timezone.now() - timedelta(days=settings.OCPI_LOG_RETENTION_DAYS)
    logs, _ = RequestLog.objects.filter(created_at__lt=cutoff).delete()
    pushes, _ = Push.objects.filter(created_at__lt=cutoff).exclude(status=Push.Status.PENDING).delete()
    return logs + pushes
