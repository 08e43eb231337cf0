"""Smart charging's Celery tasks: they take ids and call one service."""

from celery import shared_task

from smartcharging import services


@shared_task(name="smartcharging.site_rebalance_task", acks_late=True, reject_on_worker_lost=True)
def site_rebalance_task(location_id: int, trigger: str = "") -> int:
    """Share a site's capacity among its sessions again; returns how many limits changed."""
    return len(services.site_rebalance(location_id=location_id, trigger=trigger))


@shared_task(name="smartcharging.site_rebalance_due_task", ignore_result=True)
def site_rebalance_due_task() -> int:
    """Run the rebalances whose enqueue was lost (beat, every SMART_REBALANCE_SWEEP seconds)."""
    due = services.site_rebalance_due()
    for location_id in due:
        services.site_rebalance(location_id=location_id, trigger="sweep")
    return len(due)


@shared_task(name="smartcharging.schedules_apply_task", ignore_result=True)
def schedules_apply_task() -> int:
    """Apply the schedule rules as of now (beat, every SMART_SCHEDULE_TICK seconds)."""
    return services.schedules_apply()
