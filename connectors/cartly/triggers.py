"""Cartly's REST Hook events as triggers (cartly-api.md, "REST Hook events").

Each trigger's object is the delivery's `data`. Polling, the fallback for a missing or unhealthy
hook, reads the same objects from a list endpoint: new objects by `since_id` (ids sort by
creation time), changes by `updated_since`. The output fields below are also used by the
actions and searches that return the same objects.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from connectors.base import (
    OutputField,
    PollCursor,
    PollFilter,
    PollLevels,
    Trigger,
    load_sample,
)

SAMPLES = Path(__file__).resolve().parent / "samples"

# --- what the builder's picker offers, per object (cartly-api.md, "Objects") ------------------

CUSTOMER_OUTPUT = (
    OutputField("id", "Customer ID"),
    OutputField("email", "Email"),
    OutputField("first_name", "First name"),
    OutputField("last_name", "Last name"),
    OutputField("phone", "Phone"),
    OutputField("tags", "Tags"),
    OutputField("accepts_marketing", "Accepts marketing"),
    OutputField("orders_count", "Orders count"),
    OutputField("total_spent", "Total spent"),
    OutputField("note", "Note"),
    OutputField("created_at", "Created at"),
    OutputField("updated_at", "Updated at"),
)

ORDER_OUTPUT = (
    OutputField("id", "Order ID"),
    OutputField("number", "Order number"),
    OutputField("status", "Status"),
    OutputField("currency", "Currency"),
    OutputField("subtotal_price", "Subtotal"),
    OutputField("total_price", "Total"),
    OutputField("email", "Email"),
    OutputField("customer.id", "Customer ID"),
    OutputField("customer.email", "Customer email"),
    OutputField("customer.first_name", "Customer first name"),
    OutputField("customer.last_name", "Customer last name"),
    OutputField("line_items", "Line items"),
    OutputField("line_items.0.title", "First item title"),
    OutputField("line_items.0.sku", "First item SKU"),
    OutputField("line_items.0.quantity", "First item quantity"),
    OutputField("note", "Note"),
    OutputField("created_at", "Created at"),
    OutputField("updated_at", "Updated at"),
    OutputField("fulfilled_at", "Fulfilled at"),
    OutputField("canceled_at", "Canceled at"),
)

PRODUCT_OUTPUT = (
    OutputField("id", "Product ID"),
    OutputField("title", "Title"),
    OutputField("description", "Description"),
    OutputField("vendor", "Vendor"),
    OutputField("status", "Status"),
    OutputField("variants", "Variants"),
    OutputField("variants.0.id", "First variant ID"),
    OutputField("variants.0.sku", "First variant SKU"),
    OutputField("variants.0.price", "First variant price"),
    OutputField("variants.0.available", "First variant stock"),
    OutputField("created_at", "Created at"),
    OutputField("updated_at", "Updated at"),
)

CART_OUTPUT = (
    OutputField("id", "Cart ID"),
    OutputField("email", "Email"),
    OutputField("customer.id", "Customer ID"),
    OutputField("customer.first_name", "Customer first name"),
    OutputField("customer.last_name", "Customer last name"),
    OutputField("line_items", "Line items"),
    OutputField("line_items.0.title", "First item title"),
    OutputField("subtotal_price", "Subtotal"),
    OutputField("currency", "Currency"),
    OutputField("recovery_url", "Recovery link"),
    OutputField("updated_at", "Updated at"),
    OutputField("abandoned_at", "Abandoned at"),
)

INVENTORY_LEVEL_OUTPUT = (
    OutputField("variant_id", "Variant ID"),
    OutputField("product_id", "Product ID"),
    OutputField("sku", "SKU"),
    OutputField("available", "Available"),
    OutputField("previous_available", "Previously available"),
    OutputField("updated_at", "Updated at"),
)

NEW = PollFilter(PollCursor.SINCE_ID)
UPDATED = PollFilter(PollCursor.UPDATED_SINCE)
HOOKS = "webhooks"  # the scope every REST Hook subscription needs


def inventory_levels(product: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A listed product's variants as `inventory_level.updated` data, less `previous_available`.

    Cartly has no list of inventory levels (cartly-api.md, "Changelog events"), so polling reads
    products. A variant carries no time of its own: the product's `updated_at` moves with each
    stock change, to the time the hook's data carries, so both ways give one dedupe key.
    """
    variants = product.get("variants")
    if not isinstance(variants, list):
        return []
    return [
        {
            "variant_id": variant["id"],
            "product_id": product.get("id"),
            "sku": variant.get("sku", ""),
            "available": variant["available"],
            "updated_at": product.get("updated_at"),
        }
        for variant in variants
        if isinstance(variant, Mapping) and variant.get("id") and "available" in variant
    ]


