"""Objects as the API shows them (cartly-api.md, "Objects"): money as strings, times in UTC."""

from datetime import UTC, datetime
from decimal import Decimal

from django.conf import settings

from sandbox.models import Cart, Customer, Discount, Order, Product, Shop, Variant, Webhook


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def shop_dict(shop: Shop) -> dict:
    return {"id": shop.id, "name": shop.name, "domain": shop.domain, "currency": shop.currency}


def customer_dict(c: Customer) -> dict:
    return {
        "id": c.id,
        "email": c.email,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "phone": c.phone,
        "tags": list(c.tags),
        "accepts_marketing": c.accepts_marketing,
        "orders_count": c.orders_count,
        "total_spent": money(c.total_spent),
        "note": c.note,
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
    }


def customer_brief(c: Customer | None) -> dict | None:
    if c is None:
        return None
    return {"id": c.id, "email": c.email, "first_name": c.first_name, "last_name": c.last_name}


def order_dict(o: Order) -> dict:
    return {
        "id": o.id,
        "number": o.number,
        "status": o.status,
        "currency": o.currency,
        "subtotal_price": money(o.subtotal_price),
        "total_price": money(o.total_price),
        "customer": customer_brief(o.customer),
        "email": o.email,
        "line_items": list(o.line_items),
        "note": o.note,
        "created_at": iso(o.created_at),
        "updated_at": iso(o.updated_at),
        "fulfilled_at": iso(o.fulfilled_at),
        "canceled_at": iso(o.canceled_at),
    }


def variant_dict(v: Variant) -> dict:
    return {
        "id": v.id,
        "sku": v.sku,
        "title": v.title,
        "price": money(v.price),
        "available": v.available,
    }


def product_dict(p: Product) -> dict:
    return {
        "id": p.id,
        "title": p.title,
        "description": p.description,
        "vendor": p.vendor,
        "status": p.status,
        "variants": [variant_dict(v) for v in p.variants.all()],
        "created_at": iso(p.created_at),
        "updated_at": iso(p.updated_at),
    }


def cart_dict(c: Cart) -> dict:
    return {
        "id": c.id,
        "email": c.email,
        "customer": customer_brief(c.customer),
        "line_items": list(c.line_items),
        "subtotal_price": money(c.subtotal_price),
        "currency": c.currency,
        "updated_at": iso(c.updated_at),
        "abandoned_at": iso(c.abandoned_at),
        "recovery_url": f"{settings.SANDBOX_BASE_URL}/store/{c.shop_id}/carts/{c.id}/recover",
    }


def discount_dict(d: Discount) -> dict:
    return {
        "id": d.id,
        "code": d.code,
        "kind": d.kind,
        "value": money(d.value),
        "minimum_subtotal": money(d.minimum_subtotal),
        "usage_limit": d.usage_limit,
        "starts_at": iso(d.starts_at),
        "ends_at": iso(d.ends_at),
        "created_at": iso(d.created_at),
    }


def webhook_dict(w: Webhook) -> dict:
    return {"id": w.id, "url": w.url, "events": list(w.events), "created_at": iso(w.created_at)}


def inventory_level_dict(v: Variant) -> dict:
    return {"variant_id": v.id, "available": v.available, "updated_at": iso(v.updated_at)}


def inventory_change_dict(v: Variant, previous: int) -> dict:
    """`inventory_level.updated`'s data (cartly-api.md, "Changelog events")."""
    return {
        "variant_id": v.id,
        "product_id": v.product_id,
        "sku": v.sku,
        "available": v.available,
        "previous_available": previous,
        "updated_at": iso(v.updated_at),
    }
