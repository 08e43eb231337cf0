"""Fleet pages of the operator dashboard, and the two endpoints stations use: firmware downloads
(signed per-station links, HTTP range requests) and diagnostics/log uploads (one-time tokens)."""

import re
import tempfile
from datetime import datetime, time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.files import File
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from chargenet.permissions import operate_required, staff_required
from fleet import selectors, services
from fleet.models import Campaign, DiagnosticsRequest, FirmwareImage, FirmwarePublication
from stations.models import Location, Station, Tag

CHUNK = 64 * 1024
RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _text(message: str, status: int) -> HttpResponse:
    return HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8")


# ---- what stations call --------------------------------------------------------------------


def _file_chunks(handle: Any, length: int):
    try:
        while length > 0:
            chunk = handle.read(min(CHUNK, length))
            if not chunk:
                break
            length -= len(chunk)
            yield chunk
    finally:
        handle.close()


@require_http_methods(["GET", "HEAD"])
def firmware_download(request: HttpRequest, token: str, name: str) -> HttpResponseBase:
    """Serve a firmware image to the station its link was made for; `Range: bytes=…` resumes."""
    try:
        image, _station = services.firmware_download_resolve(token=token)
    except services.UploadRefused as exc:
        return _text(str(exc), 403)
    size = image.size
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": f'"{image.sha256}"',
        "X-Firmware-Version": image.version,
        "Content-Disposition": f'attachment; filename="{image.file_name}"',
    }
    match = RANGE_RE.match(request.headers.get("Range", "").strip())
    if_range = request.headers.get("If-Range")
    if match and (not if_range or if_range == headers["ETag"]) and any(match.groups()):
        first, last = match.groups()
        if first == "":  # the last N bytes
            start, end = max(0, size - int(last)), size - 1
        else:
            start, end = int(first), min(int(last), size - 1) if last else size - 1
        if start >= size or start > end:
            return HttpResponse(status=416, headers={"Content-Range": f"bytes */{size}", **headers})
        handle = image.file.storage.open(image.file.name, "rb")
        handle.seek(start)
        response: HttpResponseBase = StreamingHttpResponse(
            _file_chunks(handle, end - start + 1),
            status=206,
            content_type="application/octet-stream",
            headers={
                "Content-Range": f"bytes {start}-{end}/{size}",
                "Content-Length": str(end - start + 1),
                **headers,
            },
        )
        return response
    response = FileResponse(
        image.file.storage.open(image.file.name, "rb"), content_type="application/octet-stream"
    )
    for key, value in headers.items():
        response[key] = value
    response["Content-Length"] = str(size)
    return response


def _spool_body(request: HttpRequest, limit: int) -> tuple[File, int]:
    """Copy a raw request body to a temporary file, refusing it past `limit` bytes."""
    spool = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)
    size = 0
    while True:
        chunk = request.read(CHUNK)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            spool.close()
            raise services.UploadTooLarge(f"uploads are limited to {limit} bytes")
        spool.write(chunk)
    spool.seek(0)
    return File(spool), size


@csrf_exempt
@require_http_methods(["POST", "PUT"])
def diagnostics_upload(request: HttpRequest, request_uuid: Any, secret: str, name: str = "") -> HttpResponse:
    """Receive a station's diagnostics or log file: PUT or POST of the raw file, or a multipart POST
    (the first file field), at the one-time URL ChargeNet gave it."""
    limit = settings.FLEET_UPLOAD_MAX_BYTES
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    try:
        if declared > limit + 64 * 1024:  # multipart framing adds a little
            raise services.UploadTooLarge(f"uploads are limited to {limit} bytes")
        services.diagnostics_upload_check(request_uuid=request_uuid, secret=secret)
        if request.method == "POST" and request.content_type == "multipart/form-data":
            upload = next((f for f in request.FILES.values() if isinstance(f, File)), None)
            if upload is None:
                return _text("the multipart upload holds no file", 400)
            file: File = upload
            size, file_name = upload.size or 0, upload.name or name
        else:
            file, size = _spool_body(request, limit)
            file_name = name
        services.diagnostics_upload_receive(
            request_uuid=request_uuid, secret=secret, file=file, file_name=file_name, size=size
        )
    except services.FleetError as exc:
        return _text(str(exc), exc.api_status)
    return _text("received", 201)


# ---- operator pages ------------------------------------------------------------------------


@staff_required
def fleet_home(request: HttpRequest) -> HttpResponse:
    """Firmware campaigns and images."""
    return render(
        request,
        "fleet/fleet_home.html",
        {"campaigns": selectors.campaign_list()[:100], "images": selectors.image_list()[:100]},
    )


