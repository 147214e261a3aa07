"""Carts: the list with their state, a form that starts one, check-out and abandon buttons."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from sandbox import shop as shop_actions
from sandbox.errors import ValidationFailed
from sandbox.models import Cart
from sandbox.ui.forms import ShopItemForm
from sandbox.ui.views.common import LIST_LIMIT, form_invalid, merchant_action, merchant_view, refuse


def cart_state(cart: Cart) -> str:
    if cart.checked_out_at:
        return "checked out"
    if cart.abandoned_at:
        return "abandoned"
    return "open"


@merchant_view
def cart_list(request: HttpRequest) -> HttpResponse:
    form = ShopItemForm(request.shop, request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            form_invalid(request)
        else:
            try:
                cart = shop_actions.start_cart(
                    request.shop, form.cleaned_data["email"], form.items()
                )
            except ValidationFailed as exc:
                refuse(request, exc, form)
            else:
                messages.success(request, f"Cart started for {cart.email}")
                return redirect("sandbox:carts")
    carts = request.shop.carts.select_related("order").order_by("-created_at", "-id")[:LIST_LIMIT]
    rows = [(cart, cart_state(cart)) for cart in carts]
    return render(request, "sandbox/ui/carts.html", {"rows": rows, "form": form})


@merchant_action
def cart_check_out(request: HttpRequest, cart_id: str) -> HttpResponse:
    cart = get_object_or_404(Cart, pk=cart_id, shop=request.shop)
    try:
        order = shop_actions.check_out_cart(cart)
    except ValidationFailed as exc:
        refuse(request, exc)
    else:
        messages.success(request, f"Cart checked out as order #{order.number}")
    return redirect("sandbox:carts")


@merchant_action
def cart_abandon(request: HttpRequest, cart_id: str) -> HttpResponse:
    cart = get_object_or_404(Cart, pk=cart_id, shop=request.shop)
    try:
        shop_actions.abandon_cart(cart)
    except ValidationFailed as exc:
        refuse(request, exc)
    else:
        messages.success(request, f"Cart of {cart.email} abandoned: cart.abandoned fired")
    return redirect("sandbox:carts")
