"""Run one operation step: claim it, render its input once, call the connector, record it.

Every outcome is a row a merchant can read: the rendered input, the output, the error in
plain words with Cartly's field messages and status code, the attempts and the timings.
"""

import time
from dataclasses import dataclass
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from automations.engine import render, retry
from automations.engine.runs import advance, build_context, finish_run, operation_task_name
from automations.engine.versions import version_document
from automations.models import Run, StepRun
from automations.publish import publish_on_commit
from connectors import registry, tokens
from connectors.base import Search
from connectors.contract import check_result
from connectors.convert import ConversionError, convert_inputs
from connectors.errors import ConnectorError, Halted, RateLimited, ShopBudgetExceeded

# A step whose task keeps killing its worker fails after this many pickups, not loops.
MAX_WORKER_PICKUPS = retry.MAX_ATTEMPTS + 2
# Seconds past the hard task time limit before a `running` step counts as abandoned.
STALE_MARGIN = 60
PAUSED_REASON = "Paused: the shop needs reconnecting. It resumes when you reconnect it."


@dataclass
class Outcome:
    status: str
    output: dict | None = None
    error: str = ""
    error_fields: dict | None = None
    status_code: int | None = None
    retry_in: float | None = None  # set when the step should be tried again


def stale_running_before():
    """A step `running` since before this has lost its worker: no task outlives the limit."""
    return timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + STALE_MARGIN)


def claim(step_run_id: int) -> StepRun | None:
    """Move the step to running; a copy of the message that finds it taken does nothing.

    A step left `running` is taken over only once its holder cannot still be alive: a
    "redelivered" flag alone does not prove that (a broker reconnect sets it too).
    """
    ready = Q(status__in=[StepRun.Status.PENDING, StepRun.Status.WAITING]) | Q(
        status=StepRun.Status.RUNNING, started_at__lt=stale_running_before()
    )
    now = timezone.now()
    claimed = StepRun.objects.filter(ready, pk=step_run_id).update(
        status=StepRun.Status.RUNNING, attempts=F("attempts") + 1, started_at=now,
        next_attempt_at=None,
    )
    if not claimed:
        return None
    step_run = StepRun.objects.select_related(
        "run__event", "run__recipe__connection"
    ).get(pk=step_run_id)
    Run.objects.filter(pk=step_run.run_id, status=Run.Status.QUEUED).update(
        status=Run.Status.RUNNING, started_at=now
    )
    return step_run


def _rendered_input(step_run: StepRun, step: dict, operation) -> dict:
    """Render on the first attempt and keep it: retries send exactly the same call."""
    if step_run.rendered_input is None:
        labels = {f.key: f.label for f in operation.input_fields}
        context = build_context(step_run.run, step_run.position)
        step_run.rendered_input = render.render_fields(step.get("fields", {}), context, labels)
        StepRun.objects.filter(pk=step_run.pk).update(rendered_input=step_run.rendered_input)
    return step_run.rendered_input


def _perform(step_run: StepRun, step: dict) -> Outcome:
    operation = registry.get(step["operation"])
    values = convert_inputs(operation.input_fields, _rendered_input(step_run, step, operation))
    connection = step_run.run.recipe.connection
    if isinstance(operation, Search):
        found = tokens.call(connection, lambda client: operation.perform(client, values))
        found = check_result(operation, found)
        if found:
            return Outcome(StepRun.Status.SUCCEEDED, output=found[0])
        if step.get("if_not_found", "halt") == "continue":
            return Outcome(StepRun.Status.SUCCEEDED, output={})
        return Outcome(StepRun.Status.HALTED, error=operation.nothing_found)
    key = step_run.idempotency_key
    result = tokens.call(connection, lambda client: operation.perform(client, values, key))
    return Outcome(StepRun.Status.SUCCEEDED, output=check_result(operation, result))


