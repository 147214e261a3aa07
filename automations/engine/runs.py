"""Runs as the engine holds them in memory: what a walk needs, read in one query per batch.

The hot path never loads Run or Event model instances: a batch of runs is a list of `RunInfo`
(ids, the version, the trigger's data) and their step rows a dict of `walk.Row` by address.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from automations.engine import sql, walk
from automations.engine.versions import version_document
from automations.models import Event, Recipe, Run, StepRun

# A run's columns and the joins they come from (also read by the claim, claims.py).
RUN_COLUMNS = (
    "r.id, r.recipe_id, r.recipe_version, r.status, r.started_at, c.connection_id, "
    "r.render_seconds, e.cartly_event_id, e.event_type, e.occurred_at, e.received_at, e.payload"
)
RUN_COLUMN_COUNT = RUN_COLUMNS.count(",") + 1
RUN_JOINS = (
    f"JOIN {Recipe._meta.db_table} c ON c.id = r.recipe_id "
    f"JOIN {Event._meta.db_table} e ON e.id = r.event_id"
)
RUNS_SQL = f"SELECT {RUN_COLUMNS} FROM {Run._meta.db_table} r {RUN_JOINS} WHERE r.id IN "
# A step row's columns as the walk reads them (also returned by the record, claims.py).
ROW_COLUMNS = (
    "id",
    "run_id",
    "position",
    "address",
    "key",
    "operation",
    "status",
    "output",
    "items",
    "error",
    "status_code",
)
ROWS_SQL = f"SELECT {', '.join(ROW_COLUMNS)} FROM {StepRun._meta.db_table} WHERE run_id IN "


def operation_task_name(operation: str) -> str:
    """Each action and search is its own Celery task (routable and visible per operation)."""
    return f"automations.op.{operation}"


@dataclass
class RunInfo:
    id: int
    recipe_id: int
    version: int
    status: str
    payload: Any
    event: dict[str, Any]
    connection_id: int = 0
    started_at: datetime | None = None
    render_seconds: float = 0.0

    def steps(self) -> list[dict]:
        """The step tree of the recipe version this run follows (cached per version)."""
        return version_document(self.recipe_id, self.version)["steps"]

    def base_context(self, now: datetime) -> dict[str, Any]:
        """`trigger`, `event` and `now`: what every template and condition of the run sees."""
        return {"trigger": self.payload, "event": self.event, "now": now}


def event_summary(cartly_event_id, event_type, occurred_at, received_at) -> dict[str, Any]:
    """The `event` every template of a run sees: its id, type and time (when it happened, or
    when it was received)."""
    moment = occurred_at or received_at
    return {
        "id": cartly_event_id,
        "type": event_type,
        "time": moment.isoformat() if moment else None,
    }


def info_from_columns(row) -> RunInfo:
    """A RunInfo from RUN_COLUMNS' values, as the driver gives them."""
    (run_id, recipe_id, version, status, started_at, connection_id, render_seconds) = row[:7]
    event_id, event_type, occurred_at, received_at, payload = row[7:12]
    return RunInfo(
        id=run_id,
        recipe_id=recipe_id,
        version=version,
        status=status,
        payload=sql.as_json(payload),
        event=event_summary(
            event_id, event_type, sql.as_moment(occurred_at), sql.as_moment(received_at)
        ),
        connection_id=connection_id,
        started_at=sql.as_moment(started_at),
        render_seconds=render_seconds,
    )


def load_runs(run_ids) -> dict[int, RunInfo]:
    """The runs and their events' data, in one query (plain SQL: this is the hot path)."""
    ids = list(run_ids)
    if not ids:
        return {}
    rows = sql.fetch(f"{RUNS_SQL}({sql.marks(len(ids))})", ids)
    return {row[0]: info_from_columns(row) for row in rows}


def rows_by_run(fetched) -> dict[int, dict[str, walk.Row]]:
    """Step rows from ROW_COLUMNS' values, by run and address."""
    found: dict[int, dict[str, walk.Row]] = defaultdict(dict)
    for (
        row_id,
        run_id,
        position,
        address,
        key,
        operation,
        status,
        output,
        items,
        error,
        code,
    ) in fetched:
        where = address or str(position)
        found[run_id][where] = walk.Row(
            where,
            status,
            key,
            sql.as_json(output),
            sql.as_json(items),
            error,
            code,
            row_id,
            operation,
        )
    return found


def load_rows(run_ids) -> dict[int, dict[str, walk.Row]]:
    """Every step row of the runs, by run and address, in one query."""
    ids = list(run_ids)
    if not ids:
        return defaultdict(dict)
    return rows_by_run(sql.fetch(f"{ROWS_SQL}({sql.marks(len(ids))})", ids))


# -- one run at a time: replays, tests, the builder (the hot path goes through advance.py) ----


def prepare_run(run: Run) -> None:
    """Start one new run: its recipe's filter, then the steps up to the first call."""
    from django.db import transaction
    from django.utils import timezone

    from automations.engine.advance import advance_runs

    with transaction.atomic():
        advance_runs([load_runs([run.pk])[run.pk]], {}, timezone.now(), starting=True)


def finish_run(run: Run, status: str, reason: str = "") -> None:
    """End one run as `status` (steps not reached are skipped) and tell the listeners."""
    from django.db import transaction
    from django.utils import timezone

    from automations.engine.advance import finish_runs

    now = timezone.now()
    with transaction.atomic():  # finish_runs skips the steps not reached
        finish_runs([(load_runs([run.pk])[run.pk], status, reason)], now)
    run.status, run.failure_reason, run.finished_at = status, reason, now
