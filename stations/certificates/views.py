"""The certificates part of the station page: the operator's install / query / delete forms
(the inventory itself is rendered by the `station_certificates` template tag)."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from chargenet.permissions import operate_required
from stations.certificates import ca, services
from stations.models import Command, Station
from stations.services import StationError


@require_POST
@operate_required
def station_certificate_command(request: HttpRequest, identity: str) -> HttpResponse:
    """Queue InstallCertificate, GetInstalledCertificateIds, DeleteCertificate or a request for a new
    CSR (renewal) from the station page."""
    station = Station.objects.filter(identity=identity).first()
    if station is None:
        raise Http404("no such station")
    data, name = request.POST, request.POST.get("action", "")
    try:
        command: Command
        if name == "install":
            command = services.certificate_install(
                station=station,
                certificate_type=data.get("certificate_type", ""),
                certificate=data.get("certificate", ""),
                requested_by=request.user,
            )
        elif name == "query":
            types = [t for t in data.getlist("certificate_type") if t]
            command = services.certificate_ids_get(
                station=station, certificate_types=types, requested_by=request.user
            )
        elif name == "renew":
            command = services.certificate_renew_request(
                station=station,
                certificate_type=data.get("certificate_type") or "ChargingStationCertificate",
                requested_by=request.user,
            )
        elif name == "delete":
            fields = ("hashAlgorithm", "issuerNameHash", "issuerKeyHash", "serialNumber")
            command = services.certificate_delete(
                station=station, hash_data={f: data.get(f, "") for f in fields}, requested_by=request.user
            )
        else:
            raise StationError(f"unknown certificate action {name!r}")
    except StationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{command.action} queued for {station.identity}.")
    return redirect(reverse("station-detail", args=[station.identity]) + "#certificates-h")


def certificate_revocation_list(request: HttpRequest) -> HttpResponse:
    """The CRL of ChargeNet's CA (DER, public as CRLs are: it names only serial numbers)."""
    try:
        crl = services.crl_get()
    except ca.CaError as exc:
        return HttpResponse(str(exc), status=503, content_type="text/plain")
    response = HttpResponse(crl, content_type="application/pkix-crl")
    response["Content-Disposition"] = 'attachment; filename="chargenet-ca.crl"'
    response["Cache-Control"] = "max-age=300"
    return response
