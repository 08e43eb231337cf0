"""The OCPI endpoints ChargeNet serves as a CPO and as an eMSP, in 2.2.1 and 2.1.1 (docs/ocpi.md).

Handlers work with 2.2.1 objects; under /ocpi/2.1.1/ what goes out and comes in passes through the
mapping of `ocpi.v211`.

Every answer is the OCPI envelope, errors included; every request and answer goes to the request
log. Routes match with and without a trailing slash and never redirect.
"""

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from billing.models import Cdr
from ocpi import selectors, services, transport, v211
from ocpi.models import Partner
from ocpi.transport import OcpiError

FUNCTIONAL = "functional"


@dataclass
class Reply:
    """What a handler answers: envelope data and status, the HTTP status, extra headers."""

    data: Any = None
    status_code: int = transport.SUCCESS
    http_status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    message: str = ""


Handler = Callable[..., Reply]


def base_url(request: HttpRequest) -> str:
    """Our external base URL: OCPI_BASE_URL, else what the request was addressed to."""
    return settings.OCPI_BASE_URL or request.build_absolute_uri("/").rstrip("/")


def versions_url(request: HttpRequest) -> str:
    return f"{base_url(request)}/ocpi/versions"


def request_version(request: HttpRequest) -> str:
    """The OCPI version a request was addressed to (its URL), 2.2.1 when the route names none."""
    match = request.resolver_match
    return str((match.kwargs.get("version") if match else None) or transport.VERSION)


def _module_url(request: HttpRequest, module: str = "", *, version: str = "") -> str:
    version = version or request_version(request)
    return f"{base_url(request)}/ocpi/{version}" + (f"/{module}" if module else "")


def _v211(request: HttpRequest) -> bool:
    return request_version(request) == v211.VERSION


def ocpi_endpoint(*, methods: tuple[str, ...], token_a: bool = False, functional: bool = True):
    """Wrap a handler `(request, partner, body, **url_kwargs) -> Reply` into an OCPI view: token
    check (401), method check (405), JSON body (400), envelope, tracing and routing headers, log."""

    def decorate(handler: Handler):
        @csrf_exempt
        def view(request: HttpRequest, **kwargs: Any) -> JsonResponse:
            kwargs.pop("version", None)  # read through request_version()
            old = _v211(request)
            request_id = request.headers.get("X-Request-ID") or str(uuid.uuid4())
            correlation_id = request.headers.get("X-Correlation-ID") or str(uuid.uuid4())
            partner: Partner | None = None
            try:
                auth = services.partner_authenticate(header=request.headers.get("Authorization", ""))
                if auth is None:
                    raise OcpiError("missing or unknown credentials token", http_status=401)
                partner, used_token_a = auth
                if used_token_a and not token_a:
                    raise OcpiError(
                        "token A only opens versions and credentials; register first", http_status=401
                    )
                if request.method not in methods:
                    raise OcpiError(f"{request.method} is not supported here", http_status=405)
                body = None
                if request.method in ("POST", "PUT", "PATCH") and request.body:
                    try:
                        body = json.loads(request.body)
                    except ValueError:
                        raise OcpiError(
                            "the body is not valid JSON",
                            status_code=transport.INVALID_PARAMETERS,
                            http_status=400,
                        ) from None
                if old and request.method == "PATCH" and isinstance(body, dict):
                    # A 2.1.1 PATCH need not carry last_updated (2.2.1 requires it): now, then.
                    body.setdefault("last_updated", transport.ocpi_datetime(timezone.now()))
                reply = handler(request, partner, body, **kwargs)
            except OcpiError as exc:
                reply = Reply(
                    data=exc.data,
                    status_code=exc.status_code,
                    http_status=exc.http_status,
                    message=exc.message,
                )
            status_code = (
                v211.STATUS_CODES.get(reply.status_code, reply.status_code) if old else reply.status_code
            )
            payload = transport.envelope(data=reply.data, status_code=status_code, message=reply.message)
            response = JsonResponse(
                payload, status=reply.http_status, json_dumps_params={"separators": (",", ":")}
            )
            response["X-Request-ID"] = request_id
            response["X-Correlation-ID"] = correlation_id
            if functional and partner is not None and not old:  # 2.1.1 has no routing headers
                response["OCPI-from-country-code"] = settings.OCPI_COUNTRY_CODE
                response["OCPI-from-party-id"] = settings.OCPI_PARTY_ID
                response["OCPI-to-country-code"] = partner.country_code
                response["OCPI-to-party-id"] = partner.party_id
            for name, value in reply.headers.items():
                response[name] = value
            services.request_log_record(
                partner=partner,
                method=request.method or "",
                url=request.get_full_path(),
                http_status=reply.http_status,
                ocpi_status=status_code,
                request_id=request_id,
                correlation_id=correlation_id,
                request_body=request.body.decode(errors="replace") if request.body else "",
                response_body=response.content.decode(),
            )
            return response

        return view

    return decorate


