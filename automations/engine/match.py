"""Which recipes an event starts: one indexed query (recipe_dispatch_idx)."""

from automations.models import Event, Recipe


def matching_recipes(event: Event):
    """Enabled recipes of the event's connection and type, as (id, version) rows.

    A recipe paused while its shop needs reconnecting still gets its runs: they wait at their
    first call and resume on reconnect, so no event of the pause is lost.
    """
    return Recipe.objects.filter(
        connection_id=event.connection_id, event_type=event.event_type, enabled=True
    ).order_by().values_list("id", "version")  # no Meta.ordering: the order is not needed
