"""Periodic OCPP housekeeping (Celery beat, CELERY_BEAT_SCHEDULE in settings)."""

from celery import shared_task
from django.conf import settings

from stations import services


@shared_task(name="stations.station_mark_offline_task")
def station_mark_offline_task() -> int:
    """Mark stations offline that were silent for 2 × heartbeat interval + OCPP_OFFLINE_GRACE."""
    return len(services.station_mark_offline())


@shared_task(name="stations.command_expire_task")
def command_expire_task() -> int:
    """Expire queued commands past their expiry; time out sent ones left unanswered by a dead node;
    nudge again the connections whose queued commands lost their nudge."""
    services.commands_nudge_stale()
    return services.command_expire()


@shared_task(name="stations.ocpp_message_prune_task")
def ocpp_message_prune_task() -> int:
    """Delete logged OCPP frames older than OCPP_MESSAGE_RETENTION_DAYS."""
    return services.ocpp_messages_prune(older_than_days=settings.OCPP_MESSAGE_RETENTION_DAYS)


@shared_task(name="stations.alert_mail_task")
def alert_mail_task() -> int:
    """E-mail opted-in operators about new alert occurrences (each occurrence once)."""
    from stations.alerts.services import alert_mail_new

    return alert_mail_new()


@shared_task(name="stations.certificate_expiry_check_task")
def certificate_expiry_check_task() -> int:
    """Warn (security event → alert) about station certificates close to expiry; runs daily."""
    from stations.certificates.services import certificate_expiry_check

    return certificate_expiry_check()
