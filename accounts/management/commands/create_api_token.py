"""Create an API token for a user and print it; the raw token is shown only this once."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.models import ApiToken


class Command(BaseCommand):
    help = "Create an API token (Authorization: Bearer <token>) and print it once."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="Username of the token's owner.")
        parser.add_argument("--name", default="command line", help="What the token is for.")

    def handle(self, *args, **options):
        User = get_user_model()
        try:
            user = User.objects.get(**{User.USERNAME_FIELD: options["user"]})
        except User.DoesNotExist:
            raise CommandError(f"No user {options['user']!r}") from None
        name = options["name"].strip()
        if not name:
            raise CommandError("--name must not be empty")
        _, raw = ApiToken.create_for(user, name[:100])
        # Only the token on stdout, so `TOKEN=$(manage.py create_api_token ...)` works.
        self.stdout.write(raw)
        self.stderr.write("Keep it safe: the token is not stored and cannot be shown again.")
