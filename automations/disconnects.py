"""Disconnecting a shop without losing track of its recipes, and getting them back.

A disconnect switches every recipe of the shop off and marks them (`off_by_disconnect`, set in
subscriptions.connection_disconnected). Before it, the merchant is shown what will be switched
off; after reconnecting the same shop, they are offered exactly those recipes back in one
click, or can leave them off. Plain functions the connection pages call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.utils import timezone

from automations.models import Recipe
from automations.subscriptions import CannotEnable, enable_recipe
from connectors import connections
from connectors.models import Connection


def live_recipes(connection: Connection) -> QuerySet:
    return Recipe.objects.filter(connection=connection, deleted_at__isnull=True)


def recipes_a_disconnect_would_stop(connection: Connection) -> list[Recipe]:
    """The recipes that are on now: a disconnect switches each of them off."""
    return list(live_recipes(connection).filter(enabled=True).order_by("name", "id"))


def recipes_to_offer_back(connection: Connection) -> list[Recipe]:
    """What the last disconnect switched off and nobody has turned on or dismissed since.

    Offered only once the shop is connected again: before that they could not run.
    """
    if not connection.is_active:
        return []
    return list(
        live_recipes(connection)
        .filter(off_by_disconnect=True, enabled=False)
        .order_by("name", "id")
    )


def disconnect(connection: Connection) -> tuple[list[Recipe], list[str]]:
    """Disconnect the shop; (the recipes it switched off, problems met at Cartly)."""
    stopping = recipes_a_disconnect_would_stop(connection)
    problems = connections.disconnect(connection)
    return stopping, problems


@dataclass
class TurnedBackOn:
    recipes: list[Recipe] = field(default_factory=list)
    refused: list[tuple[Recipe, str]] = field(default_factory=list)


def turn_back_on(connection: Connection) -> TurnedBackOn:
    """Switch on every recipe the disconnect switched off (which clears its reason)."""
    outcome = TurnedBackOn()
    for recipe in recipes_to_offer_back(connection):
        try:
            enable_recipe(recipe)
        except CannotEnable as exc:
            outcome.refused.append((recipe, str(exc)))
        else:
            outcome.recipes.append(recipe)
    return outcome


def leave_off(connection: Connection) -> int:
    """The merchant keeps them off: forget the offer and the now-stale "disconnected" reason."""
    if not connection.is_active:
        return 0
    marked = live_recipes(connection).filter(off_by_disconnect=True, enabled=False)
    return marked.update(off_by_disconnect=False, paused_reason="", updated_at=timezone.now())
