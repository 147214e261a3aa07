"""Replay a whole run, retry a failed run from the step that failed, retry a waiting step now,
or cancel a run that waits."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from automations.engine import advance, walk
from automations.engine.runs import load_rows, load_runs, prepare_run
from automations.engine.tree import kind_of, split, step_at
from automations.engine.versions import version_document
from automations.models import Run, StepAttempt, StepRun


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


def _fresh_call_or_same(step_run: StepRun, re_render: bool) -> dict:
    """What a deliberate retry changes about the call it will make.

    Refused by Cartly: re-render (the data may have been fixed) under a fresh key, or Cartly
    would replay its stored refusal. Never rendered, or a new version of the step: render, the
    key was never used for that input. Anything else (a timeout, a 5xx) may have been applied:
    same input, same key, so Cartly replays the success instead of applying it twice.
    """
    if _definitely_refused(step_run) or (re_render and step_run.status_code is None):
        return {"generation": F("generation") + 1, "rendered_input": None, "first_attempt_at": None}
    return {}


def _keep_attempt(step_run: StepRun, version: int) -> None:
    if step_run.attempts or step_run.rendered_input is not None:
        StepAttempt.objects.create(
            step_run=step_run,
            number=step_run.attempts,
            status=step_run.status,
            recipe_version=version,
            rendered_input=step_run.rendered_input,
            output=step_run.output,
            error=step_run.error,
            error_fields=step_run.error_fields,
            status_code=step_run.status_code,
            started_at=step_run.started_at,
            finished_at=step_run.finished_at or timezone.now(),
            duration_ms=step_run.duration_ms,
        )


def _check_same_path(run: Run, version: int, failed: StepRun) -> None:
    """A retry on another version keeps earlier steps' outputs: they must still be there."""
    steps = version_document(run.recipe_id, version)["steps"]
    kept = StepRun.objects.filter(run=run).exclude(status=StepRun.Status.SKIPPED)
    for row in kept:
        try:
            step = step_at(steps, row.where)
        except (IndexError, KeyError, ValueError):
            step = None
        if step is None or step.get("key") != row.key or kind_of(step) != row.kind:
            raise CannotRetry(
                "The recipe's steps up to the failed one changed since this run, so it cannot "
                "go on from there with the current version. Replay the whole run instead."
            )
        if (
            row.pk != failed.pk
            and row.kind == StepRun.Kind.OPERATION
            and step.get("operation") != row.operation
        ):
            raise CannotRetry(f"Step {row.key} now calls another operation; replay the run.")


def _failed_row(run: Run) -> StepRun:
    info = load_runs([run.pk])[run.pk]
    rows = load_rows([run.pk]).get(run.pk, {})
    steps = version_document(info.recipe_id, info.version)["steps"]
    plan = walk.plan(steps, rows, info.base_context(timezone.now()), timezone.now())
    where = plan.where if plan.state in (walk.DONE, walk.WAIT) else None
    if where is None or where not in rows or rows[where].status not in ("failed", "waiting"):
        raise CannotRetry("This run has no failed step to retry.")
    position, address = split(where)
    return StepRun.objects.get(run=run, position=position, address=address)


@transaction.atomic
def retry_from_failed_step(run: Run, use_current_version: bool = False) -> StepRun:
    """Start the failed (or waiting) step again and go on from there; earlier steps' outputs
    are kept. With `use_current_version`, the step renders from the recipe as it is now."""
    run = Run.objects.select_for_update().get(pk=run.pk)
    step_run = _failed_row(run)
    version = run.recipe.version if use_current_version else run.recipe_version
    if version != run.recipe_version:
        _check_same_path(run, version, step_run)
    _keep_attempt(step_run, run.recipe_version)
    if step_run.kind != StepRun.Kind.OPERATION:
        step_run.delete()  # a decision (a filter, a loop's list, a delay): made afresh
    else:
        # Conditional: a worker that claimed the step meanwhile keeps it, and we do nothing.
        reset = StepRun.objects.filter(
            pk=step_run.pk, status__in=[StepRun.Status.FAILED, StepRun.Status.WAITING]
        ).update(
            status=StepRun.Status.PENDING,
            output=None,
            items=None,
            error="",
            error_fields=None,
            status_code=None,
            attempts=0,
            pickups=0,
            wait_kind="",
            finished_at=None,
            next_attempt_at=advance.lost_after(timezone.now()),
            **_fresh_call_or_same(step_run, re_render=version != run.recipe_version),
        )
        if not reset:
            raise CannotRetry("That step is running right now; look again in a moment.")
    StepRun.objects.filter(run=run, status=StepRun.Status.SKIPPED).update(
        status=StepRun.Status.PENDING, next_attempt_at=None
    )
    Run.objects.filter(pk=run.pk).update(
        status=Run.Status.RUNNING,
        failure_reason="",
        finished_at=None,
        recipe_version=version,
        started_at=run.started_at or timezone.now(),
    )
    now = timezone.now()
    advance.advance_runs(list(load_runs([run.pk]).values()), load_rows([run.pk]), now)
    return step_run


@transaction.atomic
def retry_now(run: Run) -> int:
    """A step that only waits (a retry later, a delay, a held circuit) is due at once."""
    return StepRun.objects.filter(
        run=run, status=StepRun.Status.WAITING, kind=StepRun.Kind.OPERATION
    ).update(next_attempt_at=timezone.now())


@transaction.atomic
def cancel_run(run: Run, reason: str = "Canceled by you.") -> bool:
    """Stop a run that has not finished: its waiting step is canceled, nothing more runs."""
    run = Run.objects.select_for_update().get(pk=run.pk)
    if run.status in Run.FINISHED:
        return False
    now = timezone.now()
    StepRun.objects.filter(run=run, status__in=StepRun.UNFINISHED).update(
        status=StepRun.Status.CANCELED, finished_at=now, next_attempt_at=None, wait_kind=""
    )
    Run.objects.filter(pk=run.pk).update(
        status=Run.Status.CANCELED, failure_reason=reason, finished_at=now
    )
    return True
