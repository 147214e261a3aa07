"""`manage.py sandbox_rotate_secret [--secret S] [--json] --settings=sandbox.settings`.

Gives the engine's OAuth app a new client secret, as rotating it in Cartly's app settings
would; deliveries are signed with the new one from then on. Secrets are printed only with
--json, as sandbox_seed does.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from sandbox.secrets_rotation import NoApplication, rotate_client_secret


class Command(BaseCommand):
    help = "Rotate the engine app's client secret (the key deliveries are signed with)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--secret", help="the new secret (default: a random one)")
        parser.add_argument(
            "--json", action="store_true", help="print the client id and both secrets as JSON"
        )

    def handle(self, *args, secret: str | None, **options) -> None:
        if secret is not None and not secret.strip():
            raise CommandError("--secret must not be empty")
        try:
            rotation = rotate_client_secret(secret)
        except NoApplication as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            self.stdout.write(json.dumps(rotation.as_dict(), indent=2))
        else:
            self.stdout.write(
                f"Rotated the client secret of {rotation.client_id}; --json prints it."
            )
