"""Sweeps: find what a lost or unpublished message left behind, and move it on.

The database is the truth and a Celery message only a nudge (DESIGN.md, "Celery"). A nudge
is lost when the broker was down at publish time, when a worker died holding a message, or
when a wait was parked in the database instead of a countdown. Beat runs these every few
seconds; each claims its rows (select_for_update(skip_locked=True) where the database has it,
plus the engine's own conditional UPDATE claims, which are the last guard), so two beats or
two sweeps at once never start a run or a step twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection as database
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from automations.engine.dispatch import dispatch_event
from automations.engine.runs import advance, finish_run, operation_task_name, prepare_run
from automations.models import Event, Run, StepRun
from automations.publish import publish, publish_on_commit

log = logging.getLogger(__name__)

# Rows one sweep handles; the rest wait for the next beat, so one sweep stays short.
SWEEP_BATCH = 200
# Beyond the hard time limit a step's task is dead, not slow: this much more before a nudge.
STUCK_MARGIN_SECONDS = 60
# Nudges of one stalled run before it fails with a reason instead of looping.
MAX_NUDGES = 5
# A dispatch that raised this many times is marked failed instead of being tried forever.
MAX_DISPATCH_ATTEMPTS = 5
# A due retry riding on a Celery countdown gets this long to arrive before beat publishes it.
WAITING_GRACE = timedelta(seconds=30)
UNFINISHED = (Run.Status.QUEUED, Run.Status.RUNNING)
STOPPED_STEP = {
    StepRun.Status.FAILED: Run.Status.FAILED,
    StepRun.Status.HALTED: Run.Status.HALTED,
    StepRun.Status.FILTERED: Run.Status.FILTERED,
}


def locked(queryset: QuerySet) -> QuerySet:
    """Rows no other sweep holds (PostgreSQL); SQLite serialises writers instead."""
    if database.features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True)
    return queryset


def stuck_after() -> timedelta:
    return timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + STUCK_MARGIN_SECONDS)


# --- (a) events stored but never dispatched ----------------------------------------------------


def sweep_events(limit: int = SWEEP_BATCH) -> list[int]:
    """Dispatch, right here, events still `received` a while after they arrived.

    Here and not through the broker: the broker being down is the usual reason they wait.
    Returns the ids of the runs made.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.SWEEP_EVENT_AFTER_SECONDS)
    ids = list(
        Event.objects.filter(status=Event.Status.RECEIVED, received_at__lt=cutoff)
        .order_by("received_at").values_list("id", flat=True)[:limit]
    )
    run_ids: list[int] = []
    for event_id in ids:
        try:
            with transaction.atomic():
                mine = locked(Event.objects.filter(pk=event_id, status=Event.Status.RECEIVED))
                if mine.values_list("id", flat=True).first() is not None:
                    run_ids += dispatch_event(event_id)  # its claim makes a racing copy a no-op
        except Exception:  # noqa: BLE001 - one bad event must not hold back every later one
            log.exception("sweep could not dispatch event %s", event_id)
            give_up_after_failures(event_id)
    return run_ids


def give_up_after_failures(event_id: int) -> None:
    """Count a failed dispatch (outside the rolled-back transaction); fail it at the cap."""
    Event.objects.filter(pk=event_id).update(dispatch_attempts=F("dispatch_attempts") + 1)
    Event.objects.filter(
        pk=event_id, status=Event.Status.RECEIVED, dispatch_attempts__gte=MAX_DISPATCH_ATTEMPTS
    ).update(status=Event.Status.FAILED)


# --- (b) runs that stopped moving ----------------------------------------------------------------


