"""Resume a connection's work after the merchant reconnected its shop.

While a shop needed reconnecting, its recipes were paused with a reason and steps that met
the dead token were parked (`waiting` for `reconnect`, no next_attempt_at; see
automations.engine.outcomes.PAUSED_REASON). Reconnecting stores fresh tokens and sends
connectors.signals.connection_connected; this undoes the pause. Only database writes and
bounded publishes: it runs in the OAuth callback's request, and what a lost publish leaves
behind is due for the sweeps (sync_all_subscriptions, sweep_waiting_steps).
"""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from automations.engine.runs import operation_task_name
from automations.models import Recipe, StepRun, Subscription
from automations.publish import publish
from automations.reconcile import RECONCILE_CONNECTION
from automations.subscriptions import REGISTERING, SYNC_SUBSCRIPTION
from connectors.models import Connection

PAUSED_PREFIX = "Paused:"  # steps.PAUSED_REASON's opening word
# Steps republished from the request itself; more are left due for sweep_waiting_steps.
MAX_INLINE_PUBLISHES = 500


def resume_connection(connection: Connection) -> dict[str, int]:
    """Unpause recipes, re-sync subscriptions and restart parked steps; counts of each."""
    # updated_at is left alone: polling resumes from its cursor, not from now.
    recipes = (
        Recipe.objects.filter(connection=connection, enabled=True)
        .exclude(paused_reason="")
        .update(paused_reason="")
    )
    subscription_ids = list(
        Subscription.objects.filter(connection=connection, status__in=REGISTERING).values_list(
            "id", flat=True
        )
    )
    # Only failed rows are made due at once: a pending row may be in a worker's hands now.
    Subscription.objects.filter(pk__in=subscription_ids, status=Subscription.Status.FAILED).update(
        next_attempt_at=None
    )
    broker_up = _publish_all((SYNC_SUBSCRIPTION, pk) for pk in subscription_ids)
    if broker_up:
        publish(RECONCILE_CONNECTION, connection.pk)  # hooks may have gone while cut off
    paused = StepRun.objects.filter(
        Q(wait_kind=StepRun.WaitKind.RECONNECT) | Q(error__startswith=PAUSED_PREFIX),
        run__recipe__connection=connection,
        status=StepRun.Status.WAITING,
        next_attempt_at__isnull=True,
    )
    steps = list(paused.values_list("id", "operation"))
    # Due now: if a publish below is lost, the engine's clock starts the step instead.
    paused.update(next_attempt_at=timezone.now())
    if broker_up:
        _publish_all(
            (operation_task_name(operation), pk) for pk, operation in steps[:MAX_INLINE_PUBLISHES]
        )
    return {"recipes": recipes, "subscriptions": len(subscription_ids), "steps": len(steps)}


def _publish_all(messages) -> bool:
    """Publish until one fails: a down broker costs the request one timeout, not hundreds."""
    for task_name, pk in messages:
        if not publish(task_name, pk):
            return False
    return True
