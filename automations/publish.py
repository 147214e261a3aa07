"""Publishing Celery messages without ever failing or hanging a request that has committed.

The database row is the truth; a message is only a nudge. When the broker is down the publish
is given up quickly and logged, and the engine's clock or a sweep finds the row (DESIGN.md,
"Celery"). Steps travel in batches: one message per operation carries many step-run ids.
"""

import logging

from django.conf import settings
from django.db import transaction

from config.celery import app

log = logging.getLogger(__name__)


def publish(task_name: str, *args, countdown: float | None = None) -> bool:
    """Send one task by name now; False (and a log line) if the broker would not take it."""
    try:
        app.send_task(
            task_name,
            args=args,
            countdown=countdown,
            retry=False,  # the sweep retries
        )
    except Exception as exc:  # noqa: BLE001 - any broker failure is the sweep's to fix
        log.warning("could not publish %s: %s", task_name, type(exc).__name__)
        return False
    return True


def publish_on_commit(task_name: str, *args, countdown: float | None = None) -> None:
    """Publish once the surrounding transaction commits (immediately outside one)."""
    transaction.on_commit(lambda: publish(task_name, *args, countdown=countdown), robust=True)


def publish_batches(batches: dict[str, list[int]]) -> bool:
    """One message per operation and chunk of ids; stops at the first refused publish (a down
    broker costs one timeout, not one per message) and says whether all went out."""
    from automations.engine.runs import operation_task_name  # the task naming rule

    size = settings.ENGINE_STEP_BATCH_SIZE
    for operation, ids in batches.items():
        for start in range(0, len(ids), size):
            if not publish(operation_task_name(operation), ids[start : start + size]):
                return False
    return True


def publish_batches_on_commit(batches: dict[str, list[int]]) -> None:
    if batches:
        transaction.on_commit(lambda: publish_batches(batches), robust=True)
