"""Customers: the list, a registration form and an edit page."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from sandbox import shop as shop_actions
from sandbox.errors import ValidationFailed
from sandbox.models import Customer
from sandbox.ui.forms import CustomerEditForm, CustomerForm
from sandbox.ui.views.common import LIST_LIMIT, form_invalid, merchant_view, refuse


@merchant_view
def customer_list(request: HttpRequest) -> HttpResponse:
    form = CustomerForm(request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            form_invalid(request)
        else:
            try:
                customer = shop_actions.create_customer(request.shop, form.cleaned_data)
            except ValidationFailed as exc:
                refuse(request, exc, form)
            else:
                messages.success(request, f"Customer {customer.email} registered")
                return redirect("sandbox:customers")
    customers = request.shop.customers.order_by("-created_at", "-id")[:LIST_LIMIT]
    return render(request, "sandbox/ui/customers.html", {"customers": customers, "form": form})


@merchant_view
def customer_edit(request: HttpRequest, customer_id: str) -> HttpResponse:
    customer = get_object_or_404(Customer, pk=customer_id, shop=request.shop)
    initial = {name: getattr(customer, name) for name in CustomerEditForm.base_fields}
    form = CustomerEditForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if not form.is_valid():
            form_invalid(request)
        else:
            try:
                shop_actions.update_customer(customer, form.cleaned_data)
            except ValidationFailed as exc:
                customer.refresh_from_db()  # the refused change was rolled back
                refuse(request, exc, form)
            else:
                messages.success(request, f"Customer {customer.email} saved")
                return redirect("sandbox:customers")
    context = {"customer": customer, "form": form}
    return render(request, "sandbox/ui/customer_edit.html", context)
