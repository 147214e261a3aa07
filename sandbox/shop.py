"""What happens in a shop: every change the API, the merchant UI and `sandbox_event` make.

Each function runs in one transaction and emits the contract's events from inside it, so an
event exists exactly when its change does.
"""

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from sandbox import events, stock
from sandbox.cleaning import clean_email, clean_int, clean_money, clean_tags, clean_time
from sandbox.errors import ValidationFailed
from sandbox.models import Cart, Customer, Discount, Order, Product, Shop, Variant
from sandbox.serializers import cart_dict, customer_dict, order_dict, product_dict

# [assumed] order status moves: pending → paid → fulfilled, pending|paid → canceled.
ALLOWED_MOVES = {
    Order.Status.PENDING: {Order.Status.PAID, Order.Status.CANCELED},
    Order.Status.PAID: {Order.Status.FULFILLED, Order.Status.CANCELED},
    Order.Status.FULFILLED: set(),
    Order.Status.CANCELED: set(),
}
CUSTOMER_TEXT_FIELDS = {"first_name": 100, "last_name": 100, "phone": 40, "note": 5000}


def _apply_customer_fields(customer: Customer, data: dict) -> None:
    for field, max_length in CUSTOMER_TEXT_FIELDS.items():
        if field in data:
            value = data[field] if data[field] is not None else ""
            if not isinstance(value, str):
                raise ValidationFailed({field: ["must be text"]})
            if len(value) > max_length:
                raise ValidationFailed({field: [f"is longer than {max_length} characters"]})
            setattr(customer, field, value)
    if "tags" in data:
        customer.tags = clean_tags(data["tags"])
    if "accepts_marketing" in data:
        if not isinstance(data["accepts_marketing"], bool):
            raise ValidationFailed({"accepts_marketing": ["must be true or false"]})
        customer.accepts_marketing = data["accepts_marketing"]


def _save_unique(obj, field: str) -> None:
    """Save, turning a uniqueness race into the contract's 422."""
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError:
        raise ValidationFailed({field: ["already taken"]}) from None


# --- customers -------------------------------------------------------------------------------


@transaction.atomic
def create_customer(shop: Shop, data: dict) -> Customer:
    email = clean_email(data.get("email"))
    if Customer.objects.filter(shop=shop, email=email).exists():
        raise ValidationFailed({"email": ["already taken"]})
    customer = Customer(shop=shop, email=email)
    _apply_customer_fields(customer, data)
    _save_unique(customer, "email")
    events.emit(shop, "customer.created", customer_dict(customer))
    return customer


@transaction.atomic
def update_customer(customer: Customer, data: dict) -> Customer:
    if "email" in data:
        email = clean_email(data["email"])
        taken = Customer.objects.filter(shop=customer.shop_id, email=email)
        if taken.exclude(pk=customer.pk).exists():
            raise ValidationFailed({"email": ["already taken"]})
        customer.email = email
    _apply_customer_fields(customer, data)
    _save_unique(customer, "email")
    return customer


# --- orders ----------------------------------------------------------------------------------


def _line_item(variant: Variant, quantity: int) -> dict:
    title = variant.product.title
    if variant.title and variant.title != "Default":
        title = f"{title} - {variant.title}"
    return {
        "variant_id": variant.id,
        "product_id": variant.product_id,
        "title": title,
        "sku": variant.sku,
        "quantity": quantity,
        "price": f"{variant.price:.2f}",
    }


def build_line_items(shop: Shop, items: list[tuple[Variant, int]]) -> tuple[list[dict], Decimal]:
    if not items:
        raise ValidationFailed({"line_items": ["must hold at least one item"]})
    lines, subtotal = [], Decimal("0.00")
    for variant, quantity in items:
        if variant.product.shop_id != shop.id:
            raise ValidationFailed({"line_items": [f"unknown variant {variant.id}"]})
        if quantity < 1:
            raise ValidationFailed({"line_items": ["quantity must be at least 1"]})
        lines.append(_line_item(variant, quantity))
        subtotal += variant.price * quantity
    return lines, subtotal


@transaction.atomic
def place_order(shop: Shop, email: str, items: list[tuple[Variant, int]], note: str = "") -> Order:
    """A checkout: the buyer becomes a customer if new, stock goes down, order.created fires."""
    email = clean_email(email)
    shop = Shop.objects.select_for_update().get(pk=shop.pk)  # serialises order numbers
    lines, subtotal = build_line_items(shop, items)
    customer = Customer.objects.filter(shop=shop, email=email).first()
    if customer is None:
        customer = create_customer(shop, {"email": email})
    number = shop.next_order_number
    shop.next_order_number = number + 1
    shop.save(update_fields=["next_order_number"])
    order = Order.objects.create(
        shop=shop,
        number=number,
        currency=shop.currency,
        subtotal_price=subtotal,
        total_price=subtotal,
        customer=customer,
        email=email,
        line_items=lines,
        note=note,
    )
    customer.orders_count += 1
    customer.total_spent += subtotal
    customer.save(update_fields=["orders_count", "total_spent", "updated_at"])
    events.emit(shop, "order.created", order_dict(order))
    # Locked and read afresh: concurrent orders (and one variant twice) each take their share.
    stock.take(shop, [(variant.pk, quantity) for variant, quantity in items], timezone.now())
    return order


