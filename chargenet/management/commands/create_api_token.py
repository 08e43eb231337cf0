"""Print an API token for a user, creating it if needed (DESIGN.md §6)."""

from django.core.management.base import BaseCommand, CommandError

from chargenet.services import UserNotFound, api_token_create


class Command(BaseCommand):
    help = "Print the API token of <username> (Authorization: Token <key>), creating one if needed."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        try:
            key = api_token_create(username=username)
        except UserNotFound as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(key)
