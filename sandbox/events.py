"""Shop events and the deliveries they owe to subscriptions (cartly-api.md, "Deliveries")."""

import json

from django.utils import timezone

from sandbox.models import Delivery, Event, Shop, Webhook
from sandbox.serializers import iso

# The eight REST Hook events of the vendor page, then those its changelog announced.
EVENT_TYPES = (
    "order.created",
    "order.updated",
    "order.fulfilled",
    "order.canceled",
    "product.created",
    "product.updated",
    "customer.created",
    "cart.abandoned",
    "inventory_level.updated",
)


def emit(shop: Shop, topic: str, data: dict) -> Event:
    """Record an event and queue one delivery per subscribed webhook.

    Call inside the transaction that made the change: the event exists if and only if the change
    does, and the delivery worker sends it after the commit, outside the request.
    """
    assert topic in EVENT_TYPES, topic
    event = Event(shop=shop, topic=topic, created_at=timezone.now())
    envelope = {
        "id": event.id,
        "event": topic,
        "created_at": iso(event.created_at),
        "shop_id": shop.id,
        "data": data,
    }
    event.body = json.dumps(envelope, separators=(",", ":"))
    event.save(force_insert=True)
    now = timezone.now()
    deliveries = [
        Delivery(
            event=event,
            webhook=hook,
            webhook_ref=hook.id,
            url=hook.url,
            application_id=hook.application_id,
            next_attempt_at=now,
        )
        for hook in Webhook.objects.filter(shop=shop)
        if topic in hook.events
    ]
    Delivery.objects.bulk_create(deliveries)
    return event