def sweep_runs(limit: int = SWEEP_BATCH) -> list[int]:
    """Move on runs queued or running with no progress for longer than a task may live."""
    now = timezone.now()
    cutoff = now - stuck_after()
    ids = list(
        Run.objects.filter(status__in=UNFINISHED, created_at__lt=cutoff)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("created_at").values_list("id", flat=True)[:limit]
    )
    nudged = []
    for run_id in ids:
        with transaction.atomic():
            run = locked(Run.objects.filter(pk=run_id, status__in=UNFINISHED)).first()
            if run is not None and _unstick(run, cutoff, now):
                nudged.append(run_id)
    return nudged


def _stalled_since(run: Run, steps: list[StepRun], current: StepRun) -> datetime:
    if current.status == StepRun.Status.RUNNING and current.started_at:
        return current.started_at
    finished = [s.finished_at for s in steps if s.position < current.position and s.finished_at]
    return max(finished, default=run.started_at or run.created_at)


def _unstick(run: Run, cutoff: datetime, now: datetime) -> bool:
    """Nudge one stalled run (called with its row held); whether anything was done."""
    steps = list(StepRun.objects.filter(run=run).order_by("position"))
    if not steps:
        if run.status != Run.Status.QUEUED:
            return False
        prepare_run(Run.objects.select_related("event").get(pk=run.pk))  # never laid out
        return True
    current = next((s for s in steps if s.status != StepRun.Status.SUCCEEDED), None)
    if current is None:
        finish_run(run, Run.Status.SUCCEEDED)  # the last step's worker died before finishing
        return True
    if current.status in STOPPED_STEP:
        finish_run(run, STOPPED_STEP[current.status],
                   f"Step {current.position + 1} ({current.key}): {current.error}")
        return True
    if current.status == StepRun.Status.WAITING or _stalled_since(run, steps, current) > cutoff:
        # Parked retries are sweep_waiting_steps'; slow is not stuck. Look again later, so
        # long-paused runs do not fill every batch ahead of runs that are really stuck.
        Run.objects.filter(pk=run.pk).update(next_attempt_at=now + stuck_after())
        return False
    if run.attempts >= MAX_NUDGES:
        StepRun.objects.filter(pk=current.pk).update(
            status=StepRun.Status.FAILED, error="This step never finished.", finished_at=now
        )
        finish_run(run, Run.Status.FAILED, f"Step {current.position + 1} ({current.key}) "
                   f"stalled {run.attempts} times and was given up.")
        return True
    Run.objects.filter(pk=run.pk).update(
        attempts=F("attempts") + 1, next_attempt_at=now + stuck_after()
    )
    if not current.operation:
        advance(run, current.position)  # a filter step is evaluated inline, no task
        return True
    # A worker that died mid-step left it running; a fresh message may only claim pending.
    StepRun.objects.filter(pk=current.pk, status=StepRun.Status.RUNNING).update(
        status=StepRun.Status.PENDING
    )
    publish_on_commit(operation_task_name(current.operation), current.pk)
    log.info("run %s: nudged step %s again", run.pk, current.position)
    return True


# --- (c) retries parked in the database ----------------------------------------------------------


def sweep_waiting_steps(limit: int = SWEEP_BATCH) -> list[int]:
    """Publish the task of each step whose parked retry is due (paused steps have no time)."""
    now = timezone.now()
    cutoff = now - WAITING_GRACE
    due = list(
        StepRun.objects.filter(status=StepRun.Status.WAITING, next_attempt_at__lte=cutoff)
        .order_by("next_attempt_at").values_list("id", "operation", "next_attempt_at")[:limit]
    )
    published = []
    for step_run_id, operation, due_at in due:
        # Claim: move its time on, so the next sweep leaves it to the message sent now.
        claimed = StepRun.objects.filter(
            pk=step_run_id, status=StepRun.Status.WAITING, next_attempt_at=due_at
        ).update(next_attempt_at=now + stuck_after())
        if not claimed:
            continue
        if publish(operation_task_name(operation), step_run_id):
            published.append(step_run_id)
        else:  # broker down: due again at the next sweep
            StepRun.objects.filter(pk=step_run_id, status=StepRun.Status.WAITING).update(
                next_attempt_at=due_at
            )
    return published
