"""Celery tasks: thin shells around the engine. Ids in; the database holds the state.

Why a retry or a redelivered copy cannot apply an effect twice: every task first claims its
row with a conditional UPDATE (dispatch: event received → dispatched; a step: pending or
waiting → running), so a copy that finds the row taken does nothing; and every write to Cartly
carries an Idempotency-Key derived from (run, step), so even a call repeated after a crash is
replayed by Cartly instead of applied again.
"""

from celery import shared_task

from automations.engine.dispatch import dispatch_event as dispatch
from automations.engine.runs import operation_task_name
from automations.engine.steps import execute_step
from automations.publish import DISPATCH_EVENT
from connectors import registry


@shared_task(name=DISPATCH_EVENT)
def dispatch_event(event_id: int) -> int:
    """Create the runs of one stored event (a redelivered copy finds it claimed)."""
    return len(dispatch(event_id))


def _make_operation_task(operation_key: str):
    @shared_task(name=operation_task_name(operation_key))
    def run_operation(step_run_id: int) -> str | None:
        return execute_step(step_run_id)

    run_operation.__doc__ = f"Run one {operation_key} step (claimed first; see module doc)."
    return run_operation


# One task per action and search, so each is visible and routable on its own.
OPERATION_TASKS = {
    op.key: _make_operation_task(op.key) for op in registry.operations() if op.kind != "trigger"
}
