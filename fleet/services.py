"""Every write and business rule of fleet operations: firmware images, campaigns, diagnostics uploads.

A campaign's state lives in the database (`Campaign`, one `CampaignStation` row per station), so any
worker can advance it and a killed one loses nothing: `campaign_advance` locks the campaign, claims each
step with a conditional update and queues the station's command in the same transaction. The stations'
FirmwareStatusNotifications and BootNotifications reach it through domain events (fleet.subscribers).
"""

import hashlib
import math
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from functools import partial
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core import signing
from django.core.files.base import File
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from chargenet.errors import DomainError
from chargenet.events import event_publish
from fleet.models import (
    Campaign,
    CampaignEvent,
    CampaignStation,
    DiagnosticsRequest,
    FirmwareImage,
    FirmwarePublication,
)
from stations.models import Command, Session, Station
from stations.network.passwords import password_check, password_hash
from stations.network.selectors import TAGS_ALL, TAGS_ANY, station_target_select
from stations.services import CommandError, StationError, command_create, command_dispatch, tags_normalise

DOWNLOAD_SALT = "fleet.firmware-download"
WAVE_REST = "rest"

# FirmwareStatusNotification statuses (1.6, 1.6 security extension, 2.0.1) → the step they mean.
FIRMWARE_PROGRESS = {
    "DownloadScheduled": CampaignStation.Status.SENT,
    "DownloadPaused": CampaignStation.Status.SENT,
    "Downloading": CampaignStation.Status.DOWNLOADING,
    "Downloaded": CampaignStation.Status.DOWNLOADED,
    "SignatureVerified": CampaignStation.Status.DOWNLOADED,
    "InstallScheduled": CampaignStation.Status.INSTALLING,
    "Installing": CampaignStation.Status.INSTALLING,
    "InstallRebooting": CampaignStation.Status.INSTALLING,
    "Installed": CampaignStation.Status.INSTALLED,
}
FIRMWARE_FAILURES = {
    "DownloadFailed": "the download failed",
    "InstallationFailed": "the installation failed",
    "InvalidSignature": "the station found the signature invalid",
    "InstallVerificationFailed": "the installed firmware did not verify",
    "InvalidCertificate": "the station refused the signing certificate",
    "RevokedCertificate": "the signing certificate is revoked",
}
# "Idle" says the station is not busy with firmware: nothing to change, the boot verifies the version.
FIRMWARE_NEUTRAL = {"Idle"}

UPLOAD_FAILURES = {"UploadFailed", "UploadFailure", "BadMessage", "NotSupportedOperation", "PermissionDenied"}
UPLOAD_PROGRESS = {"Uploading", "Uploaded", "AcceptedCanceled", "Idle"}


class FleetError(DomainError):
    """A fleet action was refused (bad image, bad campaign, bad upload); the message says why."""

    api_status = 400
    api_code = "fleet_refused"


class UploadRefused(FleetError):
    """A station's upload or download was refused: an unknown, expired or used token."""

    api_status = 403
    api_code = "token_refused"


class UploadTooLarge(FleetError):
    """A station's upload is larger than FLEET_UPLOAD_MAX_BYTES."""

    api_status = 413
    api_code = "upload_too_large"


def _public_url() -> str:
    return (settings.FLEET_PUBLIC_URL or settings.SITE_URL).rstrip("/")


# ---- firmware images -------------------------------------------------------------------------


def _sha256(file: File) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    file.seek(0)
    for chunk in file.chunks():
        digest.update(chunk)
        size += len(chunk)
    file.seek(0)
    return digest.hexdigest(), size


def _clean(value: str, field: str, length: int) -> str:
    value = (value or "").strip()
    if not value:
        raise FleetError(f"{field} is required")
    if len(value) > length:
        raise FleetError(f"{field} must be at most {length} characters")
    return value


def firmware_image_create(
    *,
    vendor: str,
    model: str,
    version: str,
    file: File,
    file_name: str = "",
    sha256: str = "",
    signing_certificate: str = "",
    signature: str = "",
    notes: str = "",
    uploaded_by: Any = None,
) -> FirmwareImage:
    """Store an uploaded firmware image with the SHA-256 computed here.

    Raises FleetError for a missing field, an empty or oversize file, a checksum that differs from the
    `sha256` the uploader gave (a corrupted upload), half of a signature, or a version already stored
    for that vendor and model. Nothing is stored then.
    """
    vendor, model = _clean(vendor, "vendor", 50), _clean(model, "model", 50)
    version = _clean(version, "version", 50)
    computed, size = _sha256(file)
    if size == 0:
        raise FleetError("the firmware file is empty")
    if size > settings.FLEET_IMAGE_MAX_BYTES:
        raise FleetError(f"the firmware file is larger than {settings.FLEET_IMAGE_MAX_BYTES} bytes")
    if sha256 and sha256.strip().lower() != computed:
        raise FleetError(f"checksum mismatch: the upload's SHA-256 is {computed}, not {sha256.strip()}")
    if bool(signing_certificate.strip()) != bool(signature.strip()):
        raise FleetError("a signed image needs both the signing certificate and the signature")
    name = (file_name or getattr(file, "name", "") or "firmware.bin").rsplit("/", 1)[-1][:150]
    with transaction.atomic():
        if FirmwareImage.objects.filter(vendor=vendor, model=model, version=version).exists():
            raise FleetError(f"{vendor} {model} version {version} is already stored")
        image = FirmwareImage(
            vendor=vendor,
            model=model,
            version=version,
            file_name=name,
            size=size,
            sha256=computed,
            signing_certificate=signing_certificate.strip(),
            signature=signature.strip(),
            notes=notes,
            uploaded_by=uploaded_by,
        )
        image.file.save(f"{computed[:16]}-{name}", file, save=False)
        image.save()
        event_publish(
            "firmware_image.created",
            {"image_id": image.pk, "vendor": vendor, "model": model, "version": version, "sha256": computed},
        )
    return image


def firmware_download_url(*, image: FirmwareImage, station: Station) -> str:
    """The URL `station` downloads `image` from: a signed, expiring token for this station only."""
    token = signing.dumps([image.pk, station.pk], salt=DOWNLOAD_SALT, compress=True)
    return f"{_public_url()}/fleet/firmware/{token}/{quote(image.file_name)}"


