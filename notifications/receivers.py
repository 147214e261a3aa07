"""Email merchants when the engine says a run failed or a shop needs reconnecting.

A notification must never break the work that sent the signal: failures are logged, not raised.
"""

import logging

from django.dispatch import receiver

from automations.signals import recipe_tripped, run_failed
from connectors.signals import connection_needs_reconnect
from notifications import sending

log = logging.getLogger(__name__)


@receiver(run_failed, dispatch_uid="notifications.run_failed")
def on_run_failed(sender, run, **kwargs) -> None:
    try:
        sending.notify_run_failed(run)
    except Exception as exc:  # noqa: BLE001 - email trouble must not fail the run's worker
        log.warning("could not email about failed run %s: %s", run.pk, type(exc).__name__)


@receiver(connection_needs_reconnect, dispatch_uid="notifications.connection_needs_reconnect")
def on_connection_needs_reconnect(sender, connection, **kwargs) -> None:
    try:
        sending.notify_reconnect(connection)
    except Exception as exc:  # noqa: BLE001 - nor the request or task that found the 401
        log.warning("could not email about connection %s: %s", connection.pk, type(exc).__name__)


@receiver(recipe_tripped, dispatch_uid="notifications.recipe_tripped")
def on_recipe_tripped(sender, recipe_id, **kwargs) -> None:
    try:
        sending.notify_recipe_switched_off(recipe_id)
    except Exception as exc:  # noqa: BLE001 - nor the worker that finished the run
        log.warning("could not email about recipe %s: %s", recipe_id, type(exc).__name__)
