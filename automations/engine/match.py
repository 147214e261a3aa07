"""Which recipes an event starts: one indexed query (recipe_dispatch_idx)."""

from automations.models import Event, Recipe


def matching_recipes(event: Event):
    """Enabled, unpaused recipes of the event's connection and type, as (id, version) rows."""
    return Recipe.objects.filter(
        connection_id=event.connection_id,
        event_type=event.event_type,
        enabled=True,
        paused_reason="",
    ).values_list("id", "version")
