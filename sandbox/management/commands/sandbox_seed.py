"""`manage.py sandbox_seed --settings=sandbox.settings`: the demo merchant, shop and OAuth app.

Safe to run every time (it is idempotent). The human summary leaves the client secret out;
`--json` prints everything, and `--env-file` hands the engine its client id and secret.
"""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from sandbox.seed import SeedResult, seed, write_env_file


class Command(BaseCommand):
    help = "Create (once) the sandbox's demo merchant, shop, catalogue and the engine's OAuth app."

    def add_arguments(self, parser):
        parser.add_argument(
            "--redirect-uri",
            action="append",
            default=[],
            dest="redirect_uris",
            metavar="URI",
            help="Add this redirect URI to the OAuth app if missing (repeatable).",
        )
        parser.add_argument(
            "--json", action="store_true", help="Print every value, secrets included, as JSON."
        )
        parser.add_argument(
            "--env-file",
            type=Path,
            metavar="PATH",
            help="Also set CARTLY_CLIENT_ID and CARTLY_CLIENT_SECRET in this file (mode 0600).",
        )

    def handle(self, *args, **options):
        env_file: Path | None = options["env_file"]
        try:
            result = seed(options["redirect_uris"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if env_file is not None:
            write_env_file(
                env_file,
                {
                    "CARTLY_CLIENT_ID": result.client_id,
                    "CARTLY_CLIENT_SECRET": result.client_secret,
                },
            )
        if options["json"]:
            self.stdout.write(dump_json(result))
        else:
            self.stdout.write(summary(result, env_file))


def dump_json(result: SeedResult) -> str:
    return json.dumps(result.as_dict(), indent=2)


def summary(result: SeedResult, env_file: Path | None) -> str:
    uris = " ".join(result.redirect_uris) or "(none yet: pass --redirect-uri)"
    where = f"written to {env_file} and " if env_file else ""
    return "\n".join(
        [
            "Sandbox seeded.",
            f"  Log in at {settings.SANDBOX_BASE_URL}/login/ as "
            f"{result.username} / {result.password}",
            f"  Shop: {result.shop_domain} ({result.shop_id})",
            f"  OAuth client id: {result.client_id}",
            f"  Redirect URIs: {uris}",
            f"  The client secret is {where}printed by --json.",
        ]
    )
