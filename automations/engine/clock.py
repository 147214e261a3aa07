"""The engine's clock: what moves runs on without a message asking for it.

A thread in every Celery worker process (automations/worker_clock.py) ticks: it dispatches
events the receiver stored (dispatch.py, batches of many), and about once a second it starts
step rows whose time has come — a retry parked on its schedule, a delay that is over, a step
held while Cartly's circuit was open, a published step whose message was lost (never claimed
within ENGINE_STEP_LOST_AFTER_SECONDS), a step whose worker died (lease lapsed). Every row is
nudged with a conditional UPDATE, so several clocks (and beat's sweeps, which call the same
functions) never start one twice, and a nudge is only a message: the claim decides.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, close_old_connections, transaction
from django.db import connection as database
from django.utils import timezone

from automations.engine import advance, dispatch, sql
from automations.engine.runs import load_rows, load_runs
from automations.models import Event, StepRun
from automations.publish import publish_batches

log = logging.getLogger(__name__)

# Rows one tick starts; the rest are due again at the next tick.
DUE_BATCH = 500
# After a database error the clock waits, doubling up to this, instead of spinning.
MAX_BACKOFF_SECONDS = 5.0
# Right after a tick that found work the next look comes this soon, then twice as late after
# each empty look, up to ENGINE_CLOCK_IDLE_SECONDS: under a steady stream an event waits a few
# milliseconds for its dispatch instead of half the idle pause, and a quiet engine still looks
# only every idle pause.
BUSY_LOOK_SECONDS = 0.005


def due_rows(now: datetime, limit: int = DUE_BATCH) -> list[dict]:
    return list(
        StepRun.objects.filter(status__in=StepRun.UNFINISHED, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values("id", "run_id", "status", "kind", "operation", "next_attempt_at")[:limit]
    )


def _resume_delays(rows: list[dict], now: datetime) -> list[int]:
    """Delays that are over: the step succeeds and its run walks on."""
    over = []
    with transaction.atomic():
        for row in rows:
            done = StepRun.objects.filter(
                pk=row["id"], status=StepRun.Status.WAITING, next_attempt_at=row["next_attempt_at"]
            ).update(
                status=StepRun.Status.SUCCEEDED,
                finished_at=now,
                error="",
                next_attempt_at=None,
                wait_kind="",
            )
            if done:
                over.append(row["run_id"])
        if over:
            advance.advance_runs(list(load_runs(over).values()), load_rows(over), now)
    return over


def _nudge_operations(rows: list[dict], now: datetime) -> list[int]:
    """Make due operation rows pending again (a claim on the nudge) and send their messages."""
    nudged: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        moved = StepRun.objects.filter(
            pk=row["id"], status=row["status"], next_attempt_at=row["next_attempt_at"]
        ).update(status=StepRun.Status.PENDING, next_attempt_at=advance.lost_after(now))
        if moved:
            nudged[row["operation"]].append(row["id"])
    publish_batches(dict(nudged))
    return [pk for ids in nudged.values() for pk in ids]


def start_due_steps(now: datetime | None = None, limit: int = DUE_BATCH) -> list[int]:
    """Start every step row whose time has come; the ids of the rows started."""
    now = now or timezone.now()
    rows = due_rows(now, limit)
    delays = [r for r in rows if r["kind"] == StepRun.Kind.DELAY]
    operations = [r for r in rows if r["kind"] == StepRun.Kind.OPERATION]
    started = _nudge_operations(operations, now) if operations else []
    if delays:
        _resume_delays(delays, now)
    return started + [r["id"] for r in delays]


def _events_waiting() -> bool:
    """Whether any event waits for its dispatch: asked at every look, up to 200 times a second
    under load, so in plain SQL (the ORM's `exists()` costs several times the query)."""
    rows = sql.fetch(
        f"SELECT 1 FROM {Event._meta.db_table} WHERE status = %s LIMIT 1", [Event.Status.RECEIVED]
    )
    return bool(rows)


def tick(now: datetime | None = None, *, steps: bool = True) -> int:
    """One beat of the clock: dispatch waiting events (and start due steps); work done."""
    work = 0
    if _events_waiting():
        work += len(dispatch.dispatch_received())
    if steps:
        work += len(start_due_steps(now))
    return work


class Clock(threading.Thread):
    """Ticks until stopped; a database error costs a backoff, never the thread."""

    def __init__(self) -> None:
        super().__init__(name="engine-clock", daemon=True)
        self.stopping = threading.Event()

    def run(self) -> None:
        idle = settings.ENGINE_CLOCK_IDLE_SECONDS
        steps_every = settings.ENGINE_CLOCK_STEPS_SECONDS
        backoff, last_steps, pause = 0.0, 0.0, idle
        try:
            while not self.stopping.is_set():
                check_steps = time.monotonic() - last_steps >= steps_every
                try:
                    busy = tick(steps=check_steps)
                    backoff = 0.0
                except DatabaseError as exc:
                    backoff = min(max(backoff * 2, idle * 4), MAX_BACKOFF_SECONDS)
                    log.warning("engine clock: database error, again in %.1f s: %r", backoff, exc)
                    database.close()  # reconnect on the next tick
                    self.stopping.wait(backoff)
                    continue
                except Exception:  # noqa: BLE001 - log and keep ticking
                    log.exception("engine clock: tick failed")
                    busy = 0
                if check_steps:
                    last_steps = time.monotonic()
                if busy:
                    pause = min(BUSY_LOOK_SECONDS, idle)
                else:
                    self.stopping.wait(pause)
                    pause = min(pause * 2, idle)
        finally:
            close_old_connections()
            database.close()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        self.join(timeout)