def firmware_download_resolve(*, token: str) -> tuple[FirmwareImage, Station]:
    """The image and station a download token names; raises UploadRefused when it is forged or expired."""
    try:
        image_id, station_id = signing.loads(
            token, salt=DOWNLOAD_SALT, max_age=settings.FLEET_DOWNLOAD_TOKEN_SECONDS
        )
    except signing.SignatureExpired:
        raise UploadRefused("the download link has expired") from None
    except (signing.BadSignature, ValueError, TypeError):
        raise UploadRefused("the download link is not valid") from None
    image = FirmwareImage.objects.filter(pk=image_id).first()
    station = Station.objects.filter(pk=station_id).first()
    if image is None or station is None:
        raise UploadRefused("the download link is not valid")
    return image, station


# ---- campaigns: creation ---------------------------------------------------------------------


def _wave_sizes(waves: list[Any], total: int) -> list[int]:
    """Sizes of the waves for `total` stations: counts, percentages (rounded up) and "rest"; the last
    wave takes whatever is left. Raises FleetError for a malformed wave."""
    if not waves:
        waves = [WAVE_REST]
    if len(waves) > 20:
        raise FleetError("at most 20 waves")
    sizes: list[int] = []
    left = total
    for index, raw in enumerate(waves):
        text = str(raw).strip().lower()
        last = index == len(waves) - 1
        if text == WAVE_REST:
            if not last:
                raise FleetError('"rest" can only be the last wave')
            size = left
        elif text.endswith("%"):
            try:
                share = float(text[:-1])
            except ValueError:
                raise FleetError(f"wave {index + 1}: {raw!r} is not a percentage") from None
            if not 0 < share <= 100:
                raise FleetError(f"wave {index + 1}: a percentage must be above 0 and at most 100")
            size = math.ceil(total * share / 100)
        else:
            try:
                size = int(text)
            except ValueError:
                raise FleetError(
                    f'wave {index + 1}: {raw!r} is not a count, a percentage or "rest"'
                ) from None
            if size < 1:
                raise FleetError(f"wave {index + 1}: a wave has at least one station")
        size = min(size, left)
        if last:
            size = left
        sizes.append(size)
        left -= size
    return [size for size in sizes if size > 0]


@dataclass(frozen=True)
class CampaignTarget:
    """Which stations a campaign covers: every criterion given narrows the set; `tags` match any of
    them, or every one with tags_match="all". Nothing given is every station (for firmware: of the
    image's vendor and model)."""

    identities: list[str] = field(default_factory=list)
    location_id: int | None = None
    vendor: str = ""
    model: str = ""
    firmware_version: str = ""
    tags: list[str] = field(default_factory=list)
    tags_match: str = TAGS_ANY

    def as_dict(self) -> dict[str, Any]:
        """The criteria given, as stored on the campaign and shown on its page and in the API."""
        data: dict[str, Any] = {
            "stations": sorted(set(self.identities)),
            "location_id": self.location_id,
            "vendor": self.vendor,
            "model": self.model,
            "firmware_version": self.firmware_version,
            "tags": self.tags,
        }
        data = {key: value for key, value in data.items() if value not in (None, "", [])}
        if self.tags:
            data["tags_match"] = self.tags_match
        return data


def _target_stations(target: CampaignTarget, *, image: FirmwareImage | None) -> list[Station]:
    if target.tags_match not in (TAGS_ANY, TAGS_ALL):
        raise FleetError('tags_match must be "any" or "all"')
    try:
        tags = tags_normalise(target.tags)
    except StationError as exc:
        raise FleetError(str(exc)) from None
    vendor, model = target.vendor.strip(), target.model.strip()
    if image is not None:
        if (vendor and vendor != image.vendor) or (model and model != image.model):
            raise FleetError(f"the image is for {image.vendor} {image.model}, not {vendor} {model}".strip())
    identities = sorted(set(target.identities))
    if identities:
        known = set(Station.objects.filter(identity__in=identities).values_list("identity", flat=True))
        unknown = [i for i in identities if i not in known]
        if unknown:
            raise FleetError(f"unknown stations: {', '.join(unknown[:10])}")
    if image is not None:
        wrong = (
            Station.objects.filter(identity__in=identities)
            .exclude(vendor=image.vendor, model=image.model)
            .values_list("identity", flat=True)
        )
        if wrong:
            raise FleetError(
                f"the image is for {image.vendor} {image.model}; these stations are another vendor or "
                f"model: {', '.join(list(wrong)[:10])}"
            )
        vendor, model = image.vendor, image.model
    stations = list(
        station_target_select(
            identities=identities,
            location_id=target.location_id,
            vendor=vendor,
            model=model,
            firmware_version=target.firmware_version.strip(),
            tags=tags,
            tags_match=target.tags_match,
        )
    )
    if not stations:
        what = f"station of {image.vendor} {image.model}" if image else "station"
        raise FleetError(f"no {what} matches the target")
    return stations


def _campaign_start(
    *,
    name: str,
    target: CampaignTarget | None,
    image: FirmwareImage | None,
    waves: list[Any] | None,
    max_failure_rate: int,
    max_retries: int,
    window_start: time | None,
    window_end: time | None,
    **fields: Any,
) -> Campaign:
    """Check what every campaign has, pick its stations, store it with one row per station in its
    wave, and queue its first step."""
    name = _clean(name, "name", 200)
    if not 0 <= max_failure_rate <= 100:
        raise FleetError("the maximum failure rate is a percentage from 0 to 100")
    if not 0 <= max_retries <= 10:
        raise FleetError("retries must be from 0 to 10")
    if (window_start is None) != (window_end is None) or (
        window_start is not None and window_start == window_end
    ):
        raise FleetError("an update window needs a start and a different end time")
    target = target or CampaignTarget()
    stations = _target_stations(target, image=image)
    if image is not None:
        target = replace(target, vendor=image.vendor, model=image.model)
    waves = [str(w) for w in (waves or ["1", "10%", WAVE_REST])]
    sizes = _wave_sizes(waves, len(stations))
    with transaction.atomic():
        campaign = Campaign.objects.create(
            name=name,
            image=image,
            target=target.as_dict(),
            waves=waves,
            max_failure_rate=max_failure_rate,
            max_retries=max_retries,
            window_start=window_start,
            window_end=window_end,
            **fields,
        )
        rows, position = [], 0
        for wave, size in enumerate(sizes, start=1):
            for station in stations[position : position + size]:
                rows.append(
                    CampaignStation(
                        campaign=campaign, station=station, wave=wave, version_before=station.firmware_version
                    )
                )
            position += size
        CampaignStation.objects.bulk_create(rows)
        _timeline(
            campaign, f"created for {len(rows)} stations in {len(sizes)} waves ({', '.join(map(str, sizes))})"
        )
        _campaign_event(campaign)
        transaction.on_commit(lambda: _advance_soon(campaign.pk))
    return campaign


