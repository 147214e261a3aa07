"""Orders: the list, status buttons (ALLOWED_MOVES) and a form that places an order."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from sandbox import shop as shop_actions
from sandbox.errors import ValidationFailed
from sandbox.models import Order
from sandbox.ui.forms import ShopItemForm
from sandbox.ui.views.common import (
    LIST_LIMIT,
    form_invalid,
    merchant_action,
    merchant_view,
    readable,
    refuse,
)

# The buttons, in the order a merchant meets them, by the status they move to.
BUTTONS = [
    (Order.Status.PAID, "Pay"),
    (Order.Status.FULFILLED, "Fulfil"),
    (Order.Status.CANCELED, "Cancel"),
]


def buttons_for(order: Order) -> list[tuple[str, str]]:
    allowed = shop_actions.ALLOWED_MOVES[order.status]
    return [(status, label) for status, label in BUTTONS if status in allowed]


def order_rows(shop) -> list[tuple[Order, list[tuple[str, str]]]]:
    orders = shop.orders.order_by("-number")[:LIST_LIMIT]
    return [(order, buttons_for(order)) for order in orders]


@merchant_view
def order_list(request: HttpRequest) -> HttpResponse:
    form = ShopItemForm(request.shop, request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            form_invalid(request)
        else:
            try:
                order = shop_actions.place_order(
                    request.shop, form.cleaned_data["email"], form.items()
                )
            except ValidationFailed as exc:
                refuse(request, exc, form)
            else:
                messages.success(request, f"Order #{order.number} placed")
                return redirect("sandbox:orders")
    context = {"rows": order_rows(request.shop), "form": form}
    return render(request, "sandbox/ui/orders.html", context)


@merchant_action
def order_status(request: HttpRequest, order_id: str) -> HttpResponse:
    order = get_object_or_404(Order, pk=order_id, shop=request.shop)
    status = request.POST.get("status", "")
    try:
        order = shop_actions.update_order(order, status=status)
    except ValidationFailed as exc:
        messages.error(request, f"{readable(exc, name_fields=False)} (order #{order.number})")
    else:
        messages.success(request, f"Order #{order.number} is now {order.status}")
    return redirect("sandbox:orders")
