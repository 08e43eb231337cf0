from chargenet import sql
from stations.connection.models import Command

# Compiled once (chargenet/sql.py): every reconnecting station asks it, thousands a minute in a storm,
# where the ORM's building of it was a seventh of a web process's CPU. Only the id is read: the
# question is whether one exists, not its payload.
_commands_open = sql.Select(Command, where=["station_id", "status__in"], only={"": ["id"]})


def commands_waiting(*, station_id: int) -> bool:
    """Whether the station has a command queued, or one sent and not yet finished (which may be
    overdue): what `command_claim_next` would look at. Nearly every connecting station has none, so
    this read (on the database pool) spares the writer's turn the claim's three queries."""
    return bool(_commands_open.many(station_id, [Command.Status.QUEUED, Command.Status.SENT], limit=1))
