"""Which recipes an event starts: one indexed query for a whole batch (recipe_dispatch_idx)."""

from collections import defaultdict

from django.db.models import QuerySet

from automations.models import Recipe


def matching_query(pairs: set[tuple[int, str]]) -> QuerySet:
    """The enabled recipes of these (connection, event type) pairs' connections and types.

    No ORDER BY: the runs of one event are independent, and a sort is work the index does not
    need. The three conditions are all columns of recipe_dispatch_idx (connection first).
    """
    return (
        Recipe.objects.filter(
            connection_id__in={connection for connection, _ in pairs},
            enabled=True,
            event_type__in={event_type for _, event_type in pairs},
        )
        .order_by()
        .values_list("connection_id", "event_type", "id", "version")
    )


def matching_recipes(pairs: set[tuple[int, str]]) -> dict[tuple[int, str], list[tuple]]:
    """Enabled recipes of each (connection, event type), as (id, version) lists.

    A recipe paused while its shop needs reconnecting still gets its runs: they wait at their
    first call and resume on reconnect, so no event of the pause is lost.
    """
    if not pairs:
        return {}
    found: dict[tuple[int, str], list[tuple]] = defaultdict(list)
    for connection_id, event_type, recipe_id, version in matching_query(pairs):
        if (connection_id, event_type) in pairs:  # the IN lists cross the pairs
            found[(connection_id, event_type)].append((recipe_id, version))
    return found
