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
    StepRun.objects.filter(run=run, status=StepRun.Status.SKIPPED).update(
        status=StepRun.Status.PENDING
    )
    # A deliberate retry re-renders (the data may have been fixed) under a fresh key, so a
    # refusal Cartly stored for the old key is not simply replayed.
    StepRun.objects.filter(pk=step_run.pk).update(
        status=StepRun.Status.PENDING, generation=F("generation") + 1, rendered_input=None,
        output=None, error="", error_fields=None, status_code=None, attempts=0,
        next_attempt_at=None, finished_at=None,
    )
    Run.objects.filter(pk=run.pk).update(
        status=Run.Status.RUNNING, failure_reason="", finished_at=None,
        started_at=run.started_at or timezone.now(),
    )
    publish_on_commit(operation_task_name(step_run.operation), step_run.pk)
    return step_run
