"""Products: the list with variants, an add form, an edit page (stock included) and per-variant
stock changes; every stock change fires inventory_level.updated."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from sandbox import shop as shop_actions
from sandbox.errors import ValidationFailed
from sandbox.models import Product, Variant
from sandbox.ui.forms import InventoryForm, ProductEditForm, ProductForm
from sandbox.ui.views.common import LIST_LIMIT, form_invalid, merchant_action, merchant_view, refuse


@merchant_view
def product_list(request: HttpRequest) -> HttpResponse:
    form = ProductForm(request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            form_invalid(request)
        else:
            try:
                product = shop_actions.create_product(
                    request.shop, form.product_data(), [form.variant_data()]
                )
            except ValidationFailed as exc:
                refuse(request, exc, form)
            else:
                messages.success(request, f"Product “{product.title}” added")
                return redirect("sandbox:products")
    products = (request.shop.products.prefetch_related("variants").order_by("-created_at", "-id"))[
        :LIST_LIMIT
    ]
    context = {"products": products, "form": form, "inventory_form": InventoryForm()}
    return render(request, "sandbox/ui/products.html", context)


@merchant_view
def product_edit(request: HttpRequest, product_id: str) -> HttpResponse:
    product = get_object_or_404(Product, pk=product_id, shop=request.shop)
    initial = {name: getattr(product, name) for name in ProductEditForm.base_fields}
    variants = list(product.variants.order_by("id"))
    form = ProductEditForm(request.POST or None, initial=initial, variants=variants)
    if request.method == "POST":
        if not form.is_valid():
            form_invalid(request)
        else:
            try:
                shop_actions.update_product(product, form.product_data(), form.levels())
            except ValidationFailed as exc:
                product.refresh_from_db()  # the refused change was rolled back
                refuse(request, exc, form)
            else:
                messages.success(request, f"Product “{product.title}” saved")
                return redirect("sandbox:products")
    return render(request, "sandbox/ui/product_edit.html", {"product": product, "form": form})


@merchant_action
def variant_inventory(request: HttpRequest, variant_id: str) -> HttpResponse:
    variant = get_object_or_404(Variant, pk=variant_id, product__shop=request.shop)
    form = InventoryForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a whole number and choose to adjust or set the stock.")
        return redirect("sandbox:products")
    change = {form.cleaned_data["mode"]: form.cleaned_data["amount"]}
    try:
        variant = shop_actions.set_inventory(variant, **change)
    except ValidationFailed as exc:
        refuse(request, exc)
    else:
        name = variant.sku or variant.product.title
        messages.success(request, f"Stock of {name} is now {variant.available}")
    return redirect("sandbox:products")