@operate_required
def image_create(request: HttpRequest) -> HttpResponse:
    """Upload a firmware image (vendor, model, version, optional checksum and signature)."""
    errors: list[str] = []
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            errors.append("Choose the firmware file.")
        else:
            try:
                image = services.firmware_image_create(
                    vendor=request.POST.get("vendor", ""),
                    model=request.POST.get("model", ""),
                    version=request.POST.get("version", ""),
                    file=upload,
                    file_name=upload.name or "",
                    sha256=request.POST.get("sha256", ""),
                    signing_certificate=request.POST.get("signing_certificate", ""),
                    signature=request.POST.get("signature", ""),
                    notes=request.POST.get("notes", ""),
                    uploaded_by=request.user,
                )
            except services.FleetError as exc:
                errors.append(str(exc))
            else:
                messages.success(request, f"Stored {image} (SHA-256 {image.sha256}).")
                return redirect("fleet:home")
    return render(request, "fleet/image_form.html", {"errors": errors, "initial": request.POST})


def _time(value: str) -> time | None:
    try:
        return time.fromisoformat(value) if value else None
    except ValueError:
        raise services.FleetError(f"{value!r} is not a time (HH:MM)") from None


def _words(value: str) -> list[str]:
    return [word for word in re.split(r"[\s,]+", value) if word]


def _form_target(data: Any) -> services.CampaignTarget:
    location = data.get("location", "")
    return services.CampaignTarget(
        identities=_words(data.get("stations", "")),
        location_id=int(location) if location.isdigit() else None,
        vendor=data.get("vendor", ""),
        model=data.get("model", ""),
        firmware_version=data.get("firmware_version", ""),
        tags=_words(data.get("tags", "")),
        tags_match=data.get("tags_match") or "any",
    )


def _form_campaign_create(data: Any, kind: str, user: Any) -> Campaign:
    common = {
        "name": data.get("name", ""),
        "target": _form_target(data),
        "waves": _words(data.get("waves", "")) or None,
        "max_failure_rate": int(data.get("max_failure_rate") or 10),
        "window_start": _time(data.get("window_start", "")),
        "window_end": _time(data.get("window_end", "")),
        "max_retries": int(data.get("max_retries") or 0),
        "created_by": user,
    }
    if kind == Campaign.Kind.DIAGNOSTICS:
        return services.diagnostics_campaign_create(
            since=_local_datetime(data.get("since", "")),
            until=_local_datetime(data.get("until", "")),
            transport=data.get("transport", "http"),
            log_type=data.get("log_type") or "DiagnosticsLog",
            **common,
        )
    image = (
        FirmwareImage.objects.filter(pk=data.get("image") or 0).first()
        if data.get("image", "").isdigit()
        else None
    )
    if image is None:
        raise services.FleetError("choose a firmware image")
    return services.campaign_create(
        image=image, allow_while_charging=bool(data.get("allow_while_charging")), **common
    )


@operate_required
def campaign_create(request: HttpRequest) -> HttpResponse:
    """Start a campaign (firmware, or with ?kind=diagnostics a diagnostics collection): target, waves,
    failure rate, window, retries, and the image or the logs' time window and transport."""
    kind = request.GET.get("kind") or Campaign.Kind.FIRMWARE
    if kind not in Campaign.Kind.values:
        raise Http404("no such kind of campaign")
    errors: list[str] = []
    if request.method == "POST":
        try:
            campaign = _form_campaign_create(request.POST, kind, request.user)
        except ValueError:
            errors.append("The failure rate and the retries are whole numbers.")
        except services.FleetError as exc:
            errors.append(str(exc))
        else:
            return redirect("fleet:campaign-detail", pk=campaign.pk)
    return render(
        request,
        "fleet/campaign_form.html",
        {
            "kind": kind,
            "errors": errors,
            "initial": request.POST,
            "images": FirmwareImage.objects.all(),
            "locations": Location.objects.order_by("name").only("id", "name"),
            "tags": Tag.objects.order_by("name"),
            "ftp_enabled": settings.FLEET_FTP_ENABLED,
        },
    )


@staff_required
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A campaign's waves, each station's step, counts and the timeline; live."""
    campaign = get_object_or_404(Campaign.objects.select_related("image"), pk=pk)
    context = {
        "campaign": campaign,
        "waves": selectors.campaign_waves(campaign=campaign),
        "counts": selectors.campaign_counts(campaign=campaign),
        "timeline": selectors.campaign_timeline(campaign=campaign),
    }
    if request.GET.get("fragment") == "body":
        return render(request, "fleet/_campaign_body.html", context)
    return render(request, "fleet/campaign_detail.html", context)


@require_POST
@operate_required
def campaign_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    function = services.CAMPAIGN_ACTIONS.get(action)
    if function is None:
        raise Http404("no such action")
    try:
        function(campaign=campaign)
    except services.FleetError as exc:
        messages.error(request, str(exc))
    return redirect("fleet:campaign-detail", pk=pk)


def _station(identity: str) -> Station:
    station = Station.objects.filter(identity=identity).first()
    if station is None:
        raise Http404("no such station")
    return station


@staff_required
def station_fleet(request: HttpRequest, identity: str) -> HttpResponse:
    """The station page's fleet part (loaded into it): firmware history, diagnostics, collect button."""
    return _station_fleet_render(request, _station(identity))


