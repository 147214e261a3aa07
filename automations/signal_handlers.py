"""What a connection's fate means for recipes and subscriptions (connectors/signals.py).

Connected in AutomationsConfig.ready(): connectors send the signals and know nothing of us.
"""

from django.dispatch import receiver

from automations import subscriptions
from automations.models import Recipe, Subscription
from automations.signals import recipe_tripped
from connectors.models import Connection
from connectors.signals import (
    connection_connected,
    connection_disconnected,
    connection_needs_reconnect,
    hooks_owned_by,
)


@receiver(connection_disconnected, dispatch_uid="automations.connection_disconnected")
def on_connection_disconnected(sender, connection: Connection, **kwargs) -> None:
    subscriptions.connection_disconnected(connection)


@receiver(connection_needs_reconnect, dispatch_uid="automations.connection_needs_reconnect")
def on_connection_needs_reconnect(sender, connection: Connection, **kwargs) -> None:
    subscriptions.connection_needs_reconnect(connection)


@receiver(connection_connected, dispatch_uid="automations.connection_connected")
def on_connection_connected(sender, connection: Connection, **kwargs) -> None:
    from automations.resume import resume_connection  # imports the engine: only when needed

    resume_connection(connection)


@receiver(recipe_tripped, dispatch_uid="automations.recipe_tripped")
def on_recipe_tripped(sender, recipe_id: int, **kwargs) -> None:
    """A recipe failed its limit of runs in a row: switch it off and say why."""
    recipe = Recipe.objects.filter(pk=recipe_id, enabled=True).first()
    if recipe is None:
        return
    subscriptions.disable_recipe(recipe)
    Recipe.objects.filter(pk=recipe_id).update(
        paused_reason=f"Switched off after {recipe.consecutive_failures} failed runs in a row."
    )


@receiver(hooks_owned_by, dispatch_uid="automations.hooks_owned_by")
def on_hooks_owned_by(sender, connection: Connection, **kwargs) -> tuple[set[str], set[str]]:
    rows = Subscription.objects.filter(connection=connection).values_list("token", "remote_id")
    return {token for token, _ in rows}, {remote_id for _, remote_id in rows if remote_id}
