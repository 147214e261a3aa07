"""Discount codes: the list and a form that creates one."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from sandbox import shop as shop_actions
from sandbox.errors import ValidationFailed
from sandbox.ui.forms import DiscountForm
from sandbox.ui.views.common import LIST_LIMIT, form_invalid, merchant_view, refuse


@merchant_view
def discount_list(request: HttpRequest) -> HttpResponse:
    form = DiscountForm(request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            form_invalid(request)
        else:
            try:
                discount = shop_actions.create_discount(request.shop, form.discount_data())
            except ValidationFailed as exc:
                refuse(request, exc, form)
            else:
                messages.success(request, f"Discount {discount.code} created")
                return redirect("sandbox:discounts")
    discounts = request.shop.discounts.order_by("-created_at", "-id")[:LIST_LIMIT]
    return render(request, "sandbox/ui/discounts.html", {"discounts": discounts, "form": form})