def _transient(step_run: StepRun, exc: Exception, status_code=None, retry_after=None) -> Outcome:
    message = str(exc) or "Cartly did not answer in time."
    if retry.should_retry(step_run.attempts):
        delay = retry.backoff_seconds(step_run.attempts, retry_after)
        return Outcome(StepRun.Status.WAITING, error=message, status_code=status_code,
                       retry_in=delay)
    return Outcome(
        StepRun.Status.FAILED, status_code=status_code,
        error=f"Cartly kept failing after {step_run.attempts} attempts: {message}",
    )


def attempt(step_run: StepRun) -> Outcome:
    step = version_document(step_run.run.recipe_id, step_run.run.recipe_version)["steps"][
        step_run.position
    ]
    try:
        return _perform(step_run, step)
    except (render.RenderError, ConversionError) as exc:
        return Outcome(StepRun.Status.FAILED, error=str(exc))
    except Halted as exc:
        return Outcome(StepRun.Status.HALTED, error=str(exc))
    except tokens.ReconnectNeeded as exc:
        return Outcome(StepRun.Status.WAITING, error=f"{PAUSED_REASON} ({exc})")
    except ShopBudgetExceeded as exc:
        # Our own budget, not a refusal by Cartly: wait without spending an attempt.
        StepRun.objects.filter(pk=step_run.pk).update(attempts=F("attempts") - 1)
        return Outcome(StepRun.Status.WAITING, error=str(exc), retry_in=exc.retry_after)
    except RateLimited as exc:
        return _transient(step_run, exc, exc.status_code, exc.retry_after)
    except ConnectorError as exc:
        if not exc.permanent:
            return _transient(step_run, exc, exc.status_code)
        fields = getattr(exc, "fields", None) or None
        return Outcome(StepRun.Status.FAILED, error=str(exc), error_fields=fields,
                       status_code=exc.status_code)
    except SoftTimeLimitExceeded as exc:
        return _transient(step_run, exc)


def record(step_run: StepRun, outcome: Outcome, started: float) -> None:
    now = timezone.now()
    parked_until = None
    if outcome.retry_in is not None:
        parked_until = now + timedelta(seconds=min(outcome.retry_in, retry.MAX_BACKOFF_SECONDS))
    # Only the holder of the claim records: a sweep or a retry may have moved the step on.
    recorded = StepRun.objects.filter(pk=step_run.pk, status=StepRun.Status.RUNNING).update(
        status=outcome.status, output=outcome.output, error=outcome.error,
        error_fields=outcome.error_fields, status_code=outcome.status_code,
        finished_at=None if outcome.status == StepRun.Status.WAITING else now,
        duration_ms=int((time.monotonic() - started) * 1000), next_attempt_at=parked_until,
    )
    if not recorded:
        return
    run = step_run.run
    if outcome.status == StepRun.Status.SUCCEEDED:
        advance(run, step_run.position + 1)
    elif outcome.status == StepRun.Status.WAITING:
        Run.objects.filter(pk=run.pk).update(failure_reason=outcome.error)
        if parked_until is not None and outcome.retry_in <= retry.MAX_COUNTDOWN_SECONDS:
            publish_on_commit(
                operation_task_name(step_run.operation), step_run.pk, countdown=outcome.retry_in
            )
    else:
        run_status = Run.Status.HALTED if outcome.status == StepRun.Status.HALTED else (
            Run.Status.FAILED
        )
        finish_run(run, run_status, f"Step {step_run.position + 1} ({step_run.key}): "
                   f"{outcome.error}")


def execute_step(step_run_id: int) -> str | None:
    """The body of every operation task; returns the step's new status (None: not ours)."""
    step_run = claim(step_run_id)
    if step_run is None:
        return None
    started = time.monotonic()
    if step_run.attempts > MAX_WORKER_PICKUPS:
        outcome = Outcome(StepRun.Status.FAILED, error="This step stopped its worker again "
                          "and again, so it was given up.")
    else:
        outcome = attempt(step_run)
    record(step_run, outcome, started)
    return outcome.status
