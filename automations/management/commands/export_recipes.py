"""Write recipes as documents (docs/recipes.md): stdout by default, or a file."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from automations.models import Recipe
from automations.transfer import as_file_text, export_of


class Command(BaseCommand):
    help = "Export recipes (not those in the trash) as JSON documents, without tokens or shops."

    def add_arguments(self, parser):
        parser.add_argument("--user", help="Only this user's recipes (default: everyone's).")
        parser.add_argument("--output", help="Write to this file instead of stdout.")

    def handle(self, *args, **options):
        recipes = Recipe.objects.filter(deleted_at__isnull=True).order_by("owner_id", "name", "id")
        if options["user"]:
            User = get_user_model()
            if not User.objects.filter(**{User.USERNAME_FIELD: options["user"]}).exists():
                raise CommandError(f"No user {options['user']!r}")
            recipes = recipes.filter(**{f"owner__{User.USERNAME_FIELD}": options["user"]})
        # A document holds only the recipe itself, so nothing secret can leave this way.
        export = export_of(recipes)
        text = as_file_text(export)
        if not options["output"]:
            self.stdout.write(text, ending="")
            return
        try:
            with open(options["output"], "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            raise CommandError(f"Cannot write {options['output']}: {exc.strerror}") from None
        self.stderr.write(f"Exported {len(export['recipes'])} recipe(s) to {options['output']}")
