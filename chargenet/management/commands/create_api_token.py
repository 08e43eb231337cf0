"""Print a new API key for a user (a public contract, docs/api.md)."""

from django.core.management.base import BaseCommand, CommandError

from chargenet.api.models import ApiKey
from chargenet.api.services import ApiKeyError
from chargenet.services import UserNotFound, api_token_create


class Command(BaseCommand):
    help = (
        "Create an API key for <username> and print it (use it as `Authorization: Token <key>`). "
        "Keys are stored hashed: the key is shown only this once."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="create_api_token", help="What the key is for")
        parser.add_argument(
            "--role",
            choices=ApiKey.Role.values,
            help="read or operate (default: operate for admins and operators, read for others)",
        )

    def handle(self, *args, username, name, role, **options):
        try:
            key = api_token_create(username=username, name=name, role=role)
        except (UserNotFound, ApiKeyError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(key)