def _station_fleet_render(
    request: HttpRequest, station: Station, *, error: str = "", publish_error: str = ""
) -> HttpResponse:
    return render(
        request,
        "fleet/_station_fleet.html",
        {
            "station": station,
            "history": selectors.station_firmware_history(station=station),
            "diagnostics": selectors.station_diagnostics(station=station),
            # PublishFirmware (L03) is OCPP 2.0.1 only: a Local Controller publishes for its stations.
            "publishes": station.ocpp_version == "2.0.1",
            "publications": selectors.station_firmware_publications(station=station)[:20],
            "images": selectors.image_list(),
            "ftp_enabled": settings.FLEET_FTP_ENABLED,
            "error": error,
            "publish_error": publish_error,
        },
    )


def _local_datetime(value: str) -> datetime | None:
    if not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        raise services.FleetError(f"{value!r} is not a date and time")
    return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed


@require_POST
@operate_required
def diagnostics_collect(request: HttpRequest, identity: str) -> HttpResponse:
    """The "Collect diagnostics" button: one request with a time window; its status updates live."""
    station = _station(identity)
    error = ""
    try:
        services.diagnostics_collect(
            station=station,
            since=_local_datetime(request.POST.get("since", "")),
            until=_local_datetime(request.POST.get("until", "")),
            transport=request.POST.get("transport", "http"),
            kind=request.POST.get("kind", ""),
            log_type=request.POST.get("log_type", "DiagnosticsLog") or "DiagnosticsLog",
            requested_by=request.user,
        )
    except services.FleetError as exc:
        error = str(exc)
    return _station_fleet_answer(request, station, error)


def _station_fleet_answer(
    request: HttpRequest, station: Station, error: str, *, section: str = "diagnostics"
) -> HttpResponse:
    if request.headers.get("HX-Request") == "true":
        if section == "publish":
            return _station_fleet_render(request, station, publish_error=error)
        return _station_fleet_render(request, station, error=error)
    if error:
        messages.error(request, error)
    return redirect(reverse("station-detail", args=[station.identity]))


def _form_count(value: str, field: str) -> int | None:
    if not value.strip():
        return None
    try:
        return int(value)
    except ValueError:
        raise services.FleetError(f"{field} must be a whole number") from None


@require_POST
@operate_required
def firmware_publish(request: HttpRequest, identity: str) -> HttpResponse:
    """The "Publish firmware" form of a 2.0.1 station (a Local Controller): PublishFirmware of an image."""
    station = _station(identity)
    error = ""
    try:
        image_id = _form_count(request.POST.get("image", ""), "image")
        image = FirmwareImage.objects.filter(pk=image_id).first() if image_id is not None else None
        if image is None:
            raise services.FleetError("choose a firmware image")
        services.firmware_publish(
            station=station,
            image=image,
            retries=_form_count(request.POST.get("retries", ""), "retries"),
            retry_interval=_form_count(request.POST.get("retry_interval", ""), "retry interval"),
            requested_by=request.user,
        )
    except services.FleetError as exc:
        error = str(exc)
    return _station_fleet_answer(request, station, error, section="publish")


@require_POST
@operate_required
def firmware_unpublish(request: HttpRequest, identity: str, publication_uuid: Any) -> HttpResponse:
    """A publication's "Unpublish" button: UnpublishFirmware with the image's MD5."""
    station = _station(identity)
    publication = get_object_or_404(FirmwarePublication, station=station, uuid=publication_uuid)
    error = ""
    try:
        services.firmware_unpublish(publication=publication, requested_by=request.user)
    except services.FleetError as exc:
        error = str(exc)
    return _station_fleet_answer(request, station, error, section="publish")


@staff_required
def diagnostics_download(request: HttpRequest, request_uuid: Any) -> HttpResponseBase:
    """Download a received diagnostics or log file."""
    diagnostics = get_object_or_404(DiagnosticsRequest, uuid=request_uuid)
    if not diagnostics.file:
        raise Http404("nothing was uploaded for this request")
    return FileResponse(
        diagnostics.file.storage.open(diagnostics.file.name, "rb"),
        as_attachment=True,
        filename=diagnostics.file_name or "diagnostics.log",
    )