# --- versions and credentials --------------------------------------------------------------------

# (module, role, path): the CPO role's modules, then the eMSP role's under emsp/ (docs/ocpi.md).
MODULES = (
    ("credentials", "SENDER", "credentials"),
    ("locations", "SENDER", "locations"),
    ("tariffs", "SENDER", "tariffs"),
    ("sessions", "SENDER", "sessions"),
    ("cdrs", "SENDER", "cdrs"),
    ("tokens", "RECEIVER", "tokens"),
    ("commands", "RECEIVER", "commands"),
    ("chargingprofiles", "RECEIVER", "chargingprofiles"),
    ("hubclientinfo", "RECEIVER", "hubclientinfo"),
    ("locations", "RECEIVER", "emsp/locations"),
    ("tariffs", "RECEIVER", "emsp/tariffs"),
    ("sessions", "RECEIVER", "emsp/sessions"),
    ("cdrs", "RECEIVER", "emsp/cdrs"),
    ("tokens", "SENDER", "emsp/tokens"),
    ("commands", "SENDER", "emsp/commands"),
)


@ocpi_endpoint(methods=("GET",), token_a=True, functional=False)
def version_list(request: HttpRequest, partner: Partner, body: Any) -> Reply:
    return Reply(data=[{"version": v, "url": _module_url(request, version=v)} for v in transport.VERSIONS])


@ocpi_endpoint(methods=("GET",), token_a=True, functional=False)
def version_details(request: HttpRequest, partner: Partner, body: Any) -> Reply:
    if _v211(request):
        # No roles in 2.1.1: the partner sees the modules of the role we play towards it (the
        # eMSP role's are those under emsp/).
        emsp = v211.our_role(partner.roles) == "EMSP"
        endpoints = [
            {"identifier": module, "url": _module_url(request, url)}
            for module, _, url in MODULES
            if module in v211.MODULE_IDS and (module == "credentials" or url.startswith("emsp/") == emsp)
        ]
        return Reply(data={"version": v211.VERSION, "endpoints": endpoints})
    endpoints = [
        {"identifier": module, "role": role, "url": _module_url(request, url)}
        for module, role, url in MODULES
        if settings.OCPI_EMSP_ROLE or not url.startswith("emsp/")
    ]
    return Reply(data={"version": request_version(request), "endpoints": endpoints})


@ocpi_endpoint(methods=("GET", "POST", "PUT", "DELETE"), token_a=True, functional=False)
def credentials(request: HttpRequest, partner: Partner, body: Any) -> Reply:
    if request.method == "GET":
        if partner.status != Partner.Status.REGISTERED:
            raise OcpiError("not registered", http_status=405)
        # We keep only a hash of the partner's token: answer with the token it called us with.
        presented = next(
            t
            for t in transport.token_candidates(request.headers.get("Authorization", ""))
            if transport.token_hash(t) == partner.token_c_hash
        )
        data = services.our_credentials(token=presented, versions_url=versions_url(request))
        return Reply(data=_credentials_out(request, partner, data))
    if request.method == "DELETE":
        services.partner_unregister(partner=partner)
        return Reply()
    if _v211(request):
        body = v211.in_credentials(body, roles=partner.roles)
    data = services.partner_credentials_store(
        partner=partner, body=body, versions_url=versions_url(request), update=request.method == "PUT",
        version=request_version(request),
    )  # fmt: skip
    return Reply(data=_credentials_out(request, partner, data))