@transaction.atomic
def update_order(order: Order, status: str | None = None, note: str | None = None) -> Order:
    """Change an order's note and/or status; any change fires order.updated (and more).

    A cancel puts the order's stock back. A note edit without a status change fires
    order.updated too (cartly-api.md, "Changelog events": order modifications).
    """
    # of=("self",): PostgreSQL cannot lock the nullable side of the customer outer join.
    locked = Order.objects.select_for_update(of=("self",)).select_related("customer")
    order = locked.get(pk=order.pk)
    topics = []
    if note is not None:
        if not isinstance(note, str) or len(note) > 5000:
            raise ValidationFailed({"note": ["must be text of at most 5000 characters"]})
        if note != order.note:
            order.note = note
            topics.append("order.updated")
    if status is not None and status != order.status:
        if status not in Order.Status.values:
            raise ValidationFailed({"status": [f"must be one of {', '.join(Order.Status.values)}"]})
        if status not in ALLOWED_MOVES[order.status]:
            raise ValidationFailed({"status": [f"cannot change from {order.status} to {status}"]})
        order.status = status
        now = timezone.now()
        topics = ["order.updated"]  # once, however many things changed
        if status == Order.Status.FULFILLED:
            order.fulfilled_at = now
            topics.append("order.fulfilled")
        elif status == Order.Status.CANCELED:
            order.canceled_at = now
            topics.append("order.canceled")
    if not topics:
        return order  # nothing changed: no save, no event
    order.save()
    data = order_dict(order)
    for topic in topics:
        events.emit(order.shop, topic, data)
    if "order.canceled" in topics:
        stock.put_back(order.shop, order.line_items, order.canceled_at)
    return order


# --- products and inventory -----------------------------------------------------------------


def _clean_product_fields(product: Product, data: dict) -> None:
    if "title" in data:
        if not isinstance(data["title"], str) or not data["title"].strip():
            raise ValidationFailed({"title": ["is required"]})
        product.title = data["title"].strip()[:200]
    for field in ("description", "vendor"):
        if field in data:
            if not isinstance(data[field], str):
                raise ValidationFailed({field: ["must be text"]})
            setattr(product, field, data[field])
    if "status" in data:
        if data["status"] not in Product.Status.values:
            raise ValidationFailed(
                {"status": [f"must be one of {', '.join(Product.Status.values)}"]}
            )
        product.status = data["status"]


@transaction.atomic
def create_product(shop: Shop, data: dict, variants: list[dict] | None = None) -> Product:
    product = Product(shop=shop)
    if "title" not in data:
        raise ValidationFailed({"title": ["is required"]})
    _clean_product_fields(product, data)
    product.save()
    for spec in variants or [{"title": "Default", "price": "0.00", "available": 0}]:
        Variant.objects.create(
            product=product,
            sku=spec.get("sku", ""),
            title=spec.get("title", "Default"),
            price=clean_money(spec.get("price", "0.00"), "price"),
            available=clean_int(spec.get("available", 0), "available"),
        )
    events.emit(shop, "product.created", product_dict(product))
    return product


@transaction.atomic
def update_product(product: Product, data: dict, levels: dict[str, int] | None = None) -> Product:
    """Edit a product and, from the merchant's page, its variants' stock (`levels` by id)."""
    levels = levels or {}
    variants = stock.lock_variants(levels)  # before the product row: one lock order
    for variant_id in levels:
        if variant_id not in variants or variants[variant_id].product_id != product.pk:
            raise ValidationFailed({"variants": [f"unknown variant {variant_id}"]})
    targets = {vid: clean_int(level, "available") for vid, level in levels.items()}
    _clean_product_fields(product, data)
    product.save()
    stock.apply_levels(
        product.shop, variants, targets, now=product.updated_at, announce_products=False
    )
    product.refresh_from_db()
    events.emit(product.shop, "product.updated", product_dict(product))
    return product


@transaction.atomic
def set_inventory(variant: Variant, adjustment=None, available=None) -> Variant:
    """PUT /inventory/:variant_id: exactly one of a delta or an absolute level."""
    if (adjustment is None) == (available is None):
        raise ValidationFailed(
            {"adjustment": ["give exactly one of adjustment or available"]},
        )
    variant = stock.lock_variants([variant.pk])[variant.pk]
    if adjustment is not None:
        level = variant.available + clean_int(adjustment, "adjustment")
        stock.check_level(level, "adjustment")
    else:
        level = clean_int(available, "available")
    stock.apply_levels(variant.product.shop, {variant.pk: variant}, {variant.pk: level})
    return variant


