"""Subscriptions and their deliveries: what the shop owes each app, and how it went."""

from django.contrib import messages
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from sandbox.models import Delivery, DeliveryAttempt, Webhook
from sandbox.ui.views.common import merchant_action, merchant_view

LATEST_DELIVERIES = 50


@merchant_view
def webhook_list(request: HttpRequest) -> HttpResponse:
    hooks = request.shop.webhooks.select_related("application").order_by("-created_at", "-id")
    return render(request, "sandbox/ui/webhooks.html", {"webhooks": hooks})


@merchant_action
def webhook_delete(request: HttpRequest, webhook_id: str) -> HttpResponse:
    """Drop a subscription as if Cartly had lost it: the app is not told."""
    hook = get_object_or_404(Webhook, pk=webhook_id, shop=request.shop)
    hook.delete()
    messages.success(request, f"Webhook {webhook_id} deleted")
    return redirect("sandbox:webhooks")


@merchant_view
def delivery_list(request: HttpRequest) -> HttpResponse:
    attempts = Prefetch(
        "attempt_log", queryset=DeliveryAttempt.objects.order_by("attempted_at", "id")
    )
    deliveries = (
        Delivery.objects.filter(event__shop=request.shop)
        .select_related("event")
        .defer("event__body")
        .prefetch_related(attempts)
        .order_by("-created_at", "-id")[:LATEST_DELIVERIES]
    )
    return render(request, "sandbox/ui/deliveries.html", {"deliveries": deliveries})


def queue_redelivery(delivery: Delivery, webhook: Webhook) -> Delivery:
    """A fresh pending delivery of the same event (same id): the at-least-once case."""
    return Delivery.objects.create(
        event_id=delivery.event_id,
        webhook=webhook,
        webhook_ref=webhook.id,
        url=webhook.url,
        application_id=webhook.application_id,
        next_attempt_at=timezone.now(),
    )


@merchant_action
def delivery_redeliver(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = get_object_or_404(
        Delivery.objects.select_related("webhook", "event"),
        pk=delivery_id,
        event__shop=request.shop,
    )
    if delivery.webhook is None:
        messages.error(
            request, f"Webhook {delivery.webhook_ref} no longer exists: nothing to redeliver to"
        )
    else:
        queue_redelivery(delivery, delivery.webhook)
        messages.success(request, f"{delivery.event.topic} {delivery.event_id} queued again")
    return redirect("sandbox:deliveries")
