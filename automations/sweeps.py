"""Sweeps: beat's backstop behind the engine's clock, for what a lost message left behind.

The engine's clock (automations/engine/clock.py), running in every worker, dispatches stored
events within milliseconds and starts due or lost steps within about a second. Beat runs these
sweeps too, so that nothing depends on one clock being alive: events still `received` a while
after they arrived, runs that stopped moving (re-walked from their rows: a step whose message
never came is sent again, a run whose rows say it is over is finished), and due step rows.
Every row is claimed before it is touched, so sweeps, clocks and workers never start anything
twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from automations.engine import advance, walk
from automations.engine.clock import start_due_steps
from automations.engine.dispatch import MAX_DISPATCH_ATTEMPTS, dispatch_isolating_failures
from automations.engine.runs import load_rows, load_runs
from automations.models import Event, Run, StepRun

log = logging.getLogger(__name__)
__all__ = ["MAX_DISPATCH_ATTEMPTS", "sweep_events", "sweep_runs", "sweep_waiting_steps"]

# Rows one sweep handles; the rest wait for the next beat, so one sweep stays short.
SWEEP_BATCH = 200
# Looks at one stalled run before it fails with a reason instead of looping.
MAX_NUDGES = 5


def stuck_after() -> timedelta:
    """A run with no progress for this long has lost a message or a worker."""
    return timedelta(seconds=settings.ENGINE_STEP_LEASE_SECONDS + settings.SWEEP_INTERVAL_SECONDS)


# --- (a) events stored but never dispatched ----------------------------------------------------


def sweep_events(limit: int = SWEEP_BATCH) -> list[int]:
    """Dispatch events still `received` a while after they arrived; the ids of the runs made."""
    cutoff = timezone.now() - timedelta(seconds=settings.SWEEP_EVENT_AFTER_SECONDS)
    ids = list(
        Event.objects.filter(status=Event.Status.RECEIVED, received_at__lt=cutoff)
        .order_by("received_at")
        .values_list("id", flat=True)[:limit]
    )
    return dispatch_isolating_failures(ids)


# --- (b) runs that stopped moving ----------------------------------------------------------------


def sweep_runs(limit: int = SWEEP_BATCH) -> list[int]:
    """Walk on runs unfinished with no progress for longer than a task may live."""
    now = timezone.now()
    ids = list(
        Run.objects.filter(status__in=Run.UNFINISHED, created_at__lt=now - stuck_after())
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("created_at")
        .values_list("id", flat=True)[:limit]
    )
    nudged = []
    for run_id in ids:
        with transaction.atomic():
            if _unstick(run_id, now):
                nudged.append(run_id)
    return nudged


def _unstick(run_id: int, now: datetime) -> bool:
    """Walk one stalled run and do what its rows say; whether anything was done."""
    claimed = Run.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        pk=run_id,
        status__in=Run.UNFINISHED,
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + stuck_after())
    if not claimed:
        return False  # another sweep has it
    infos = load_runs([run_id])
    rows = load_rows([run_id])
    info = infos[run_id]
    plan = walk.plan(info.steps(), rows.get(run_id, {}), info.base_context(now), now)
    stalled = plan.state == walk.EXECUTE and plan.where in rows.get(run_id, {})
    if stalled and Run.objects.filter(pk=run_id, attempts__gt=MAX_NUDGES).exists():
        _give_up(info, rows[run_id][plan.where], now)
        return True
    if plan.state in (walk.BUSY, walk.WAIT):
        return False  # slow is not stuck; the clock starts it when its time comes
    done = advance.advance_runs([info], rows, now)
    if stalled:
        log.info("run %s: sent step %s again", run_id, plan.where)
    return bool(done.published or done.finished or plan.new_rows)


def _give_up(info, row: walk.Row, now: datetime) -> None:
    StepRun.objects.filter(pk=row.id).update(
        status=StepRun.Status.FAILED,
        error="This step never finished.",
        finished_at=now,
        next_attempt_at=None,
    )
    attempts = Run.objects.values_list("attempts", flat=True).get(pk=info.id) - 1
    reason = f"{walk.describe(row.where, row.key)} stalled {attempts} times and was given up."
    advance.finish_runs([(info, walk.FAILED, reason)], now)


# --- (c) step rows whose time has come ---------------------------------------------------------


def sweep_waiting_steps(limit: int = SWEEP_BATCH) -> list[int]:
    """Start due retries, finished delays, lost and abandoned steps (what the clock does)."""
    return start_due_steps(limit=limit)
