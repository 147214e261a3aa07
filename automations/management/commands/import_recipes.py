"""Import recipe documents (one document, or export_recipes' wrapper) as disabled recipes.

All or nothing: every document is validated first, every problem is listed, and the recipes
are created in one transaction. `--enable` turns them on only after that commit, because
enabling talks to Cartly and must not hold a database transaction open.
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from automations.documents import create_recipe
from automations.models import Recipe
from automations.transfer import ImportRefused, parse_file, problems_of
from connectors.models import Connection


def read_documents(path: str) -> list[Any]:
    """The documents in a file: a single recipe document or an export wrapper."""
    try:
        with open(path, "rb") as fh:
            return parse_file(fh.read(), upload=False)
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}") from None
    except ImportRefused as exc:
        raise CommandError(f"{path}: {exc}") from None


def pick_connection(user, wanted: str | None) -> Connection:
    """The connection named by id, shop domain or shop id; else the user's only active one."""
    connections = Connection.objects.filter(owner=user)
    if wanted:
        by_id = connections.filter(pk=int(wanted)) if wanted.isdigit() else connections.none()
        found = (
            list(by_id)
            or list(connections.filter(shop_domain=wanted))
            or list(connections.filter(shop_id=wanted))
        )
        if not found:
            raise CommandError(f"{user} has no connection {wanted!r}")
        return found[0]
    active = list(connections.filter(status=Connection.Status.ACTIVE))
    if len(active) == 1:
        return active[0]
    if not active:
        raise CommandError(f"{user} has no active connection: connect a shop first")
    domains = ", ".join(c.shop_domain for c in active)
    raise CommandError(
        f"{user} has {len(active)} active connections ({domains}); choose one with --connection"
    )


class Command(BaseCommand):
    help = "Import recipe documents for a user; invalid files import nothing."

    def add_arguments(self, parser):
        parser.add_argument("file", help="A recipe document or an export_recipes file.")
        parser.add_argument("--user", required=True, help="Username of the new recipes' owner.")
        parser.add_argument("--connection", help="Connection id, shop domain or shop id.")
        parser.add_argument("--enable", action="store_true", help="Turn the recipes on.")

    def handle(self, *args, **options):
        User = get_user_model()
        try:
            user = User.objects.get(**{User.USERNAME_FIELD: options["user"]})
        except User.DoesNotExist:
            raise CommandError(f"No user {options['user']!r}") from None
        documents = read_documents(options["file"])
        connection = pick_connection(user, options["connection"])
        self.check_all(documents)
        with transaction.atomic():
            recipes = [create_recipe(user, connection, doc) for doc in documents]
        for recipe in recipes:
            self.stdout.write(f"Imported recipe {recipe.pk}: {recipe.name}")
        if options["enable"]:
            self.enable(recipes)

    def check_all(self, documents: list[Any]) -> None:
        lines = [f"  {line}" for line in problems_of(documents)]
        if lines:
            raise CommandError("Nothing imported; fix these problems:\n" + "\n".join(lines))

    def enable(self, recipes: list[Recipe]) -> None:
        # Imported lazily: subscriptions talks to Cartly; importing alone must not need it.
        from automations.subscriptions import enable_recipe

        failed = []
        for recipe in recipes:
            try:
                enable_recipe(recipe)
            except Exception as exc:  # noqa: BLE001 - report every recipe, then fail once
                failed.append(f"  {recipe.name}: {exc}")
            else:
                self.stdout.write(f"Enabled recipe {recipe.pk}: {recipe.name}")
        if failed:
            raise CommandError("Imported, but could not enable:\n" + "\n".join(failed))
