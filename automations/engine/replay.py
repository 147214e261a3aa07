"""Replay a whole run, or retry a failed run from the step that failed."""

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from automations.engine.runs import operation_task_name, prepare_run
from automations.models import Run, StepRun
from automations.publish import publish_on_commit


class CannotRetry(Exception):
    """The run is not in a state that a retry could change; the message says why."""


@transaction.atomic
def replay_run(run: Run, use_current_version: bool = False) -> Run:
    """A new run of the same event: the original or the recipe's current version.

    A replay is deliberate, so its actions get fresh idempotency keys (a new run id) and
    happen again at Cartly; the original run is left exactly as it was.
    """
    version = run.recipe.version if use_current_version else run.recipe_version
    replay = Run.objects.create(
        recipe=run.recipe, event=run.event, recipe_version=version, replay_of=run
    )
    prepare_run(replay)
    return replay


def _definitely_refused(step_run: StepRun) -> bool:
    """Cartly answered and refused (a 4xx other than 408/429): the call had no effect."""
    code = step_run.status_code
    return code is not None and 400 <= code < 500 and code not in (408, 429)


def _fresh_call_or_same(step_run: StepRun) -> dict:
    """What a deliberate retry changes about the call it will make.

    Refused by Cartly: re-render (the data may have been fixed) under a fresh key, or Cartly
    would replay its stored refusal. Never rendered: render, the key was never used. Anything
    else (a timeout, a 5xx) may have been applied: same input, same key, so Cartly replays the
    success instead of applying it twice.
    """
    if _definitely_refused(step_run):
        return {"generation": F("generation") + 1, "rendered_input": None}
    return {}


@transaction.atomic
def retry_from_failed_step(run: Run) -> StepRun:
    """Start the failed (or paused) step again and go on from there."""
    run = Run.objects.select_for_update().get(pk=run.pk)
    step_run = (
        StepRun.objects.filter(run=run, status__in=[StepRun.Status.FAILED, StepRun.Status.WAITING])
        .order_by("position")
        .first()
    )
    if step_run is None:
        raise CannotRetry("This run has no failed step to retry.")
    # Conditional: a worker that claimed the step meanwhile keeps it, and we do nothing.
    reset = StepRun.objects.filter(
        pk=step_run.pk, status__in=[StepRun.Status.FAILED, StepRun.Status.WAITING]
    ).update(
        status=StepRun.Status.PENDING, output=None, error="", error_fields=None,
        status_code=None, attempts=0, next_attempt_at=None, finished_at=None,
        **_fresh_call_or_same(step_run),
    )
    if not reset:
        raise CannotRetry("That step is running right now; look again in a moment.")
    StepRun.objects.filter(run=run, status=StepRun.Status.SKIPPED).update(
        status=StepRun.Status.PENDING
    )
    Run.objects.filter(pk=run.pk).update(
        status=Run.Status.RUNNING, failure_reason="", finished_at=None,
        started_at=run.started_at or timezone.now(),
    )
    publish_on_commit(operation_task_name(step_run.operation), step_run.pk)
    return step_run