def _credentials_out(request: HttpRequest, partner: Partner, data: dict[str, Any]) -> dict[str, Any]:
    return v211.out_credentials(data, role=v211.our_role(partner.roles)) if _v211(request) else data


# --- sender modules -------------------------------------------------------------------------------


def _paginated(
    request: HttpRequest, queryset: QuerySet, *, date_field: str, to_ocpi: Callable[[Any], dict]
) -> Reply:
    query = {k: str(v) for k, v in request.GET.items()}
    maximum = settings.OCPI_PAGE_LIMIT
    offset, limit, date_from, date_to = transport.page_params(query, maximum=maximum)
    if date_from is not None:
        queryset = queryset.filter(**{f"{date_field}__gte": date_from})
    if date_to is not None:
        queryset = queryset.filter(**{f"{date_field}__lt": date_to})
    total = queryset.count()
    items = [to_ocpi(item) for item in queryset[offset : offset + limit]] if limit else []
    url = request.build_absolute_uri(request.path)
    if settings.OCPI_BASE_URL:
        url = settings.OCPI_BASE_URL + request.path
    headers = transport.page_headers(
        url=url, query=query, offset=offset, limit=limit, total=total, maximum=maximum
    )
    return Reply(data=items, headers=headers)


@ocpi_endpoint(methods=("GET",))
def locations(
    request: HttpRequest,
    partner: Partner,
    body: Any,
    location_id: str = "",
    evse_uid: str = "",
    connector_id: str = "",
) -> Reply:
    if not location_id:
        return _paginated(
            request,
            selectors.location_list(),
            date_field="ocpi_last_updated",
            to_ocpi=_shaped(request, selectors.location_to_ocpi, v211.out_location),
        )
    location = selectors.location_get(location_id=location_id)
    if location is None:
        raise OcpiError(
            f"unknown location {location_id}", status_code=transport.UNKNOWN_LOCATION, http_status=404
        )
    if not evse_uid:
        return Reply(data=_shaped(request, selectors.location_to_ocpi, v211.out_location)(location))
    found = selectors.evse_get(location=location, uid=evse_uid)
    if found is None:
        raise OcpiError(f"unknown EVSE {evse_uid}", status_code=transport.UNKNOWN_LOCATION, http_status=404)
    evse, station = found
    if not connector_id:
        return Reply(data=_shaped(request, selectors.evse_to_ocpi, v211.out_evse)(evse, station))
    connector = next((c for c in evse.connectors.all() if str(c.connector_id) == connector_id), None)
    if connector is None:
        raise OcpiError(
            f"unknown connector {connector_id}", status_code=transport.UNKNOWN_LOCATION, http_status=404
        )
    return Reply(data=_shaped(request, selectors.connector_to_ocpi, v211.out_connector)(connector, station))


@ocpi_endpoint(methods=("GET",))
def tariffs(request: HttpRequest, partner: Partner, body: Any) -> Reply:
    return _paginated(
        request,
        selectors.tariff_list(),
        date_field="updated_at",
        to_ocpi=_shaped(request, selectors.tariff_to_ocpi, v211.out_tariff),
    )


@ocpi_endpoint(methods=("GET",))
def sessions(request: HttpRequest, partner: Partner, body: Any) -> Reply:
    # The spec marks date_from required; we serve the whole list without it (docs/ocpi.md).
    return _paginated(
        request,
        selectors.session_list(partner=partner).filter(
            services.parties_q(
                "roaming__cdr_token", services.request_parties(partner=partner, headers=request.headers)
            )
        ),
        date_field="updated_at",
        to_ocpi=_shaped(request, selectors.session_to_ocpi, v211.out_session),
    )


@ocpi_endpoint(methods=("GET",))
def cdrs(request: HttpRequest, partner: Partner, body: Any) -> Reply:
    parties = services.request_parties(partner=partner, headers=request.headers)
    cdrs = selectors.cdr_list(partner=partner).filter(
        services.parties_q("session__roaming__cdr_token", parties)
    )
    if _v211(request):
        cdrs = cdrs.exclude(kind=Cdr.Kind.CREDIT)  # 2.1.1 has no credit CDRs
    return _paginated(
        request, cdrs, date_field="created_at", to_ocpi=_shaped(request, selectors.cdr_to_ocpi, v211.out_cdr)
    )


