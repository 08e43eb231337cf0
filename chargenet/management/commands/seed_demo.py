"""Create the demo operator, location, stations and RFID cards, once (idempotent)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from chargenet.demo import demo_seed


class Command(BaseCommand):
    help = "Create demo data for the embedded mode: an operator login, a location, stations and cards."

    def handle(self, *args, **options):
        login = demo_seed(stations=settings.DEMO_STATIONS)
        self.stdout.write(f"Demo login: {login.username} / {login.password}")
