"""Celery tasks of fleet operations (the beat schedule is in settings: fleet-campaigns-advance, …)."""

from celery import shared_task
from django.conf import settings

from fleet import services


@shared_task(name="fleet.campaigns_advance_task")
def campaigns_advance_task() -> int:
    """The beat tick: advance every campaign with work to do (idempotent, any number of workers)."""
    return services.campaigns_advance_due()


@shared_task(name="fleet.campaign_advance_task")
def campaign_advance_task(campaign_id: int) -> None:
    """Advance one campaign now (queued after a station reported; the tick covers a lost one)."""
    services.campaign_advance(campaign_id=campaign_id)


@shared_task(name="fleet.diagnostics_prune_task")
def diagnostics_prune_task() -> int:
    """Delete diagnostics and log files older than FLEET_DIAGNOSTICS_RETENTION_DAYS."""
    return services.diagnostics_prune(older_than_days=settings.FLEET_DIAGNOSTICS_RETENTION_DAYS)