def _shaped(
    request: HttpRequest, render: Callable[..., dict], old: Callable[[dict], dict]
) -> Callable[..., dict]:
    """`render` (a 2.2.1 object), mapped by `old` for a 2.1.1 request."""
    if not _v211(request):
        return render
    return lambda *args: old(render(*args))


# --- receiver modules -----------------------------------------------------------------------------


def _acting_for(
    request: HttpRequest, partner: Partner, country_code: str, party_id: str, *, receiver: bool = False
) -> None:
    """A party in the URL must be one the request acts for (a hub: the one its OCPI-from-* headers
    name). Our own objects of another party are a 404 (the spec allows it); a partner's object
    pushed under another party is a 2001 (`receiver`)."""
    if (country_code.upper(), party_id.upper()) not in services.request_parties(
        partner=partner, headers=request.headers
    ):
        message = f"{country_code}*{party_id} is not one of your parties"
        if receiver:
            raise OcpiError(message, status_code=transport.INVALID_PARAMETERS)
        raise OcpiError(message, http_status=404)


@ocpi_endpoint(methods=("GET", "PUT", "PATCH"))
def tokens(
    request: HttpRequest, partner: Partner, body: Any, country_code: str, party_id: str, uid: str
) -> Reply:
    token_type = request.GET.get("type", "RFID")
    _acting_for(request, partner, country_code, party_id)
    if _v211(request):
        # 2.1.1 cannot name the type in the URL: a PUT says it, otherwise the stored token does.
        body = v211.in_token(body, country_code=country_code, party_id=party_id)
        given = body.get("type") if isinstance(body, dict) and request.method == "PUT" else None
        token_type = (
            given if isinstance(given, str) else services.roaming_token_type(partner=partner, uid=uid)
        )
    if request.method == "GET":
        token = services.roaming_token_find(partner=partner, uid=uid, token_type=token_type)
        if token is None:
            raise OcpiError(f"unknown token {uid}", status_code=transport.UNKNOWN_TOKEN, http_status=404)
        return Reply(data=v211.out_token(token.data) if _v211(request) else token.data)
    token, created = services.roaming_token_store(
        partner=partner,
        country_code=country_code,
        party_id=party_id,
        uid=uid,
        token_type=token_type,
        body=body,
        patch=request.method == "PATCH",
    )
    return Reply(http_status=201 if created else 200)


@ocpi_endpoint(methods=("POST",))
def commands(request: HttpRequest, partner: Partner, body: Any, command: str) -> Reply:
    parties = services.request_parties(partner=partner, headers=request.headers)
    if not _v211(request):
        return Reply(
            data=services.remote_command_receive(partner=partner, command=command, body=body, parties=parties)
        )
    if command == "CANCEL_RESERVATION":  # not a 2.1.1 command
        return Reply(data={"result": "NOT_SUPPORTED"})
    body = v211.in_command(body, country_code=partner.country_code, party_id=partner.party_id)
    try:
        response = services.remote_command_receive(
            partner=partner, command=command, body=body, parties=parties
        )
    except OcpiError as exc:
        exc.data = v211.out_command_response(exc.data) if isinstance(exc.data, dict) else exc.data
        raise
    return Reply(data=v211.out_command_response(response))


# --- the eMSP role (our drivers on partner networks) ----------------------------------------------


@ocpi_endpoint(methods=("GET",))
def emsp_tokens(request: HttpRequest, partner: Partner, body: Any) -> Reply:
    return _paginated(
        request,
        selectors.emsp_token_list(),
        date_field="last_updated",
        to_ocpi=_shaped(request, services.emsp_token_to_ocpi, v211.out_token),
    )


