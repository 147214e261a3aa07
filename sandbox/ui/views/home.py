"""The shop at a glance: who it is, how much it holds, what just happened."""

from collections import Counter

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from sandbox.models import Event
from sandbox.ui.views.common import merchant_view

LATEST_EVENTS = 20


def delivery_summary(event: Event) -> str:
    """ "delivered 2, pending 1", or a plain word when no app subscribed to the topic."""
    counts = Counter(d.status for d in event.deliveries.all())
    if not counts:
        return "no subscriber"
    return ", ".join(f"{status} {n}" for status, n in sorted(counts.items()))


@merchant_view
def home(request: HttpRequest) -> HttpResponse:
    shop = request.shop
    counts = {
        "Orders": shop.orders.count(),
        "Customers": shop.customers.count(),
        "Products": shop.products.count(),
        "Carts": shop.carts.count(),
        "Discounts": shop.discounts.count(),
        "Webhooks": shop.webhooks.count(),
    }
    events = (
        Event.objects.filter(shop=shop)
        .only("id", "topic", "created_at")
        .prefetch_related("deliveries")
        .order_by("-created_at", "-id")[:LATEST_EVENTS]
    )
    rows = [(event, delivery_summary(event)) for event in events]
    return render(request, "sandbox/ui/home.html", {"shop": shop, "counts": counts, "rows": rows})
