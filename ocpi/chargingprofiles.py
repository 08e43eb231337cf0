"""The OCPI 2.2.1 ChargingProfiles module (CPO role, receiver) and the HubClientInfo module
(receiver): their endpoints, in the OCPI envelope like every other (ocpi.views.ocpi_endpoint)."""

from typing import Any

from django.http import HttpRequest

from ocpi import services, transport
from ocpi.models import ClientInfo, Partner
from ocpi.services.charging_profiles import CLEAR, GET, SET
from ocpi.transport import OcpiError
from ocpi.views import Reply, ocpi_endpoint, request_version


def _not_in_211(request: HttpRequest) -> None:
    # Both modules are new in 2.2; the routes match every version's prefix.
    if request_version(request) != transport.VERSION:
        raise OcpiError("this module is not part of OCPI 2.1.1", http_status=404)


PROFILE_COMMANDS = {"PUT": SET, "GET": GET, "DELETE": CLEAR}


@ocpi_endpoint(methods=("GET", "PUT", "DELETE"))
def charging_profiles(request: HttpRequest, partner: Partner, body: Any, session_id: str) -> Reply:
    """PUT sets the session's profile, GET asks for the active one, DELETE clears the eMSP's."""
    _not_in_211(request)
    payload = body if isinstance(body, dict) else {}
    response = services.charging_profile_request(
        partner=partner,
        parties=services.request_parties(partner=partner, headers=request.headers),
        command=PROFILE_COMMANDS[request.method or "GET"],
        session_id=session_id,
        response_url=payload.get("response_url")
        if request.method == "PUT"
        else request.GET.get("response_url"),
        charging_profile=payload.get("charging_profile"),
        duration=request.GET.get("duration"),
    )
    return Reply(data=response)


@ocpi_endpoint(methods=("GET", "PUT"), functional=False)
def hub_client_info(
    request: HttpRequest, partner: Partner, body: Any, country_code: str, party_id: str
) -> Reply:
    """A hub tells us (PUT) or asks (GET) about one of the parties behind it."""
    _not_in_211(request)
    if request.method == "GET":
        info = ClientInfo.objects.filter(
            partner=partner, country_code=country_code.upper(), party_id=party_id.upper()
        ).first()
        if info is None:
            raise OcpiError(f"no ClientInfo for {country_code}*{party_id}", http_status=404)
        return Reply(data=services.client_info_to_ocpi(info))
    _, created = services.client_info_store(
        partner=partner, country_code=country_code, party_id=party_id, body=body
    )
    return Reply(http_status=201 if created else 200)