def campaign_create(
    *,
    name: str,
    image: FirmwareImage,
    target: CampaignTarget | None = None,
    waves: list[Any] | None = None,
    max_failure_rate: int = 10,
    window_start: time | None = None,
    window_end: time | None = None,
    allow_while_charging: bool = False,
    max_retries: int = 1,
    created_by: Any = None,
) -> Campaign:
    """Create a running campaign that updates the targeted stations to `image` in waves.

    Only stations of the image's vendor and model are updated. Raises FleetError when a listed
    station is unknown or of another vendor/model than the image, when nothing matches, or for
    malformed waves, rates, windows or tags.
    """
    return _campaign_start(
        name=name,
        target=target,
        image=image,
        waves=waves,
        max_failure_rate=max_failure_rate,
        max_retries=max_retries,
        window_start=window_start,
        window_end=window_end,
        created_by=created_by,
        kind=Campaign.Kind.FIRMWARE,
        allow_while_charging=allow_while_charging,
    )


def diagnostics_campaign_create(
    *,
    name: str,
    target: CampaignTarget | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    transport: str = DiagnosticsRequest.Transport.HTTP,
    log_type: str = "DiagnosticsLog",
    waves: list[Any] | None = None,
    max_failure_rate: int = 10,
    window_start: time | None = None,
    window_end: time | None = None,
    max_retries: int = 1,
    created_by: Any = None,
) -> Campaign:
    """Create a running campaign that collects the targeted stations' diagnostics (1.6
    GetDiagnostics) or logs (2.0.1 GetLog) in waves, one upload request per station and attempt.

    Raises FleetError for a window of logs that ends before it starts, FTP while the FTP server is off,
    an unknown log type, no matching station, or malformed waves, rates, windows or tags.
    """
    _diagnostics_options_check(since=since, until=until, transport=transport, log_type=log_type)
    return _campaign_start(
        name=name,
        target=target,
        image=None,
        waves=waves,
        max_failure_rate=max_failure_rate,
        max_retries=max_retries,
        window_start=window_start,
        window_end=window_end,
        created_by=created_by,
        kind=Campaign.Kind.DIAGNOSTICS,
        log_since=since,
        log_until=until,
        transport=transport,
        log_type=log_type,
        allow_while_charging=True,  # an upload does not disturb a session
    )


# ---- campaigns: the operator's actions ---------------------------------------------------------


@transaction.atomic
def campaign_pause(*, campaign: Campaign) -> Campaign:
    """Stop starting updates (those under way go on); raises FleetError unless running."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status != Campaign.Status.RUNNING:
        raise FleetError(f"only a running campaign can be paused (this one is {campaign.status})")
    campaign.status = Campaign.Status.PAUSED
    campaign.save(update_fields=["status"])
    _timeline(campaign, "paused")
    _campaign_event(campaign)
    return campaign


@transaction.atomic
def campaign_resume(*, campaign: Campaign) -> Campaign:
    """Run a paused or halted campaign again. Resuming a halted one accepts the failures that halted
    it (retry them first with campaign_retry_failed to count them again)."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status not in (Campaign.Status.PAUSED, Campaign.Status.HALTED):
        raise FleetError(f"only a paused or halted campaign can be resumed (this one is {campaign.status})")
    if campaign.status == Campaign.Status.HALTED:
        campaign.stations.filter(status=CampaignStation.Status.FAILED).update(failure_accepted=True)
    campaign.status, campaign.halted_reason = Campaign.Status.RUNNING, ""
    campaign.save(update_fields=["status", "halted_reason"])
    _timeline(campaign, "resumed")
    _campaign_event(campaign)
    transaction.on_commit(lambda: _advance_soon(campaign.pk))
    return campaign


@transaction.atomic
def campaign_cancel(*, campaign: Campaign) -> Campaign:
    """Cancel: stations not started are dropped; updates under way finish and are still followed."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status in (Campaign.Status.CANCELLED, Campaign.Status.COMPLETED):
        raise FleetError(f"the campaign is already {campaign.status}")
    campaign.stations.filter(status=CampaignStation.Status.PENDING).update(
        status=CampaignStation.Status.CANCELLED, finished_at=timezone.now(), waiting_reason=""
    )
    campaign.status, campaign.finished_at = Campaign.Status.CANCELLED, timezone.now()
    campaign.save(update_fields=["status", "finished_at"])
    _timeline(campaign, "cancelled")
    _campaign_event(campaign)
    return campaign


@transaction.atomic
def campaign_retry_failed(*, campaign: Campaign) -> int:
    """Put every failed station back in line with its retries renewed; returns how many. A completed
    campaign runs again for them; a halted or paused one stays so until resumed."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status == Campaign.Status.CANCELLED:
        raise FleetError("a cancelled campaign cannot retry")
    count = campaign.stations.filter(status=CampaignStation.Status.FAILED).update(
        status=CampaignStation.Status.PENDING, attempts=0, failure_accepted=False, finished_at=None
    )
    if not count:
        raise FleetError("no station has failed")
    if campaign.status == Campaign.Status.COMPLETED:
        campaign.status, campaign.finished_at = Campaign.Status.RUNNING, None
        campaign.save(update_fields=["status", "finished_at"])
    _timeline(campaign, f"{count} failed stations will be tried again")
    _campaign_event(campaign)
    transaction.on_commit(lambda: _advance_soon(campaign.pk))
    return count


# The operator's actions by the name pages and the API use for them.
CAMPAIGN_ACTIONS = {
    "pause": campaign_pause,
    "resume": campaign_resume,
    "cancel": campaign_cancel,
    "retry-failed": campaign_retry_failed,
}


# ---- campaigns: advancing ----------------------------------------------------------------------


def campaigns_advance_due() -> int:
    """Advance every campaign that has work: running ones, and any with updates under way (a paused,
    halted or cancelled campaign still follows those). Returns how many were looked at."""
    ids = list(
        Campaign.objects.filter(
            Q(status=Campaign.Status.RUNNING) | Q(stations__status__in=CampaignStation.ACTIVE)
        )
        .distinct()
        .values_list("pk", flat=True)
    )
    for campaign_id in ids:
        campaign_advance(campaign_id=campaign_id)
    return len(ids)


