"""Publishing Celery messages without ever failing or hanging a request that has committed.

The database row is the truth; a message is only a nudge. When the broker is down the publish
is given up quickly and logged, and the periodic sweep finds the row (DESIGN.md, "Celery").
"""

import logging

from django.db import transaction

from config.celery import app

log = logging.getLogger(__name__)

DISPATCH_EVENT = "automations.dispatch_event"
START_RUN = "automations.start_run"


def publish(task_name: str, *args, countdown: float | None = None) -> bool:
    """Send one task by name now; False (and a log line) if the broker would not take it."""
    try:
        app.send_task(
            task_name, args=args, countdown=countdown, retry=False  # the sweep retries
        )
    except Exception as exc:  # noqa: BLE001 - any broker failure is the sweep's to fix
        log.warning("could not publish %s%r: %s", task_name, args, type(exc).__name__)
        return False
    return True


def publish_on_commit(task_name: str, *args, countdown: float | None = None) -> None:
    """Publish once the surrounding transaction commits (immediately outside one)."""
    transaction.on_commit(lambda: publish(task_name, *args, countdown=countdown), robust=True)


def enqueue_dispatch(event_id: int) -> None:
    publish_on_commit(DISPATCH_EVENT, event_id)