order_created = Trigger(
    key="cartly.order_created",
    noun="Order",
    label="New Order",
    description="Starts when a customer places an order.",
    event="order.created",
    resource="orders",
    poll_filter=NEW,
    scopes=(HOOKS, "read_orders"),
    output_fields=ORDER_OUTPUT,
    sample=load_sample(SAMPLES, "order__created"),
)

order_updated = Trigger(
    key="cartly.order_updated",
    noun="Order",
    label="Order Updated",
    description="Starts each time an order changes: its status, note, email or line items.",
    event="order.updated",
    resource="orders",
    # Both ways see every change: hooks fire on edits too (cartly-api.md, "Changelog events").
    poll_filter=UPDATED,
    dedupe_on_updated_at=True,  # one order changes several times
    scopes=(HOOKS, "read_orders"),
    output_fields=ORDER_OUTPUT,
    sample=load_sample(SAMPLES, "order__updated"),
)

order_fulfilled = Trigger(
    key="cartly.order_fulfilled",
    noun="Order",
    label="Order Fulfilled",
    description="Starts when an order is marked fulfilled.",
    event="order.fulfilled",
    resource="orders",
    poll_filter=PollFilter(PollCursor.UPDATED_SINCE, status="fulfilled"),
    scopes=(HOOKS, "read_orders"),
    output_fields=ORDER_OUTPUT,
    sample=load_sample(SAMPLES, "order__fulfilled"),
)

order_canceled = Trigger(
    key="cartly.order_canceled",
    noun="Order",
    label="Order Canceled",
    description="Starts when an order is canceled.",
    event="order.canceled",
    resource="orders",
    poll_filter=PollFilter(PollCursor.UPDATED_SINCE, status="canceled"),
    scopes=(HOOKS, "read_orders"),
    output_fields=ORDER_OUTPUT,
    sample=load_sample(SAMPLES, "order__canceled"),
)

product_created = Trigger(
    key="cartly.product_created",
    noun="Product",
    label="New Product",
    description="Starts when a product is added to the shop.",
    event="product.created",
    resource="products",
    poll_filter=NEW,
    scopes=(HOOKS, "read_products"),
    output_fields=PRODUCT_OUTPUT,
    sample=load_sample(SAMPLES, "product__created"),
)

product_updated = Trigger(
    key="cartly.product_updated",
    noun="Product",
    label="Product Updated",
    description="Starts each time a product is edited.",
    event="product.updated",
    resource="products",
    poll_filter=UPDATED,
    dedupe_on_updated_at=True,  # one product is edited many times
    scopes=(HOOKS, "read_products"),
    output_fields=PRODUCT_OUTPUT,
    sample=load_sample(SAMPLES, "product__updated"),
)

customer_created = Trigger(
    key="cartly.customer_created",
    noun="Customer",
    label="New Customer",
    description="Starts when a customer registers or places a first order.",
    event="customer.created",
    resource="customers",
    poll_filter=NEW,
    scopes=(HOOKS, "read_customers"),
    output_fields=CUSTOMER_OUTPUT,
    sample=load_sample(SAMPLES, "customer__created"),
)

cart_abandoned = Trigger(
    key="cartly.cart_abandoned",
    noun="Cart",
    label="Abandoned Cart",
    description="Starts when a cart is left without checkout for the shop's configured delay.",
    event="cart.abandoned",
    resource=None,  # Cartly has no cart list endpoint: REST Hook only
    poll_filter=None,
    scopes=(HOOKS,),
    output_fields=CART_OUTPUT,
    sample=load_sample(SAMPLES, "cart__abandoned"),
)

inventory_changed = Trigger(
    key="cartly.inventory_changed",
    noun="Inventory level",
    label="Inventory Changed",
    description=(
        "Starts each time a variant's available quantity changes: an order placed or "
        "canceled, a stock adjustment, an edit in the shop's admin."
    ),
    event="inventory_level.updated",
    resource="products",  # no list of levels: polling compares each variant with the last seen
    poll_filter=UPDATED,
    poll_levels=PollLevels(
        expand=inventory_levels, value="available", previous="previous_available"
    ),
    dedupe_on_updated_at=True,  # cartly-api.md: (event, variant id, updated_at)
    id_field="variant_id",
    scopes=(HOOKS, "read_products"),
    output_fields=INVENTORY_LEVEL_OUTPUT,
    sample=load_sample(SAMPLES, "inventory_level__updated"),
)

TRIGGERS = (
    order_created,
    order_updated,
    order_fulfilled,
    order_canceled,
    product_created,
    product_updated,
    customer_created,
    cart_abandoned,
    inventory_changed,
)
