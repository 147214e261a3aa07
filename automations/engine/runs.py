"""A run's life outside its operations: prepare, move to the next step, finish.

A run executes the document of the recipe version it recorded. Filter steps are evaluated
here, inline (no call to make); each operation step is handed to its own Celery task.
"""

from django.db import transaction
from django.utils import timezone

from automations.engine import conditions, render
from automations.engine.versions import version_document
from automations.models import Run, StepRun
from automations.publish import publish_on_commit
from automations.signals import run_failed


def operation_task_name(operation: str) -> str:
    """Each action and search is its own Celery task (routable and visible per operation)."""
    return f"automations.op.{operation}"


def event_context(run: Run) -> dict:
    event = run.event
    return {
        "id": event.cartly_event_id,
        "type": event.event_type,
        "time": (event.occurred_at or event.received_at).isoformat(),
        "source": event.source,
    }


def build_context(run: Run, before_position: int) -> dict:
    """`trigger`, `event`, `steps.<key>` (outputs of earlier steps) and `now`, as plain dicts."""
    steps = {}
    if before_position:  # the first step has no earlier outputs: skip the query
        outputs = StepRun.objects.filter(run=run, position__lt=before_position).values_list(
            "key", "output"
        )
        steps = {key: output for key, output in outputs if output is not None}
    return render.build_context(
        trigger=run.event.payload, event=event_context(run), steps=steps, now=timezone.now()
    )


def finish_run(run: Run, status: str, reason: str = "") -> None:
    now = timezone.now()
    Run.objects.filter(pk=run.pk).update(status=status, failure_reason=reason, finished_at=now)
    StepRun.objects.filter(run=run, status=StepRun.Status.PENDING).update(
        status=StepRun.Status.SKIPPED
    )
    run.status, run.failure_reason, run.finished_at = status, reason, now
    if status == Run.Status.FAILED:
        transaction.on_commit(lambda: run_failed.send(sender=Run, run=run), robust=True)


class BrokenFilter(Exception):
    """A filter that cannot be evaluated (e.g. a bad pattern): the run fails, not filters."""


def _filter_passes(conds: list, match: str, context: dict) -> tuple[bool, str]:
    if not conds:
        return True, ""
    try:
        result = conditions.evaluate(conds, context, match=match)
    except conditions.ConditionError as exc:
        raise BrokenFilter(f"The filter cannot be checked: {exc}") from exc
    return result.passed, result.reason


@transaction.atomic
def prepare_run(run: Run) -> None:
    """Check the recipe's own filter, lay out one StepRun per step, start the first step."""
    document = version_document(run.recipe_id, run.recipe_version)
    recipe_filter = document.get("filter") or {}
    try:
        passed, reason = _filter_passes(
            recipe_filter.get("conditions", []), recipe_filter.get("match", "all"),
            build_context(run, 0),
        )
    except BrokenFilter as exc:
        finish_run(run, Run.Status.FAILED, str(exc))
        return
    if not passed:
        finish_run(run, Run.Status.FILTERED, reason)
        return
    StepRun.objects.bulk_create(
        StepRun(run=run, position=i, key=step["key"], operation=step.get("operation", ""))
        for i, step in enumerate(document["steps"])
    )
    advance(run, 0)


def advance(run: Run, position: int) -> None:
    """Go on from step `position`: run filters inline, publish the next operation's task."""
    steps = version_document(run.recipe_id, run.recipe_version)["steps"]
    while position < len(steps):
        step = steps[position]
        if "filter" not in step:
            step_run_id = StepRun.objects.values_list("id", flat=True).get(
                run=run, position=position
            )
            publish_on_commit(operation_task_name(step["operation"]), step_run_id)
            return
        try:
            passed, reason = _filter_passes(
                step["filter"].get("conditions", []), step["filter"].get("match", "all"),
                build_context(run, position),
            )
        except BrokenFilter as exc:
            passed, reason = None, str(exc)
        status = {True: StepRun.Status.SUCCEEDED, False: StepRun.Status.FILTERED,
                  None: StepRun.Status.FAILED}[passed]
        now = timezone.now()
        StepRun.objects.filter(run=run, position=position).update(
            status=status, error=reason, started_at=now, finished_at=now, duration_ms=0
        )
        if not passed:
            outcome = Run.Status.FILTERED if passed is False else Run.Status.FAILED
            finish_run(run, outcome, reason)
            return
        position += 1
    finish_run(run, Run.Status.SUCCEEDED)
