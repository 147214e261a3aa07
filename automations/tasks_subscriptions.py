"""Celery shells of the REST Hook lifecycle (automations/subscriptions.py): ids in.

Neither can register or remove a hook twice: each try first claims the row with a conditional
UPDATE (a redelivered copy finds it claimed or done), and a registration adopts the hook that
Cartly already has at the subscription's URL instead of creating another.
"""

from celery import shared_task

from automations import subscriptions
from automations.models import Subscription


@shared_task(name=subscriptions.SYNC_SUBSCRIPTION)
def sync_subscription(subscription_id: int) -> None:
    """Register, or remove, one subscription if it is due; failures plan their own retry."""
    subscription = Subscription.objects.filter(pk=subscription_id).first()
    if subscription is not None:
        subscriptions.sync_subscription(subscription)


@shared_task(name="automations.sync_all_subscriptions")
def sync_all_subscriptions() -> int:
    """For beat: hand every due subscription to sync_subscription; how many were due."""
    return len(subscriptions.sync_all_subscriptions())
