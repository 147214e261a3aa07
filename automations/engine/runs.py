"""Runs as the engine holds them in memory: what a walk needs, read in one query per batch.

The hot path never loads Run or Event model instances: a batch of runs is a list of `RunInfo`
(ids, the version, the trigger's data) and their step rows a dict of `walk.Row` by address.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from automations.engine import walk
from automations.engine.versions import version_document
from automations.models import Run, StepRun

RUN_FIELDS = (
    "id",
    "recipe_id",
    "recipe_version",
    "status",
    "started_at",
    "recipe__connection_id",
    "render_seconds",
    "event__cartly_event_id",
    "event__event_type",
    "event__occurred_at",
    "event__received_at",
    "event__payload",
)
ROW_FIELDS = (
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


def info_from_values(values: dict[str, Any]) -> RunInfo:
    moment = values["event__occurred_at"] or values["event__received_at"]
    return RunInfo(
        id=values["id"],
        recipe_id=values["recipe_id"],
        version=values["recipe_version"],
        status=values["status"],
        payload=values["event__payload"],
        event={
            "id": values["event__cartly_event_id"],
            "type": values["event__event_type"],
            "time": moment.isoformat() if moment else None,
        },
        connection_id=values["recipe__connection_id"],
        started_at=values["started_at"],
        render_seconds=values["render_seconds"],
    )


def load_runs(run_ids) -> dict[int, RunInfo]:
    """The runs and their events' data, in one query."""
    rows = Run.objects.filter(pk__in=list(run_ids)).values(*RUN_FIELDS)
    return {values["id"]: info_from_values(values) for values in rows}


def row_from_values(values: dict[str, Any]) -> walk.Row:
    where = values["address"] or str(values["position"])
    return walk.Row(
        where,
        values["status"],
        values["key"],
        values["output"],
        values["items"],
        values["error"],
        values["status_code"],
        values["id"],
        values["operation"],
    )


def load_rows(run_ids) -> dict[int, dict[str, walk.Row]]:
    """Every step row of the runs, by run and address, in one query."""
    found: dict[int, dict[str, walk.Row]] = defaultdict(dict)
    for values in StepRun.objects.filter(run_id__in=list(run_ids)).values(*ROW_FIELDS):
        row = row_from_values(values)
        found[values["run_id"]][row.where] = row
    return found


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
