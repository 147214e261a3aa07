"""Stock levels: every change of a variant's `available`, and the events it owes.

Every path that changes stock goes through `apply_levels`: an order placed or canceled, PUT
/apps/api/inventory/:variant_id and the merchant's product page (cartly-api.md, "Changelog
events": `inventory_level.updated` is fired "whenever a variant's available quantity changes,
by any means"). A level set to what it already is changes nothing and fires nothing.

One time stamps the variant, its product and the event's `updated_at`. The product's
`updated_at` moves because its variants are part of the product object; that is what lets a
poller, which has no list of inventory levels, find the change by `updated_since` and read the
very `updated_at` the hook sent, so the two dedupe to one change. Since the product object
changed, `product.updated` fires with it, as `order.updated` fires beside `order.fulfilled`.
"""

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from sandbox import events
from sandbox.cleaning import MAX_INT
from sandbox.errors import ValidationFailed
from sandbox.models import Product, Shop, Variant
from sandbox.serializers import inventory_change_dict, product_dict

INVENTORY_EVENT = "inventory_level.updated"


@dataclass(frozen=True)
class LevelChange:
    variant: Variant
    previous: int


def lock_variants(variant_ids: Iterable[str]) -> dict[str, Variant]:
    """The variants, locked until the transaction ends, always in id order (no deadlocks).

    Callers lock variants before they touch products, so two changes meet in one order.
    """
    ids = sorted(set(variant_ids))
    locked = Variant.objects.select_for_update(of=("self",)).select_related("product")
    return {variant.id: variant for variant in locked.filter(pk__in=ids).order_by("id")}


def check_level(level: int, field: str) -> int:
    if abs(level) > MAX_INT:
        raise ValidationFailed({field: ["would take the level out of range"]})
    return level


def quantities(lines: Iterable[tuple[str, int]]) -> Counter:
    """Quantities per variant id: one variant twice in an order is one change of its level."""
    total: Counter = Counter()
    for variant_id, quantity in lines:
        total[variant_id] += quantity
    return total


def apply_levels(
    shop: Shop,
    variants: Mapping[str, Variant],
    targets: Mapping[str, int],
    *,
    now: datetime | None = None,
    announce_products: bool = True,
) -> list[LevelChange]:
    """Set each locked variant to its target level and fire what the changes owe.

    `announce_products=False` is for a caller that fires `product.updated` itself (the product
    page, which changes other fields in the same save).
    """
    now = now or timezone.now()
    changes = []
    for variant_id in sorted(targets):
        variant, level = variants[variant_id], targets[variant_id]
        if level == variant.available:
            continue
        changes.append(LevelChange(variant, variant.available))
        variant.available, variant.updated_at = level, now
        Variant.objects.filter(pk=variant.pk).update(available=level, updated_at=now)
    product_ids = sorted({change.variant.product_id for change in changes})
    Product.objects.filter(pk__in=product_ids).update(updated_at=now)
    for change in changes:
        events.emit(shop, INVENTORY_EVENT, inventory_change_dict(change.variant, change.previous))
    if announce_products:
        for product in Product.objects.filter(pk__in=product_ids).order_by("id"):
            events.emit(shop, "product.updated", product_dict(product))
    return changes


def take(shop: Shop, lines: Iterable[tuple[str, int]], now: datetime) -> list[LevelChange]:
    """An order placed: each variant's stock goes down by what was bought."""
    wanted = quantities(lines)
    variants = lock_variants(wanted)
    targets = {
        vid: check_level(variants[vid].available - qty, "line_items") for vid, qty in wanted.items()
    }
    return apply_levels(shop, variants, targets, now=now)


def put_back(shop: Shop, line_items: list[dict], now: datetime) -> list[LevelChange]:
    """An order canceled: what it took goes back (variants deleted since are skipped)."""
    wanted = quantities((line["variant_id"], line["quantity"]) for line in line_items)
    variants = lock_variants(wanted)
    targets = {
        vid: check_level(variants[vid].available + qty, "line_items")
        for vid, qty in wanted.items()
        if vid in variants
    }
    return apply_levels(shop, variants, targets, now=now)
