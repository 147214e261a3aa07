"""What `sandbox_event` does: for each REST Hook event, the real shop action behind it.

Every step goes through `sandbox.shop`, exactly as a merchant's or a buyer's click would, so
events and deliveries flow as they do in use; a step the action needs first (placing an order
before paying it) is taken for real too, and fires its own events.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from sandbox import shop as actions
from sandbox.events import EVENT_TYPES
from sandbox.models import Customer, Order, Product, Shop, Variant

FAKE_PRODUCTS = ("Enamel Mug", "Canvas Tote", "Linen Apron", "Wool Beanie", "Cotton Tee")


class ScenarioError(Exception):
    """The shop cannot play this scenario (no shop, nothing to sell...)."""


@dataclass
class Done:
    """What one scenario run did: its steps, in order, and the ids it touched."""

    event: str
    steps: list[str] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)

    def line(self) -> str:
        ids = " ".join(f"{key}={value}" for key, value in self.ids.items())
        return f"{self.event}: {'; '.join(self.steps)} [{ids}]"

    def as_dict(self) -> dict:
        return {"event": self.event, "steps": self.steps, "ids": self.ids}


def find_shop(domain: str | None) -> Shop:
    """The shop with this domain, or the first one created (the seeded demo shop)."""
    if domain:
        found = Shop.objects.filter(domain=domain).first()
        if found is None:
            raise ScenarioError(f"no shop with domain {domain!r}")
        return found
    first = Shop.objects.order_by("id").first()  # prefixed ULIDs sort by creation
    if first is None:
        raise ScenarioError("the sandbox has no shop yet: run `manage.py sandbox_seed` first")
    return first


def _any_variant(shop: Shop) -> Variant:
    variants = Variant.objects.filter(product__shop=shop, product__status=Product.Status.ACTIVE)
    variant = variants.select_related("product").order_by("?").first()
    if variant is None:
        raise ScenarioError(f"{shop.domain} has no active product to sell: add one first")
    return variant


# --- orders ----------------------------------------------------------------------------------


def _place(shop: Shop, done: Done) -> Order:
    shop.refresh_from_db(fields=["next_order_number"])
    email = f"buyer-{shop.next_order_number}@example.com"
    order = actions.place_order(shop, email, [(_any_variant(shop), random.randint(1, 3))])
    done.steps.append(f"placed order #{order.number} for {email}")
    done.ids.update(order_id=order.id, customer_id=order.customer_id)
    return order


def _latest(shop: Shop, *statuses: str) -> Order | None:
    return Order.objects.filter(shop=shop, status__in=statuses).order_by("-id").first()


def _move(order: Order, status: str, verb: str, done: Done) -> Order:
    order = actions.update_order(order, status=status)
    done.steps.append(f"{verb} order #{order.number}")
    done.ids["order_id"] = order.id
    return order


def _pending(shop: Shop, done: Done) -> Order:
    return _latest(shop, Order.Status.PENDING) or _place(shop, done)


def _paid(shop: Shop, done: Done) -> Order:
    paid = _latest(shop, Order.Status.PAID)
    return paid or _move(_pending(shop, done), Order.Status.PAID, "paid", done)


def order_created(shop: Shop, done: Done) -> None:
    _place(shop, done)


def order_updated(shop: Shop, done: Done) -> None:
    _move(_pending(shop, done), Order.Status.PAID, "paid", done)


def order_fulfilled(shop: Shop, done: Done) -> None:
    # Paying first fires order.updated as well: that is what a real shop does.
    _move(_paid(shop, done), Order.Status.FULFILLED, "fulfilled", done)


def order_canceled(shop: Shop, done: Done) -> None:
    order = _latest(shop, Order.Status.PENDING, Order.Status.PAID) or _place(shop, done)
    _move(order, Order.Status.CANCELED, "canceled", done)


# --- products, customers, carts --------------------------------------------------------------


def product_created(shop: Shop, done: Done) -> None:
    n = Product.objects.filter(shop=shop).count() + 1
    price = Decimal(random.randint(500, 6000)) / 100
    product = actions.create_product(
        shop,
        {"title": f"{random.choice(FAKE_PRODUCTS)} No. {n}", "vendor": "Sandbox Supply Co."},
        [{"sku": f"SBX-{n:04d}", "title": "Default", "price": str(price), "available": 25}],
    )
    done.steps.append(f"added product {product.title!r}")
    done.ids["product_id"] = product.id


def product_updated(shop: Shop, done: Done) -> None:
    product = Product.objects.filter(shop=shop).order_by("?").first()
    if product is None:
        product_created(shop, done)
        product = Product.objects.get(pk=done.ids["product_id"])
    stamp = timezone.now().strftime("%Y-%m-%d %H:%M:%S")
    actions.update_product(product, {"description": f"Edited by sandbox_event at {stamp} UTC."})
    done.steps.append(f"edited product {product.title!r}")
    done.ids["product_id"] = product.id


def _unused_email(shop: Shop, kind: str) -> str:
    n = Customer.objects.filter(shop=shop).count() + 1
    while Customer.objects.filter(shop=shop, email=f"{kind}-{n}@example.com").exists():
        n += 1
    return f"{kind}-{n}@example.com"


def customer_created(shop: Shop, done: Done) -> None:
    email = _unused_email(shop, "customer")
    customer = actions.create_customer(
        shop, {"email": email, "first_name": "Sam", "last_name": "Sample", "tags": ["sandbox"]}
    )
    done.steps.append(f"registered customer {email}")
    done.ids["customer_id"] = customer.id


def cart_abandoned(shop: Shop, done: Done) -> None:
    email = _unused_email(shop, "shopper")
    cart = actions.start_cart(shop, email, [(_any_variant(shop), 1)])
    actions.abandon_cart(cart)  # now, instead of after the shop's delay
    done.steps.append(f"started a cart for {email} and abandoned it")
    done.ids["cart_id"] = cart.id


def inventory_level_updated(shop: Shop, done: Done) -> None:
    variant = _any_variant(shop)
    # Never 0 (no change, no event) and never below zero from here: a restock or a shrinkage.
    delta = random.choice((-1, 1)) * random.randint(1, 5)
    if variant.available + delta < 0:
        delta = -delta
    variant = actions.set_inventory(variant, adjustment=delta)
    name = variant.sku or variant.product.title
    done.steps.append(f"changed the stock of {name} by {delta:+d} to {variant.available}")
    done.ids.update(variant_id=variant.id, product_id=variant.product_id)


SCENARIOS: dict[str, Callable[[Shop, Done], None]] = {
    "order.created": order_created,
    "order.updated": order_updated,
    "order.fulfilled": order_fulfilled,
    "order.canceled": order_canceled,
    "product.created": product_created,
    "product.updated": product_updated,
    "customer.created": customer_created,
    "cart.abandoned": cart_abandoned,
    "inventory_level.updated": inventory_level_updated,
}
assert set(SCENARIOS) == set(EVENT_TYPES), "one scenario per event of the vendor page"


def play(shop: Shop, event: str) -> Done:
    """Make `event` happen in `shop` once, through the shop's real actions."""
    if event not in SCENARIOS:
        raise ScenarioError(f"unknown event {event!r}; choose one of: {', '.join(EVENT_TYPES)}")
    done = Done(event)
    SCENARIOS[event](shop, done)
    return done
