"""Which recipes an event starts: one indexed query for a whole batch (recipe_dispatch_idx)."""

from collections import defaultdict
from typing import Any

from automations.engine import sql
from automations.models import Recipe


def matching_query(pairs: set[tuple[int, str]]) -> tuple[str, list[Any]]:
    """The enabled recipes of these (connection, event type) pairs' connections and types,
    as SQL and its parameters (plain SQL: it runs for every dispatched batch).

    No ORDER BY: the runs of one event are independent, and a sort is work the index does not
    need. The three conditions are all columns of recipe_dispatch_idx (connection first).
    """
    connections = sorted({connection for connection, _ in pairs})
    types = sorted({event_type for _, event_type in pairs})
    return (
        f"SELECT connection_id, event_type, id, version FROM {Recipe._meta.db_table} "
        f"WHERE connection_id IN ({sql.marks(len(connections))}) AND enabled = %s "
        f"AND event_type IN ({sql.marks(len(types))})",
        [*connections, True, *types],
    )


def matching_recipes(pairs: set[tuple[int, str]]) -> dict[tuple[int, str], list[tuple]]:
    """Enabled recipes of each (connection, event type), as (id, version) lists.

    A recipe paused while its shop needs reconnecting still gets its runs: they wait at their
    first call and resume on reconnect, so no event of the pause is lost.
    """
    if not pairs:
        return {}
    found: dict[tuple[int, str], list[tuple]] = defaultdict(list)
    for connection_id, event_type, recipe_id, version in sql.fetch(*matching_query(pairs)):
        if (connection_id, event_type) in pairs:  # the IN lists cross the pairs
            found[(connection_id, event_type)].append((recipe_id, version))
    return found