def campaign_advance(*, campaign_id: int) -> None:
    """One idempotent step of a campaign: time out or nudge quiet stations, halt on too many failures,
    start the stations that may start now, move to the next wave or complete.

    Safe to run from any number of workers at once: the campaign row is locked, each start is a
    conditional update, and the one-active-update constraint keeps two campaigns off one station.
    """
    with transaction.atomic():
        campaign = (
            Campaign.objects.select_for_update(of=("self",))
            .select_related("image")
            .filter(pk=campaign_id)
            .first()
        )
        if campaign is None:
            return
        now = timezone.now()
        _follow_quiet(campaign, now)
        if campaign.status != Campaign.Status.RUNNING:
            return
        if _halt_if_failing(campaign):
            return
        started = 0
        while True:
            started += _start_pending(campaign, now, budget=settings.FLEET_MAX_STARTS_PER_TICK - started)
            open_rows = campaign.stations.filter(wave__lte=campaign.current_wave).exclude(
                status__in=CampaignStation.FINAL
            )
            if open_rows.exists():
                break
            if campaign.stations.filter(wave__gt=campaign.current_wave).exists():
                campaign.current_wave += 1
                campaign.save(update_fields=["current_wave"])
                _timeline(campaign, f"wave {campaign.current_wave} started")
                _campaign_event(campaign)
                continue
            campaign.status, campaign.finished_at = Campaign.Status.COMPLETED, now
            campaign.save(update_fields=["status", "finished_at"])
            counts = _counts(campaign)
            _timeline(
                campaign,
                f"completed: {counts.get('succeeded', 0)} succeeded, {counts.get('failed', 0)} failed",
            )
            _campaign_event(campaign)
            break


def _follow_quiet(campaign: Campaign, now: datetime) -> None:
    quiet = timedelta(seconds=settings.FLEET_QUIET_SECONDS)
    give_up = timedelta(seconds=settings.FLEET_STEP_TIMEOUT_SECONDS)
    # A command whose nudge was lost (the worker that queued it died before its commit hook ran)
    # would wait for the station's next reconnect: nudge its connection again, which costs nothing.
    unsent = Command.objects.filter(
        status=Command.Status.QUEUED,
        created_at__lt=now - timedelta(seconds=5),
        pk__in=campaign.stations.filter(status=CampaignStation.Status.SENT).values("command_id"),
    ).values_list("station_id", flat=True)
    for station_id in set(unsent):
        transaction.on_commit(partial(command_dispatch, station_id=station_id))
    if campaign.kind == Campaign.Kind.DIAGNOSTICS:
        subject = "its upload status"
    else:
        subject, requested = "its firmware status", "FirmwareStatusNotification"
    rows = campaign.stations.select_related("station", "diagnostics").filter(
        status__in=CampaignStation.ACTIVE
    )
    for row in rows:
        if campaign.kind == Campaign.Kind.DIAGNOSTICS:
            diagnostics = row.diagnostics
            is_log = diagnostics is not None and diagnostics.kind == DiagnosticsRequest.Kind.LOG
            requested = "LogStatusNotification" if is_log else "DiagnosticsStatusNotification"
        last = max(filter(None, [row.last_report_at, row.started_at]), default=now)
        if now - last > give_up:
            _station_fail(campaign, row, f"no progress reported for {settings.FLEET_STEP_TIMEOUT_SECONDS} s")
        elif now - last > quiet and (row.triggered_at is None or now - row.triggered_at > quiet):
            # Quiet: ask where it stands (TriggerMessage); an offline station is asked when it is back.
            if not row.station.is_online:
                continue
            try:
                command_create(
                    station=row.station,
                    action="TriggerMessage",
                    payload={"requestedMessage": requested},
                    expires_in=settings.FLEET_QUIET_SECONDS,
                )
            except CommandError:
                continue
            row.triggered_at = now
            row.save(update_fields=["triggered_at"])
            _timeline(campaign, f"quiet: asked for {subject}", station=row.station)


def _halt_if_failing(campaign: Campaign) -> bool:
    for wave in range(1, campaign.current_wave + 1):
        rows = campaign.stations.filter(wave=wave)
        size = rows.count()
        failed = rows.filter(status=CampaignStation.Status.FAILED, failure_accepted=False).count()
        if size and failed * 100 > campaign.max_failure_rate * size:
            campaign.status = Campaign.Status.HALTED
            campaign.halted_reason = (
                f"wave {wave}: {failed} of {size} stations failed, more than the "
                f"{campaign.max_failure_rate} % allowed"
            )[:300]
            campaign.save(update_fields=["status", "halted_reason"])
            _timeline(campaign, f"halted: {campaign.halted_reason}")
            _campaign_event(campaign)
            return True
    return False


