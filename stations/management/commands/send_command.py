"""`manage.py send_command <identity> <action> '<json payload>' [--wait N]`: queue a station command
from any node and (optionally) wait for the station's answer."""

import json

from django.core.management.base import BaseCommand, CommandError

from stations.models import Station
from stations.services import StationError, command_create, command_wait


class Command(BaseCommand):
    help = "Send an OCPP command to a station (through the durable command queue)."

    def add_arguments(self, parser):
        parser.add_argument("identity")
        parser.add_argument("action")
        parser.add_argument("payload", nargs="?", default="{}")
        parser.add_argument("--wait", type=float, default=0, help="seconds to wait for the answer")

    def handle(self, identity, action, payload, wait, **options):
        station = Station.objects.filter(identity=identity).first()
        if station is None:
            raise CommandError(f"no station {identity!r}")
        try:
            command = command_create(station=station, action=action, payload=json.loads(payload))
        except (ValueError, StationError) as exc:
            raise CommandError(str(exc)) from None
        if wait:
            command = command_wait(command=command, timeout=wait)
        self.stdout.write(
            json.dumps(
                {"command_id": str(command.uuid), "status": command.status, "response": command.response}
            )
        )
