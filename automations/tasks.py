"""Celery tasks: thin shells around the engine. Ids in; the database holds the state.

Why a retry or a redelivered copy cannot apply an effect twice: every task first claims its
rows with a conditional UPDATE (an event received → dispatched; a step pending, or waiting and
due, → running, fenced by its attempt number), so a copy that finds the rows taken does
nothing; and every write to Cartly carries an Idempotency-Key derived from (run, step, loop
index), so even a call repeated after a crash is replayed by Cartly instead of applied again.

A task that meets a database error (a restart, a dropped connection) is retried with backoff
after Django has dropped the broken connection (config/celery.py), instead of failing.
"""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from automations.engine.dispatch import dispatch_event as dispatch
from automations.engine.runs import operation_task_name
from automations.engine.steps import execute_batch
from connectors import registry

DATABASE_ERRORS = (OperationalError, InterfaceError)
# Retries of a task that met a database error: about two minutes of backoff in all.
RETRY_OPTIONS = {
    "autoretry_for": DATABASE_ERRORS,
    "retry_backoff": 1,
    "retry_backoff_max": 30,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(name="automations.dispatch_event", **RETRY_OPTIONS)
def dispatch_event(event_id: int) -> int:
    """Create the runs of one stored event (a redelivered copy finds it claimed).

    The engine's clock dispatches events in batches by itself; this task only serves
    messages published by earlier versions and callers that want one event now.
    """
    return len(dispatch(event_id))


def _make_operation_task(operation_key: str):
    @shared_task(name=operation_task_name(operation_key), **RETRY_OPTIONS)
    def run_operation(step_run_ids: list[int] | int) -> dict[int, str]:
        ids = [step_run_ids] if isinstance(step_run_ids, int) else list(step_run_ids)
        return execute_batch(ids)

    run_operation.__doc__ = (
        f"Run a batch of {operation_key} steps (each claimed first; see module doc)."
    )
    return run_operation


# One task per action and search, so each is visible and routable on its own.
OPERATION_TASKS = {
    op.key: _make_operation_task(op.key) for op in registry.operations() if op.kind != "trigger"
}