def _in_window(campaign: Campaign, station: Station, now: datetime) -> bool:
    if campaign.window_start is None or campaign.window_end is None:
        return True
    try:
        zone = ZoneInfo(station.location.time_zone if station.location else "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = now.astimezone(zone).time()
    start, end = campaign.window_start, campaign.window_end
    # A window past midnight (22:00–04:00) wraps.
    return start <= local < end if start < end else local >= start or local < end


def _start_pending(campaign: Campaign, now: datetime, *, budget: int) -> int:
    started = 0
    rows = (
        campaign.stations.select_related("station__location")
        .filter(wave__lte=campaign.current_wave, status=CampaignStation.Status.PENDING)
        .order_by("wave", "station__identity")
    )
    charging = set(
        Session.objects.filter(
            status=Session.Status.ACTIVE, station_id__in=rows.values("station_id")
        ).values_list("station_id", flat=True)
    )
    for row in rows:
        if started >= budget:
            break
        station = row.station
        reason = ""
        if not station.is_online:
            reason = "offline: starts when the station is back"
        elif not _in_window(campaign, station, now):
            reason = f"outside the update window {campaign.window_start:%H:%M}–{campaign.window_end:%H:%M} local time"
        elif station.pk in charging and not campaign.allow_while_charging:
            reason = "charging: starts when the session ends"
        elif (
            CampaignStation.objects.filter(station=station, status__in=CampaignStation.ACTIVE)
            .exclude(pk=row.pk)
            .exists()
        ):
            reason = "another campaign is busy with this station"
        if reason:
            if row.waiting_reason != reason:
                row.waiting_reason = reason
                row.save(update_fields=["waiting_reason"])
            continue
        if _station_start(campaign, row, now):
            started += 1
    return started


def _firmware_command(
    campaign: Campaign, row: CampaignStation, request_id: int
) -> tuple[str, dict[str, Any]]:
    image, station = campaign.image, row.station
    if image is None:
        raise FleetError("a firmware campaign without an image")
    location = firmware_download_url(image=image, station=station)
    retrieve = timezone.now().isoformat(timespec="seconds").replace("+00:00", "Z")
    firmware: dict[str, Any] = {"location": location, "retrieveDateTime": retrieve}
    if image.is_signed:
        firmware |= {"signingCertificate": image.signing_certificate, "signature": image.signature}
    if station.ocpp_version == Station.OcppVersion.V16:
        if image.is_signed:
            return "SignedUpdateFirmware", {"requestId": request_id, "firmware": firmware}
        return "UpdateFirmware", {"location": location, "retrieveDate": retrieve}
    return "UpdateFirmware", {"requestId": request_id, "firmware": firmware}


def _station_start(campaign: Campaign, row: CampaignStation, now: datetime) -> bool:
    request_id = secrets.randbelow(2**31 - 1) + 1
    try:
        with transaction.atomic():
            claimed = CampaignStation.objects.filter(pk=row.pk, status=CampaignStation.Status.PENDING).update(
                status=CampaignStation.Status.SENT,
                attempts=row.attempts + 1,
                request_id=request_id,
                started_at=now,
                last_report="",
                last_report_at=None,
                triggered_at=None,
                waiting_reason="",
            )
            if not claimed:
                return False
            # Exactly once without an idempotency key: the claim above and this row commit together.
            if campaign.kind == Campaign.Kind.DIAGNOSTICS:
                diagnostics = diagnostics_collect(
                    station=row.station,
                    since=campaign.log_since,
                    until=campaign.log_until,
                    transport=campaign.transport or DiagnosticsRequest.Transport.HTTP,
                    log_type=campaign.log_type or "DiagnosticsLog",
                    requested_by=campaign.created_by,
                )
                action = diagnostics.command.action if diagnostics.command else "GetDiagnostics"
                CampaignStation.objects.filter(pk=row.pk).update(
                    command=diagnostics.command, diagnostics=diagnostics, request_id=diagnostics.request_id
                )
            else:
                action, payload = _firmware_command(campaign, row, request_id)
                command = command_create(station=row.station, action=action, payload=payload)
                CampaignStation.objects.filter(pk=row.pk).update(command=command)
    except IntegrityError:
        # Another campaign claimed this station in the same instant; it waits for its turn.
        return False
    except (CommandError, FleetError) as exc:
        row.refresh_from_db()
        _station_fail(campaign, row, str(exc))
        return False
    row.refresh_from_db()
    _timeline(campaign, f"{action} sent (attempt {row.attempts})", station=row.station)
    _station_event(campaign, row)
    return True


def _station_fail(campaign: Campaign, row: CampaignStation, reason: str) -> None:
    row.failure_reason = reason[:300]
    if row.diagnostics_id:
        # The attempt's upload location is used up: a retry gets a new request and token.
        DiagnosticsRequest.objects.filter(pk=row.diagnostics_id).exclude(
            status__in=(DiagnosticsRequest.Status.RECEIVED, DiagnosticsRequest.Status.FAILED)
        ).update(status=DiagnosticsRequest.Status.FAILED, error=reason[:300], secret_hash="")
    retry = row.attempts <= campaign.max_retries and campaign.status != Campaign.Status.CANCELLED
    if retry:
        row.status = CampaignStation.Status.PENDING
        _timeline(campaign, f"failed ({reason}); will retry", station=row.station)
    else:
        row.status, row.finished_at = CampaignStation.Status.FAILED, timezone.now()
        _timeline(campaign, f"failed: {reason}", station=row.station)
    row.save()
    _station_event(campaign, row)
    transaction.on_commit(lambda: _advance_soon(campaign.pk))


def _station_succeed(campaign: Campaign, row: CampaignStation, message: str) -> None:
    row.status, row.finished_at, row.failure_reason = CampaignStation.Status.SUCCEEDED, timezone.now(), ""
    row.save()
    _timeline(campaign, message, station=row.station)
    _station_event(campaign, row)
    transaction.on_commit(lambda: _advance_soon(campaign.pk))


# ---- campaigns: what stations report ---------------------------------------------------------


def _active_row(station_id: int) -> CampaignStation | None:
    """The firmware update under way at a station (at most one campaign step runs per station)."""
    return (
        CampaignStation.objects.select_for_update(of=("self",))
        .select_related("campaign__image", "station")
        .filter(
            station_id=station_id, status__in=CampaignStation.ACTIVE, campaign__kind=Campaign.Kind.FIRMWARE
        )
        .first()
    )


@transaction.atomic
def campaign_station_report(*, station_id: int, status: str, request_id: int | None = None) -> None:
    """Follow a station's FirmwareStatusNotification in the update it is running. A status ChargeNet
    does not know, or one for another request, is put on the timeline and changes nothing."""
    row = _active_row(station_id)
    if row is None:
        return
    campaign = row.campaign
    if request_id is not None and row.request_id is not None and request_id != row.request_id:
        _timeline(campaign, f"ignored {status} for another request ({request_id})", station=row.station)
        return
    row.last_report, row.last_report_at = status[:40], timezone.now()
    if status in FIRMWARE_FAILURES:
        _station_fail(campaign, row, f"{status}: {FIRMWARE_FAILURES[status]}")
        return
    if status in FIRMWARE_PROGRESS:
        row.status = FIRMWARE_PROGRESS[status]
        _timeline(campaign, status, station=row.station)
    elif status not in FIRMWARE_NEUTRAL:
        _timeline(campaign, f"reported an unknown firmware status {status!r}; ignored", station=row.station)
    row.save()
    _station_event(campaign, row)


def stations_updating() -> set[int]:
    """The stations with a firmware update under way (what campaign_station_booted looks at)."""
    return set(
        CampaignStation.objects.filter(
            status__in=CampaignStation.ACTIVE, campaign__kind=Campaign.Kind.FIRMWARE
        ).values_list("station_id", flat=True)
    )


@transaction.atomic
def campaign_station_booted(*, station_id: int) -> None:
    """Verify the version a station booted with: the image's → succeeded; another one after it said
    Installed → failed (a reboot in the middle of an update is no verdict)."""
    row = _active_row(station_id)
    if row is None or row.campaign.image is None:
        return
    wanted = row.campaign.image.version
    version = Station.objects.filter(pk=station_id).values_list("firmware_version", flat=True).first() or ""
    if version == wanted:
        _station_succeed(row.campaign, row, f"booted with version {version}")
    elif row.status == CampaignStation.Status.INSTALLED:
        _station_fail(row.campaign, row, f"booted with version {version or '?'}, not {wanted}")


@transaction.atomic
def campaign_command_finished(*, command_uuid: str, status: str) -> None:
    """A campaign's command (firmware update, diagnostics or log request) the station refused, or
    never answered, fails that attempt."""
    if status not in ("rejected", "error", "timed_out", "expired"):
        return
    row = (
        CampaignStation.objects.select_for_update(of=("self",))
        .select_related("campaign", "station", "command")
        .filter(command__uuid=command_uuid, status=CampaignStation.Status.SENT)
        .first()
    )
    if row is None:
        return
    detail = row.command.error if row.command and row.command.error else ""
    response = row.command.response if row.command else None
    answer = (response or {}).get("status", "") if isinstance(response, dict) else ""
    _station_fail(row.campaign, row, f"the station's answer: {status} {answer or detail}".strip())


# ---- campaigns: events and timeline ----------------------------------------------------------


def _timeline(campaign: Campaign, message: str, *, station: Station | None = None) -> None:
    CampaignEvent.objects.create(campaign=campaign, station=station, message=message[:300])


def _counts(campaign: Campaign) -> dict[str, int]:
    from django.db.models import Count

    return {
        row["status"]: row["n"]
        for row in campaign.stations.values("status").annotate(n=Count("id")).order_by()
    }


def _campaign_event(campaign: Campaign) -> None:
    event_publish(
        f"{campaign.kind}_campaign.updated",
        {
            "campaign_id": campaign.pk,
            "status": campaign.status,
            "current_wave": campaign.current_wave,
            "halted_reason": campaign.halted_reason,
        },
    )


def _station_event(campaign: Campaign, row: CampaignStation) -> None:
    event_publish(
        f"{campaign.kind}_campaign.station_updated",
        {
            "campaign_id": campaign.pk,
            "station_id": row.station_id,
            "identity": row.station.identity,
            "wave": row.wave,
            "status": row.status,
            "report": row.last_report,
            "failure_reason": row.failure_reason,
        },
    )


def _advance_soon(campaign_id: int) -> None:
    """Queue a campaign step now instead of at the next beat tick (a lost one waits for the tick)."""
    from fleet.tasks import campaign_advance_task

    try:
        campaign_advance_task.apply_async((campaign_id,), retry=False, expires=60)
    except Exception:  # noqa: S110 - the beat tick advances it anyway
        pass


# ---- diagnostics and logs --------------------------------------------------------------------


def _diagnostics_options_check(
    *, since: datetime | None, until: datetime | None, transport: str, log_type: str
) -> None:
    if since and until and until <= since:
        raise FleetError("the time window must end after it starts")
    if transport not in DiagnosticsRequest.Transport.values:
        raise FleetError("transport must be http or ftp")
    if transport == DiagnosticsRequest.Transport.FTP and not settings.FLEET_FTP_ENABLED:
        raise FleetError("the FTP server is turned off (FLEET_FTP_ENABLED)")
    if log_type not in ("DiagnosticsLog", "SecurityLog"):
        raise FleetError("log_type must be DiagnosticsLog or SecurityLog")


def diagnostics_collect(
    *,
    station: Station,
    since: datetime | None = None,
    until: datetime | None = None,
    transport: str = DiagnosticsRequest.Transport.HTTP,
    kind: str = "",
    log_type: str = "DiagnosticsLog",
    requested_by: Any = None,
) -> DiagnosticsRequest:
    """Ask a station for its diagnostics (1.6 GetDiagnostics) or log (GetLog) and give it a one-time
    upload location: an HTTP URL with a token, or FTP with one-time credentials.

    Raises FleetError for a window that ends before it starts, FTP while the FTP server is off, or
    an action the station's version lacks.
    """
    _diagnostics_options_check(since=since, until=until, transport=transport, log_type=log_type)
    if not kind:
        kind = (
            DiagnosticsRequest.Kind.DIAGNOSTICS
            if station.ocpp_version == "1.6"
            else DiagnosticsRequest.Kind.LOG
        )
    if kind not in DiagnosticsRequest.Kind.values:
        raise FleetError("kind must be diagnostics or log")
    if kind == DiagnosticsRequest.Kind.DIAGNOSTICS and station.ocpp_version != "1.6":
        raise FleetError("OCPP 2.0.1 stations send logs (GetLog), not diagnostics")
    secret = secrets.token_urlsafe(24)
    with transaction.atomic():
        request = DiagnosticsRequest.objects.create(
            station=station,
            kind=kind,
            log_type=log_type if kind == DiagnosticsRequest.Kind.LOG else "",
            transport=transport,
            request_id=secrets.randbelow(2**31 - 1) + 1,
            since=since,
            until=until,
            secret_hash=password_hash(secret),
            secret_expires_at=timezone.now() + timedelta(seconds=settings.FLEET_UPLOAD_TOKEN_SECONDS),
            requested_by=requested_by,
        )
        if transport == DiagnosticsRequest.Transport.FTP:
            request.ftp_user = f"cn{request.uuid.hex[:16]}"
            request.save(update_fields=["ftp_user"])
            location = f"ftp://{request.ftp_user}:{secret}@{settings.FLEET_FTP_PUBLIC_HOST}:{settings.FLEET_FTP_PORT}/"
        else:
            location = f"{_public_url()}/fleet/uploads/{request.uuid}/{secret}/"
        stamp = lambda value: value.isoformat(timespec="seconds").replace("+00:00", "Z")  # noqa: E731
        payload: dict[str, Any]
        if kind == DiagnosticsRequest.Kind.DIAGNOSTICS:
            action, payload = "GetDiagnostics", {"location": location}
            if since:
                payload["startTime"] = stamp(since)
            if until:
                payload["stopTime"] = stamp(until)
        else:
            log: dict[str, Any] = {"remoteLocation": location}
            if since:
                log["oldestTimestamp"] = stamp(since)
            if until:
                log["latestTimestamp"] = stamp(until)
            action, payload = "GetLog", {"logType": log_type, "requestId": request.request_id, "log": log}
        try:
            request.command = command_create(
                station=station, action=action, payload=payload, requested_by=requested_by
            )
        except CommandError as exc:
            raise FleetError(str(exc)) from None
        request.save(update_fields=["command"])
        _diagnostics_event(request)
    return request


def _diagnostics_event(request: DiagnosticsRequest) -> None:
    event_publish(
        "diagnostics.updated",
        {
            "request_id": str(request.uuid),
            "station_id": request.station_id,
            "kind": request.kind,
            "status": request.status,
            "station_status": request.station_status,
        },
    )


def _secret_valid(request: DiagnosticsRequest, secret: str) -> bool:
    return (
        bool(request.secret_hash)
        and request.secret_expires_at > timezone.now()
        and password_check(secret, request.secret_hash)
    )


def diagnostics_upload_check(*, request_uuid: Any, secret: str) -> DiagnosticsRequest:
    """The request a one-time upload secret opens; raises UploadRefused when unknown, expired or used."""
    request = DiagnosticsRequest.objects.filter(uuid=request_uuid).first()
    if request is None or not _secret_valid(request, secret):
        raise UploadRefused("the upload token is unknown, expired or already used")
    return request


def diagnostics_ftp_login(*, user: str, secret: str) -> DiagnosticsRequest:
    """The request one-time FTP credentials open; raises UploadRefused otherwise."""
    request = DiagnosticsRequest.objects.filter(ftp_user=user, transport="ftp").first() if user else None
    if request is None or not _secret_valid(request, secret):
        raise UploadRefused("the FTP credentials are unknown, expired or already used")
    return request


def diagnostics_upload_receive(
    *, request_uuid: Any, secret: str, file: File, file_name: str, size: int
) -> DiagnosticsRequest:
    """Store the file a station uploaded with its one-time secret, which is then used up.

    Raises UploadRefused (unknown, expired or used secret) or UploadTooLarge; nothing is stored then.
    """
    if size > settings.FLEET_UPLOAD_MAX_BYTES:
        raise UploadTooLarge(f"uploads are limited to {settings.FLEET_UPLOAD_MAX_BYTES} bytes")
    with transaction.atomic():
        request = DiagnosticsRequest.objects.select_for_update().filter(uuid=request_uuid).first()
        if request is None or not _secret_valid(request, secret):
            raise UploadRefused("the upload token is unknown, expired or already used")
        name = (file_name or "upload.log").replace("\\", "/").rsplit("/", 1)[-1][:150] or "upload.log"
        request.file.save(f"{request.station.identity}/{request.uuid.hex[:8]}-{name}", file, save=False)
        request.file_name, request.size = name, size
        request.secret_hash = ""  # one time
        request.status, request.uploaded_at, request.error = (
            DiagnosticsRequest.Status.RECEIVED,
            timezone.now(),
            "",
        )
        request.save()
        _diagnostics_event(request)
        _campaign_diagnostics_follow(request)
    return request


def _campaign_diagnostics_follow(request: DiagnosticsRequest) -> None:
    """Move the diagnostics campaign step waiting for `request`, if any: a received file succeeds,
    a failed upload fails the attempt (retried while retries are left), an upload under way shows."""
    row = (
        CampaignStation.objects.select_for_update(of=("self",))
        .select_related("campaign", "station")
        .filter(diagnostics=request, status__in=CampaignStation.ACTIVE)
        .first()
    )
    if row is None:
        return
    campaign = row.campaign
    if request.station_status:
        row.last_report, row.last_report_at = request.station_status[:40], timezone.now()
    if request.status == DiagnosticsRequest.Status.RECEIVED:
        _station_succeed(campaign, row, f"uploaded {request.file_name} ({request.size} bytes)")
    elif request.status == DiagnosticsRequest.Status.FAILED:
        _station_fail(campaign, row, request.error or "the upload failed")
    else:
        if request.status == DiagnosticsRequest.Status.UPLOADING and row.status != row.Status.UPLOADING:
            row.status = CampaignStation.Status.UPLOADING
            _timeline(campaign, "uploading", station=row.station)
        row.save()
        _station_event(campaign, row)


@transaction.atomic
def diagnostics_command_finished(*, command_uuid: str) -> int:
    """A log request the station accepted with AcceptedCanceled: it cancelled the upload it was busy
    with (2.0.1 N01), so the station's earlier log requests still waiting or uploading fail with
    that reason. Returns how many."""
    request = (
        DiagnosticsRequest.objects.select_related("command")
        .filter(command__uuid=command_uuid, kind=DiagnosticsRequest.Kind.LOG)
        .first()
    )
    if request is None or request.command is None:
        return 0
    if (request.command.response or {}).get("status") != "AcceptedCanceled":
        return 0
    cancelled = 0
    for earlier in DiagnosticsRequest.objects.select_for_update().filter(
        station_id=request.station_id,
        kind=DiagnosticsRequest.Kind.LOG,
        created_at__lt=request.created_at,
        status__in=(DiagnosticsRequest.Status.REQUESTED, DiagnosticsRequest.Status.UPLOADING),
    ):
        earlier.status = DiagnosticsRequest.Status.FAILED
        earlier.error = "the station cancelled this upload for a newer log request"
        earlier.secret_hash = ""
        earlier.save(update_fields=["status", "error", "secret_hash"])
        _diagnostics_event(earlier)
        cancelled += 1
    return cancelled


@transaction.atomic
def diagnostics_station_report(*, station_id: int, kind: str, status: str, request_id: int | None) -> None:
    """Follow DiagnosticsStatusNotification / LogStatusNotification on the latest matching request."""
    requests = DiagnosticsRequest.objects.select_for_update().filter(station_id=station_id, kind=kind)
    if kind == DiagnosticsRequest.Kind.LOG and request_id is not None:
        requests = requests.filter(request_id=request_id)
    request = requests.order_by("-created_at").first()
    if request is None:
        return
    request.station_status = status[:40]
    if request.status != DiagnosticsRequest.Status.RECEIVED:
        if status in UPLOAD_FAILURES:
            request.status, request.error = DiagnosticsRequest.Status.FAILED, f"the station reported {status}"
            request.secret_hash = ""
        elif status == "Uploading":
            request.status = DiagnosticsRequest.Status.UPLOADING
        elif status not in UPLOAD_PROGRESS:
            request.error = f"the station reported an unknown status {status!r}"[:300]
    request.save()
    _diagnostics_event(request)
    _campaign_diagnostics_follow(request)


def diagnostics_prune(*, older_than_days: int) -> int:
    """Delete diagnostics requests and their files older than `older_than_days`; returns how many."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    count = 0
    for request in DiagnosticsRequest.objects.filter(created_at__lt=cutoff).iterator():
        if request.file:
            request.file.delete(save=False)
        request.delete()
        count += 1
    return count


# ---- publishing firmware on a Local Controller (OCPP 2.0.1 L03, L04) ------------------------

# PublishFirmwareStatusNotification statuses: on the way, and the failures with what they mean.
PUBLISH_PROGRESS = {"DownloadScheduled", "Downloading", "Downloaded", "DownloadPaused", "ChecksumVerified"}
PUBLISH_FAILURES = {
    "DownloadFailed": "the download failed",
    "InvalidChecksum": "the downloaded image did not match its MD5 checksum",
    "PublishFailed": "the station could not publish the image",
}
COMMAND_NOT_DONE = ("rejected", "error", "timed_out", "expired")


def firmware_image_md5(*, image: FirmwareImage) -> str:
    """The MD5 of the image's bytes, which PublishFirmware and UnpublishFirmware name it by."""
    digest = hashlib.md5(usedforsecurity=False)
    with image.file.storage.open(image.file.name, "rb") as handle:
        for chunk in iter(partial(handle.read, 64 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _publication_event(publication: FirmwarePublication) -> None:
    event_publish(
        "firmware_publication.updated",
        {
            "publication_id": str(publication.uuid),
            "station_id": publication.station_id,
            "image_id": publication.image_id,
            "status": publication.status,
            "station_status": publication.station_status,
            "locations": publication.locations,
            "unpublish_status": publication.unpublish_status,
        },
    )


def firmware_publish(
    *,
    station: Station,
    image: FirmwareImage,
    retries: int | None = None,
    retry_interval: int | None = None,
    requested_by: Any = None,
) -> FirmwarePublication:
    """Ask a Local Controller (an OCPP 2.0.1 station) to download `image` from its signed link and
    publish it to the stations behind it: PublishFirmware with the image's MD5 and a fresh requestId.

    Raises FleetError for a station that does not speak 2.0.1, negative retries or retry interval,
    or a station that cannot be commanded; nothing is stored then.
    """
    if station.ocpp_version != "2.0.1":
        raise FleetError("only OCPP 2.0.1 stations (Local Controllers) publish firmware")
    for name, value in (("retries", retries), ("retry_interval", retry_interval)):
        if value is not None and value < 0:
            raise FleetError(f"{name} must not be negative")
    checksum = firmware_image_md5(image=image)
    location = firmware_download_url(image=image, station=station)
    with transaction.atomic():
        publication = FirmwarePublication.objects.create(
            station=station,
            image=image,
            request_id=secrets.randbelow(2**31 - 1) + 1,
            location=location,
            checksum=checksum,
            requested_by=requested_by,
        )
        payload: dict[str, Any] = {
            "location": location,
            "checksum": checksum,
            "requestId": publication.request_id,
        }
        if retries is not None:
            payload["retries"] = retries
        if retry_interval is not None:
            payload["retryInterval"] = retry_interval
        try:
            publication.command = command_create(
                station=station, action="PublishFirmware", payload=payload, requested_by=requested_by
            )
        except CommandError as exc:
            raise FleetError(str(exc)) from None
        publication.save(update_fields=["command"])
        _publication_event(publication)
    return publication


def firmware_unpublish(*, publication: FirmwarePublication, requested_by: Any = None) -> FirmwarePublication:
    """Ask the Local Controller to stop publishing the image (UnpublishFirmware with its MD5); its
    answer (Unpublished, NoFirmware, DownloadOngoing) is kept on the publication.

    Raises FleetError when the station cannot be commanded; nothing changes then.
    """
    with transaction.atomic():
        publication = (
            FirmwarePublication.objects.select_for_update(of=("self",))
            .select_related("station")
            .get(pk=publication.pk)
        )
        try:
            publication.unpublish_command = command_create(
                station=publication.station,
                action="UnpublishFirmware",
                payload={"checksum": publication.checksum},
                requested_by=requested_by,
            )
        except CommandError as exc:
            raise FleetError(str(exc)) from None
        publication.unpublish_status = ""
        publication.save(update_fields=["unpublish_command", "unpublish_status", "updated_at"])
        _publication_event(publication)
    return publication


@transaction.atomic
def firmware_publication_station_report(
    *, station_id: int, status: str, request_id: int | None, locations: list[Any] | None = None
) -> None:
    """Follow a PublishFirmwareStatusNotification on the publication of its requestId (the station's
    latest when it names none): Published keeps the URIs it serves the image at, DownloadFailed,
    InvalidChecksum and PublishFailed fail it, an unknown status is noted and changes nothing."""
    publications = FirmwarePublication.objects.select_for_update().filter(station_id=station_id)
    if request_id is not None:
        publications = publications.filter(request_id=request_id)
    publication = publications.order_by("-created_at").first()
    if publication is None:
        return
    publication.station_status = status[:40]
    if status == "Published":
        publication.status = FirmwarePublication.Status.PUBLISHED
        publication.locations = [str(uri)[:512] for uri in locations or []]
        publication.error = ""
    elif status in PUBLISH_FAILURES:
        publication.status = FirmwarePublication.Status.FAILED
        publication.error = f"{status}: {PUBLISH_FAILURES[status]}"
        publication.locations = []
    elif status in PUBLISH_PROGRESS:
        publication.status = FirmwarePublication.Status.IN_PROGRESS
    elif status != "Idle":
        publication.error = f"the station reported an unknown status {status!r}"[:300]
    publication.save()
    _publication_event(publication)


@transaction.atomic
def firmware_publication_command_finished(*, command_uuid: str, status: str) -> None:
    """The final answer to a publication's command: PublishFirmware refused or unanswered marks it
    refused; UnpublishFirmware's status is kept, and Unpublished withdraws the published URIs."""
    if status not in ("accepted", *COMMAND_NOT_DONE):
        return
    publication = (
        FirmwarePublication.objects.select_for_update(of=("self",))
        .select_related("command", "unpublish_command")
        .filter(Q(command__uuid=command_uuid) | Q(unpublish_command__uuid=command_uuid))
        .first()
    )
    if publication is None:
        return
    unpublish = publication.unpublish_command
    command = unpublish if unpublish and str(unpublish.uuid) == command_uuid else publication.command
    assert command is not None
    response = command.response if isinstance(command.response, dict) else {}
    answer = str(response.get("status") or "")
    if command.action == "PublishFirmware":
        if status == "accepted" or publication.status != FirmwarePublication.Status.REQUESTED:
            return
        publication.status = FirmwarePublication.Status.REFUSED
        publication.error = f"the station's answer: {status} {answer or command.error}".strip()[:300]
    else:
        publication.unpublish_status = answer[:20] if answer else status
        if answer == "Unpublished":
            publication.status = FirmwarePublication.Status.UNPUBLISHED
            publication.locations = []
    publication.save()
    _publication_event(publication)
