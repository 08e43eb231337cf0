"""Celery tasks of the OCPI interface: deliver pushes, send command results, sweep what is due."""

from celery import shared_task

from ocpi import services


@shared_task(bind=True, name="ocpi.push_deliver_task", max_retries=None)
def push_deliver_task(self, partner_id: int, object_key: str) -> str:
    """Send a partner's pending pushes of one object in order; retry with back-off. Idempotent."""
    wait = services.push_deliver(partner_id=partner_id, object_key=object_key)
    if wait is not None:
        raise self.retry(countdown=wait)
    return "done"


@shared_task(name="ocpi.push_sweep_task")
def push_sweep_task() -> int:
    """Enqueue delivery of every due pending push (a partner back online, a lost task)."""
    due = services.pushes_due()
    for partner_id, object_key in due:
        push_deliver_task.delay(partner_id, object_key)
    return len(due)


@shared_task(name="ocpi.command_result_send_task")
def command_result_send_task(remote_command_id: int) -> str:
    """POST an eMSP command's result to its response_url, once."""
    return services.remote_command_result_send(remote_command_id=remote_command_id)


@shared_task(name="ocpi.command_timeout_sweep_task")
def command_timeout_sweep_task() -> int:
    """Report TIMEOUT for commands whose station did not answer in time."""
    overdue = services.remote_commands_overdue()
    for remote_command_id in overdue:
        command_result_send_task.delay(remote_command_id)
    return len(overdue)


@shared_task(name="ocpi.log_prune_task")
def log_prune_task() -> int:
    """Keep the OCPI request log and the push history to OCPI_LOG_RETENTION_DAYS."""
    return services.ocpi_log_prune()


@shared_task(name="ocpi.partner_pull_task")
def partner_pull_task(partner_id: int | None = None) -> int:
    """Pull CPO partners' locations and tariffs changed since the last pull (one partner, or all)."""
    due = services.partner_pulls_due()
    return sum(
        services.partner_pull(partner_id=pk, module=module)
        for pk, module in due
        if partner_id is None or pk == partner_id
    )


@shared_task(name="ocpi.emsp_command_send_task")
def emsp_command_send_task(command_id: int) -> str:
    """Send a driver's START_SESSION/STOP_SESSION to the CPO (once; the sweep retries)."""
    return services.emsp_command_send(command_id=command_id)


@shared_task(name="ocpi.emsp_sweep_task")
def emsp_sweep_task() -> int:
    """Resend queued commands, time out unanswered ones, push cards whose expiry passed."""
    due = services.emsp_commands_due()
    for command_id in due:
        emsp_command_send_task.delay(command_id)
    return len(due) + services.emsp_tokens_expired_sync()
