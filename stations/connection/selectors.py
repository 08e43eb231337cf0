from stations.connection.models import Command


def commands_waiting(*, station_id: int) -> bool:
    """Whether the station has a command queued, or one sent and not yet finished (which may be
    overdue): what `command_claim_next` would look at. Nearly every connecting station has none, so
    this read (on the database pool) spares the writer's turn the claim's three queries."""
    return Command.objects.filter(
        station_id=station_id, status__in=(Command.Status.QUEUED, Command.Status.SENT)
    ).exists()
