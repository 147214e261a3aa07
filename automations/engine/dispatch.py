"""Dispatch: turn stored events into runs, many at a time, exactly once.

The receiver (and polling) only INSERT events as `received`; the engine's clock drains them
here in batches (no message per event). One statement claims a batch and reads it back
(`UPDATE … RETURNING`, with `FOR UPDATE SKIP LOCKED` on PostgreSQL so several workers' clocks
share the inbox without waiting on each other), one query finds the matching recipes of the
whole batch, and the runs, their first step rows and the messages that start them are written
in the same transaction. Run's unique (recipe, event) stays the last guard.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from automations.engine import sql
from automations.engine.advance import advance_runs
from automations.engine.claims import RELAXED
from automations.engine.match import matching_recipes
from automations.engine.runs import RunInfo, event_summary, load_runs
from automations.models import Event, Recipe, Run

log = logging.getLogger(__name__)

EVENT_COLUMNS = (
    "id",
    "connection_id",
    "event_type",
    "cartly_event_id",
    "occurred_at",
    "received_at",
    "payload",
)


def _claim_sql(how_many_ids: int) -> str:
    table = Event._meta.db_table
    lock = (
        " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    )
    which = f"id IN ({', '.join(['%s'] * how_many_ids)}) AND " if how_many_ids else ""
    return (
        f"UPDATE {table} SET status = %s, dispatched_at = %s, "
        f"dispatch_attempts = dispatch_attempts + 1 WHERE id IN ("
        f"SELECT id FROM {table} WHERE {which}status = %s ORDER BY received_at, id "
        f"LIMIT %s{lock}) RETURNING {', '.join(EVENT_COLUMNS)}"
    )


def _claim_params(limit: int, ids: list[int], now: datetime) -> list[Any]:
    return [Event.Status.DISPATCHED, sql.at(now), *ids, Event.Status.RECEIVED, limit]


def claim_events(limit: int, event_ids: list[int] | None = None) -> list[dict[str, Any]]:
    """Move up to `limit` received events to dispatched and read them (one statement)."""
    now = timezone.now()
    if event_ids is not None and not event_ids:
        return []
    ids = list(event_ids or [])
    rows = sql.fetch(_claim_sql(len(ids)), _claim_params(limit, ids, now))
    return [_event(row) for row in rows]


def _event(row) -> dict[str, Any]:
    event = dict(zip(EVENT_COLUMNS, row, strict=True))
    event["payload"] = sql.as_json(event["payload"])
    event["occurred_at"] = sql.as_moment(event["occurred_at"])
    event["received_at"] = sql.as_moment(event["received_at"])
    return event


def _info(run_id: int, recipe_id: int, version: int, event: dict[str, Any], now) -> RunInfo:
    return RunInfo(
        id=run_id,
        recipe_id=recipe_id,
        version=version,
        status=Run.Status.RUNNING,
        payload=event["payload"],
        event=event_summary(
            event["cartly_event_id"],
            event["event_type"],
            event["occurred_at"],
            event["received_at"],
        ),
        connection_id=event["connection_id"],
        started_at=now,
    )


INSERT_RUNS = (
    f"INSERT INTO {Run._meta.db_table} (recipe_id, event_id, recipe_version, status, "
    "failure_reason, attempts, created_at, started_at, render_seconds) VALUES {rows} "
    "ON CONFLICT DO NOTHING RETURNING id, recipe_id, event_id"
)


def _make_runs(events: list[dict[str, Any]], now: datetime) -> list[RunInfo]:
    """One INSERT for the batch's runs, made running. A (recipe, event) that already has its
    run (Run's unique constraint) is left out, not an error: its run is someone else's."""
    recipes = matching_recipes({(e["connection_id"], e["event_type"]) for e in events})
    wanted, params = {}, []
    for event in events:
        for recipe_id, version in recipes.get((event["connection_id"], event["event_type"]), ()):
            wanted[(recipe_id, event["id"])] = (version, event)
            params += [recipe_id, event["id"], version, Run.Status.RUNNING, "", 0]
            params += [sql.at(now), sql.at(now), 0.0]
    if not wanted:
        return []
    # As many runs a statement as the backend takes parameters (SQLite: 999 or 32,766).
    size = max(min(connection.ops.bulk_batch_size([None] * 9, list(wanted)), 65535 // 9), 1)
    made = []
    for start in range(0, len(wanted), size):
        count = min(size, len(wanted) - start)
        rows = ", ".join(["(" + sql.marks(9) + ")"] * count)
        chunk = params[start * 9 : (start + count) * 9]
        made += sql.fetch(INSERT_RUNS.format(rows=rows), chunk)
    infos = []
    for run_id, recipe_id, event_id in made:
        version, event = wanted[(recipe_id, event_id)]
        infos.append(_info(run_id, recipe_id, version, event, now))
    if len(made) < len(wanted):
        infos += _left_queued(events)
    return infos


def _left_queued(events) -> list[RunInfo]:
    """Runs of these events made but never started (queued, no step rows yet): start them."""
    fresh = Run.objects.filter(
        event_id__in=[e["id"] for e in events],
        replay_of=None,
        status=Run.Status.QUEUED,
        step_runs__isnull=True,
    )
    return list(load_runs(fresh.values_list("id", flat=True)).values())


def _claim_and_make_runs_sql(how_many_ids: int) -> str:
    """Claim events, match their recipes and insert their runs, in one statement (PostgreSQL:
    an UPDATE and an INSERT in a WITH). One row per (event, matching recipe), or one per event
    that matches none; the run id is NULL where that run already existed."""
    return (
        f"WITH {RELAXED}, claimed AS ({_claim_sql(how_many_ids)}), "
        f"matched AS (SELECT c.id AS recipe_id, claimed.id AS event_id, c.version "
        f"FROM claimed JOIN {Recipe._meta.db_table} c ON c.connection_id = claimed.connection_id "
        f"AND c.enabled AND c.event_type = claimed.event_type), "
        f"made AS (INSERT INTO {Run._meta.db_table} (recipe_id, event_id, recipe_version, "
        f"status, failure_reason, attempts, created_at, started_at, render_seconds) "
        f"SELECT recipe_id, event_id, version, %s, '', 0, %s, %s, 0.0 FROM matched "
        f"ON CONFLICT DO NOTHING RETURNING id, recipe_id, event_id) "
        f"SELECT {', '.join('claimed.' + name for name in EVENT_COLUMNS)}, "
        f"matched.recipe_id, matched.version, made.id FROM claimed "
        f"LEFT JOIN matched ON matched.event_id = claimed.id "
        f"LEFT JOIN made ON made.recipe_id = matched.recipe_id AND made.event_id = claimed.id "
        f"CROSS JOIN relaxed"
    )


def _claim_and_make_runs(limit: int, ids: list[int], now: datetime):
    """The claimed events and the runs made for them: one statement on PostgreSQL, three
    (claim, match, insert) elsewhere."""
    if connection.vendor != "postgresql":
        events = claim_events(limit, ids or None)  # no ids: the oldest received
        return events, (_make_runs(events, now) if events else [])
    params = [*_claim_params(limit, ids, now), Run.Status.RUNNING, sql.at(now), sql.at(now)]
    events, infos, lost = {}, [], False
    for row in sql.fetch(_claim_and_make_runs_sql(len(ids)), params):
        event_id, recipe_id, version, run_id = row[0], *row[len(EVENT_COLUMNS) :]
        if event_id not in events:
            events[event_id] = _event(row[: len(EVENT_COLUMNS)])
        if run_id is not None:
            infos.append(_info(run_id, recipe_id, version, events[event_id], now))
        lost = lost or (recipe_id is not None and run_id is None)
    if lost:  # a run of the batch already existed
        infos += _left_queued(list(events.values()))
    return list(events.values()), infos


def dispatch_batch(limit: int | None = None, event_ids: list[int] | None = None) -> list[int]:
    """Claim received events (the oldest, or the given ones) and start their runs; the ids
    of the runs made. An empty list when there was nothing to claim."""
    limit = limit or settings.ENGINE_DISPATCH_BATCH_SIZE
    now = timezone.now()
    with transaction.atomic():
        # Relaxed (claims.RELAXED, in the statement): the event stays stored, and a lost
        # dispatch is made again. What runs after the commit (alerts, a recipe switched off)
        # is in transactions of its own, durable.
        if event_ids is not None and not event_ids:
            return []
        events, infos = _claim_and_make_runs(limit, list(event_ids or []), now)
        if not events:
            return []
        advance_runs(infos, {}, now, starting=True, complete=True)
    return [info.id for info in infos]


def dispatch_event(event_id: int) -> list[int]:
    """Dispatch one event if it is still received (a claimed copy does nothing)."""
    return dispatch_batch(1, [event_id])


# A dispatch that raised this many times is marked failed instead of being tried forever.
MAX_DISPATCH_ATTEMPTS = 5


def dispatch_isolating_failures(event_ids: list[int]) -> list[int]:
    """Dispatch the events as one batch; if that raises, one by one, so that one event that
    cannot be dispatched holds back no other (it fails at a cap)."""
    if not event_ids:
        return []
    try:
        return dispatch_batch(len(event_ids), event_ids)
    except Exception:  # noqa: BLE001 - find the one that breaks the batch
        log.exception("dispatching %d events failed; trying them one by one", len(event_ids))
    run_ids: list[int] = []
    for event_id in event_ids:
        try:
            run_ids += dispatch_batch(1, [event_id])
        except Exception:  # noqa: BLE001 - one bad event must not hold back the others
            log.exception("could not dispatch event %s", event_id)
            give_up_after_failures(event_id)
    return run_ids


def give_up_after_failures(event_id: int) -> None:
    """Count a failed dispatch (outside the rolled-back transaction); fail it at the cap."""
    Event.objects.filter(pk=event_id).update(dispatch_attempts=F("dispatch_attempts") + 1)
    Event.objects.filter(
        pk=event_id, status=Event.Status.RECEIVED, dispatch_attempts__gte=MAX_DISPATCH_ATTEMPTS
    ).update(status=Event.Status.FAILED)


def dispatch_received(limit: int | None = None) -> list[int]:
    """The clock's dispatch: the oldest received events, a failing batch taken apart."""
    limit = limit or settings.ENGINE_DISPATCH_BATCH_SIZE
    try:
        return dispatch_batch(limit)
    except DatabaseError:
        raise  # the database itself: the clock backs off
    except Exception:  # noqa: BLE001 - an event (or its recipe) breaks the batch
        ids = list(
            Event.objects.filter(status=Event.Status.RECEIVED)
            .order_by("received_at", "id")
            .values_list("id", flat=True)[:limit]
        )
        return dispatch_isolating_failures(ids)
