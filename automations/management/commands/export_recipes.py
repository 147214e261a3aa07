"""Write recipes as documents (docs/recipes.md): stdout by default, or a file."""

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from automations.documents import EXPORT_FORMAT, document_for_version
from automations.models import Recipe


class Command(BaseCommand):
    help = "Export recipes as JSON documents (no tokens or connection details)."

    def add_arguments(self, parser):
        parser.add_argument("--user", help="Only this user's recipes (default: everyone's).")
        parser.add_argument("--output", help="Write to this file instead of stdout.")

    def handle(self, *args, **options):
        recipes = Recipe.objects.order_by("owner_id", "name", "id")
        if options["user"]:
            User = get_user_model()
            if not User.objects.filter(**{User.USERNAME_FIELD: options["user"]}).exists():
                raise CommandError(f"No user {options['user']!r}")
            recipes = recipes.filter(**{f"owner__{User.USERNAME_FIELD}": options["user"]})
        # A document holds only the recipe itself, so nothing secret can leave this way.
        export = {
            "format": EXPORT_FORMAT,
            "recipes": [document_for_version(r, r.version) for r in recipes],
        }
        text = json.dumps(export, indent=2, ensure_ascii=False) + "\n"
        if not options["output"]:
            self.stdout.write(text, ending="")
            return
        try:
            with open(options["output"], "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            raise CommandError(f"Cannot write {options['output']}: {exc.strerror}") from None
        self.stderr.write(f"Exported {len(export['recipes'])} recipe(s) to {options['output']}")