@ocpi_endpoint(methods=("POST",))
def emsp_token_authorize(request: HttpRequest, partner: Partner, body: Any, uid: str) -> Reply:
    info = services.emsp_token_authorize(
        partner=partner, uid=uid, token_type=request.GET.get("type", "RFID"), body=body
    )
    return Reply(data=v211.out_authorization_info(info) if _v211(request) else info)


@ocpi_endpoint(methods=("GET", "PUT", "PATCH"))
def emsp_locations(
    request: HttpRequest, partner: Partner, body: Any, country_code: str, party_id: str, location_id: str,
    evse_uid: str = "", connector_id: str = "",
) -> Reply:  # fmt: skip
    _acting_for(request, partner, country_code, party_id, receiver=True)
    if _v211(request):
        if connector_id:
            body = v211.in_connector(body)
        elif evse_uid:
            body = v211.in_evse(body)
        else:
            body = v211.in_location(body, country_code=country_code, party_id=party_id)
    if request.method == "GET":
        return Reply(data=selectors.partner_object_get(
            partner=partner, kind="location", country_code=country_code, party_id=party_id,
            object_id=location_id, evse_uid=evse_uid, connector_id=connector_id,
        ))  # fmt: skip
    _, created = services.partner_location_store(
        partner=partner, country_code=country_code, party_id=party_id, location_id=location_id,
        evse_uid=evse_uid, connector_id=connector_id, body=body, patch=request.method == "PATCH",
    )  # fmt: skip
    return Reply(http_status=201 if created else 200)


@ocpi_endpoint(methods=("GET", "PUT", "DELETE"))
def emsp_tariffs(
    request: HttpRequest, partner: Partner, body: Any, country_code: str, party_id: str, tariff_id: str
) -> Reply:
    _acting_for(request, partner, country_code, party_id, receiver=True)
    if request.method == "GET":
        return Reply(data=selectors.partner_object_get(
            partner=partner, kind="tariff", country_code=country_code, party_id=party_id, object_id=tariff_id
        ))  # fmt: skip
    if _v211(request):
        body = v211.in_tariff(body, country_code=country_code, party_id=party_id)
    _, created = services.partner_tariff_store(
        partner=partner, country_code=country_code, party_id=party_id, tariff_id=tariff_id, body=body,
        delete=request.method == "DELETE",
    )  # fmt: skip
    return Reply(http_status=201 if created else 200)


@ocpi_endpoint(methods=("GET", "PUT", "PATCH"))
def emsp_sessions(
    request: HttpRequest, partner: Partner, body: Any, country_code: str, party_id: str, session_id: str
) -> Reply:
    _acting_for(request, partner, country_code, party_id, receiver=True)
    if request.method == "GET":
        return Reply(data=selectors.partner_object_get(
            partner=partner, kind="session", country_code=country_code, party_id=party_id, object_id=session_id
        ))  # fmt: skip
    if _v211(request):
        body = v211.in_session(body, country_code=country_code, party_id=party_id)
    _, created = services.partner_session_store(
        partner=partner, country_code=country_code, party_id=party_id, session_id=session_id, body=body,
        patch=request.method == "PATCH",
    )  # fmt: skip
    return Reply(http_status=201 if created else 200)


@ocpi_endpoint(methods=("POST",))
def emsp_cdrs(request: HttpRequest, partner: Partner, body: Any) -> Reply:
    if _v211(request):
        body = v211.in_cdr(body, partner=partner)
    cdr, created = services.partner_cdr_store(partner=partner, body=body)
    location = f"{_module_url(request, 'emsp/cdrs')}/{cdr.pk}"
    return Reply(http_status=201 if created else 200, headers={"Location": location})


@ocpi_endpoint(methods=("GET",))
def emsp_cdr(request: HttpRequest, partner: Partner, body: Any, pk: str) -> Reply:
    return Reply(data=selectors.partner_object_get(partner=partner, kind="cdr", object_id=pk))


@ocpi_endpoint(methods=("POST",))
def emsp_command_result(request: HttpRequest, partner: Partner, body: Any, command: str, uuid: str) -> Reply:
    # A 2.1.1 CPO posts a CommandResponse; its results are a subset of 2.2.1's CommandResult.
    services.emsp_command_result(partner=partner, command=command, command_uuid=uuid, body=body)
    return Reply()
