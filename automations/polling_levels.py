"""Polling for levels that Cartly lists only inside other objects (connectors.base.PollLevels).

Inventory levels have no list endpoint (cartly-api.md, "Changelog events"): polling reads the
products changed since its cursor and compares each variant's `available` with the last value
it saw (a SeenLevel row). A difference is an event, shaped like the hook's data with the last
seen value as `previous_available`, and keyed like the hook's (event, variant id, updated_at):
the sandbox and Cartly move the product's `updated_at` to the time the hook carries, so a change
seen both ways runs once.

What polling cannot know it does not invent:
- A level it has never seen is recorded without an event (a new variant is not a change).
- So the first tick of a levels cursor, and the first after it lay unused, reads every listed
  object and only records ("the baseline"); changes from then on are events. Changes between
  turning a recipe on and that first tick are not seen.
- Two changes between two ticks are one event, from the first value to the last; a change
  undone before the next tick is none. Hooks see each change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from django.utils import timezone

from automations.models import PollCursor, SeenLevel
from connectors.base import Trigger
from connectors.cartly.client import iter_pages

log = logging.getLogger(__name__)

LEVELS = PollCursor.Kind.LEVELS
# A levels cursor's since_id once its baseline is recorded (it pages by time, never by id).
LEVELS_RECORDED = "levels recorded"
MAX_OBJECT_ID_LENGTH = 64  # SeenLevel.object_id's size


def listing_kind(trigger: Trigger) -> str:
    """The cursor kind a trigger's polling reads by; levels get their own cursor."""
    return LEVELS if trigger.poll_levels is not None else trigger.poll_filter.cursor


def needs_baseline(cursor: PollCursor) -> bool:
    return cursor.kind == LEVELS and cursor.since_id != LEVELS_RECORDED


def _levels(trigger: Trigger, listed: Mapping[str, Any]) -> list[tuple[str, int, dict]]:
    """(object id, value, level) of each usable level inside one listed object."""
    found = []
    for level in trigger.poll_levels.expand(listed):
        object_id = str(level.get(trigger.id_field, ""))
        value = level.get(trigger.poll_levels.value)
        usable = isinstance(value, int) and not isinstance(value, bool)
        if not object_id or len(object_id) > MAX_OBJECT_ID_LENGTH or not usable:
            log.warning("skipped a %s level without a usable id or value", trigger.event)
            continue
        found.append((object_id, value, level))
    return found


def _seen(connection_id: int, event_type: str, object_ids: Iterable[str]) -> dict[str, SeenLevel]:
    rows = SeenLevel.objects.filter(
        connection_id=connection_id, event_type=event_type, object_id__in=list(object_ids)
    )
    return {row.object_id: row for row in rows}


def _record(connection_id: int, event_type: str, values: dict[str, int], seen: dict) -> None:
    """Store the values now seen: new rows made, changed rows moved, the rest untouched."""
    now = timezone.now()
    changed = []
    for object_id, value in values.items():
        row = seen.get(object_id)
        if row is not None and row.value != value:
            row.value, row.seen_at = value, now
            changed.append(row)
    SeenLevel.objects.bulk_update(changed, ["value", "seen_at"])
    SeenLevel.objects.bulk_create(
        [
            SeenLevel(
                connection_id=connection_id,
                event_type=event_type,
                object_id=object_id,
                value=value,
                seen_at=now,
            )
            for object_id, value in values.items()
            if object_id not in seen
        ],
        ignore_conflicts=True,  # a catch-up recording the same level at once: either is right
    )


# store(connection_id, event_type, obj) -> the stored Event, or None if the inbox had it.
Store = Callable[[int, str, dict], Any]


def emit_levels(
    connection_id: int,
    trigger: Trigger,
    listed: dict,
    when: tuple[datetime | None, datetime],
    store: Store,
) -> int:
    """Store an event for each level of `listed` that differs from the last seen; how many.

    `when` is (the listed object's updated_at, since when events are wanted): a change from
    before then is recorded, not run. Events are stored before the levels move, so a crash in
    between re-reads the same change and the inbox's dedupe key refuses the copy.
    """
    changed_at, since = when
    levels = _levels(trigger, listed)
    seen = _seen(connection_id, trigger.event, (object_id for object_id, _, _ in levels))
    stored = 0
    for object_id, value, level in levels:
        row = seen.get(object_id)
        if row is None or row.value == value or changed_at is None or changed_at < since:
            continue
        change = {**level, trigger.poll_levels.previous: row.value}
        if store(connection_id, trigger.event, change):
            stored += 1
    _record(connection_id, trigger.event, {oid: value for oid, value, _ in levels}, seen)
    return stored


def record_baseline(client: Any, connection_id: int, resource: str, triggers: list[Trigger]) -> int:
    """Read every object of the listing and record its levels, firing nothing; how many."""
    list_method = getattr(client, f"list_{resource}")
    recorded = 0
    for listed in iter_pages(list_method):
        for trigger in triggers:
            levels = _levels(trigger, listed)
            seen = _seen(connection_id, trigger.event, (object_id for object_id, _, _ in levels))
            _record(connection_id, trigger.event, {oid: value for oid, value, _ in levels}, seen)
            recorded += len(levels)
    return recorded
