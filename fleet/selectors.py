"""Reads of fleet operations that join or aggregate: campaign overviews, a station's history."""

from typing import Any

from django.db.models import Count, Q, QuerySet

from fleet.models import (
    Campaign,
    CampaignEvent,
    CampaignStation,
    DiagnosticsRequest,
    FirmwareImage,
    FirmwarePublication,
)
from stations.models import Station


def campaign_list() -> QuerySet[Campaign]:
    """Campaigns, newest first, with their image and counts of stations by outcome."""
    return Campaign.objects.select_related("image").annotate(
        total=Count("stations"),
        succeeded=Count("stations", filter=Q(stations__status=CampaignStation.Status.SUCCEEDED)),
        failed=Count("stations", filter=Q(stations__status=CampaignStation.Status.FAILED)),
    )


def image_list() -> QuerySet[FirmwareImage]:
    return FirmwareImage.objects.all()


def campaign_waves(*, campaign: Campaign) -> list[dict[str, Any]]:
    """Each wave with its stations (and their step) and counts by status."""
    rows = list(
        campaign.stations.select_related("station", "diagnostics").order_by("wave", "station__identity")
    )
    waves: dict[int, dict[str, Any]] = {}
    for row in rows:
        wave = waves.setdefault(row.wave, {"number": row.wave, "stations": [], "counts": {}})
        wave["stations"].append(row)
        wave["counts"][row.status] = wave["counts"].get(row.status, 0) + 1
    for wave in waves.values():
        wave["total"] = len(wave["stations"])
        wave["state"] = (
            "done"
            if all(r.status in CampaignStation.FINAL for r in wave["stations"])
            else "current"
            if wave["number"] <= campaign.current_wave
            else "waiting"
        )
    return list(waves.values())


def campaign_counts(*, campaign: Campaign) -> dict[str, int]:
    counts = {s: 0 for s in CampaignStation.Status.values}
    for row in campaign.stations.values("status").annotate(n=Count("id")).order_by():
        counts[row["status"]] = row["n"]
    counts["total"] = sum(counts.values())
    return counts


def campaign_timeline(*, campaign: Campaign, limit: int = 200) -> QuerySet[CampaignEvent]:
    return campaign.events.select_related("station")[:limit]


def station_firmware_history(*, station: Station, limit: int = 20) -> QuerySet[CampaignStation]:
    """The station's firmware updates in campaigns, newest first."""
    return (
        CampaignStation.objects.filter(station=station)
        .select_related("campaign__image")
        .order_by("-campaign__created_at")[:limit]
    )


def station_diagnostics(*, station: Station, limit: int = 20) -> QuerySet[DiagnosticsRequest]:
    return DiagnosticsRequest.objects.filter(station=station).select_related("requested_by")[:limit]


def station_firmware_publications(*, station: Station) -> QuerySet[FirmwarePublication]:
    """The firmware the station (a Local Controller) was asked to publish, newest first, with the image."""
    return FirmwarePublication.objects.filter(station=station).select_related("image", "station")