# --- discounts -------------------------------------------------------------------------------


@transaction.atomic
def create_discount(shop: Shop, data: dict) -> Discount:
    code = data.get("code")
    if not isinstance(code, str) or not code.strip():
        raise ValidationFailed({"code": ["is required"]})
    code = code.strip()
    if len(code) > 100:
        raise ValidationFailed({"code": ["is longer than 100 characters"]})
    kind = data.get("kind", Discount.Kind.PERCENTAGE)
    if kind not in Discount.Kind.values:
        raise ValidationFailed({"kind": [f"must be one of {', '.join(Discount.Kind.values)}"]})
    value = clean_money(data.get("value", "0"), "value")
    if kind == Discount.Kind.PERCENTAGE and not (0 < value <= 100):
        raise ValidationFailed({"value": ["must be more than 0 and at most 100 for a percentage"]})
    if kind == Discount.Kind.FIXED_AMOUNT and value <= 0:
        raise ValidationFailed({"value": ["must be more than 0"]})
    usage_limit = data.get("usage_limit")
    if usage_limit is not None and (clean_int(usage_limit, "usage_limit") < 1):
        raise ValidationFailed({"usage_limit": ["must be at least 1"]})
    starts_at = clean_time(data.get("starts_at"), "starts_at")
    ends_at = clean_time(data.get("ends_at"), "ends_at")
    if starts_at and ends_at and ends_at <= starts_at:
        raise ValidationFailed({"ends_at": ["must be after starts_at"]})
    if Discount.objects.filter(shop=shop, code_key=code.upper()).exists():
        raise ValidationFailed({"code": ["already taken"]})
    discount = Discount(
        shop=shop,
        code=code,
        kind=kind,
        value=value,
        minimum_subtotal=clean_money(data.get("minimum_subtotal"), "minimum_subtotal", True),
        usage_limit=usage_limit,
        starts_at=starts_at,
        ends_at=ends_at,
    )
    _save_unique(discount, "code")
    return discount


# --- carts -----------------------------------------------------------------------------------


def abandon_delay(shop: Shop) -> int:
    if shop.cart_abandon_seconds is not None:
        return shop.cart_abandon_seconds
    return settings.SANDBOX_CART_ABANDON_SECONDS


@transaction.atomic
def start_cart(shop: Shop, email: str, items: list[tuple[Variant, int]]) -> Cart:
    email = clean_email(email)
    lines, subtotal = build_line_items(shop, items)
    return Cart.objects.create(
        shop=shop,
        email=email,
        customer=Customer.objects.filter(shop=shop, email=email).first(),
        line_items=lines,
        subtotal_price=subtotal,
        currency=shop.currency,
    )


@transaction.atomic
def check_out_cart(cart: Cart) -> Order:
    cart = Cart.objects.select_for_update().get(pk=cart.pk)
    if cart.checked_out_at or cart.abandoned_at:
        raise ValidationFailed({"cart": ["is already checked out or abandoned"]})
    variants = Variant.objects.select_related("product").in_bulk(
        [line["variant_id"] for line in cart.line_items]
    )
    items = [(variants[line["variant_id"]], line["quantity"]) for line in cart.line_items]
    order = place_order(cart.shop, cart.email, items)
    cart.checked_out_at = timezone.now()
    cart.order = order
    cart.save(update_fields=["checked_out_at", "order", "updated_at"])
    return order


def abandon_due_carts(now=None) -> int:
    """Mark carts idle past their shop's delay as abandoned; each fires cart.abandoned once."""
    now = now or timezone.now()
    fired = 0
    open_carts = Cart.objects.filter(abandoned_at=None, checked_out_at=None).select_related("shop")
    for cart in open_carts:
        if cart.updated_at > now - timedelta(seconds=abandon_delay(cart.shop)):
            continue
        fired += _claim_abandoned(cart, now)
    return fired


@transaction.atomic
def _claim_abandoned(cart: Cart, now) -> bool:
    # The conditional UPDATE is the claim: a second checker finds nothing to do.
    open_cart = Cart.objects.filter(pk=cart.pk, abandoned_at=None, checked_out_at=None)
    if not open_cart.update(abandoned_at=now):
        return False
    cart.refresh_from_db()
    events.emit(cart.shop, "cart.abandoned", cart_dict(cart))
    return True


def abandon_cart(cart: Cart) -> Cart:
    """The merchant UI's "Abandon now": the same claim, without waiting for the delay."""
    if not _claim_abandoned(cart, timezone.now()):
        raise ValidationFailed({"cart": ["is already checked out or abandoned"]})
    return cart
