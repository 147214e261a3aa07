"""What happens in a shop: every change the API, the merchant UI and `sandbox_event` make.

Each function runs in one transaction and emits the contract's events from inside it, so an
event exists exactly when its change does.
"""

from datetime import UTC, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from sandbox import events
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
MAX_EMAIL_LENGTH = 254  # the column's size (RFC 5321's path limit)
MAX_MONEY = Decimal("9999999999.99")  # the MONEY columns hold 12 digits, 2 after the point
MAX_INT = 2_147_483_647  # IntegerField's range on every database we run on


# --- parsing helpers: each raises ValidationFailed naming the field -------------------------


def clean_email(value, field: str = "email") -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed({field: ["is required"]})
    email = value.strip().lower()
    if len(email) > MAX_EMAIL_LENGTH:
        raise ValidationFailed({field: [f"is longer than {MAX_EMAIL_LENGTH} characters"]})
    try:
        validate_email(email)
    except DjangoValidationError:
        raise ValidationFailed({field: ["is not a valid email address"]}) from None
    return email


def clean_money(value, field: str, allow_none: bool = False) -> Decimal | None:
    if value is None and allow_none:
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationFailed({field: ["must be a decimal amount such as \"19.90\""]}) from None
    if not amount.is_finite() or amount < 0:
        raise ValidationFailed({field: ["must be zero or more"]})
    if amount > MAX_MONEY:
        raise ValidationFailed({field: [f"must be at most {MAX_MONEY}"]})
    return amount.quantize(Decimal("0.01"))


def clean_int(value, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed({field: ["must be a whole number"]})
    if abs(value) > MAX_INT:
        raise ValidationFailed({field: [f"must be between -{MAX_INT} and {MAX_INT}"]})
    return value


def clean_time(value, field: str):
    if value in (None, ""):
        return None
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:  # well formed but impossible, e.g. month 13
        parsed = None
    if parsed is None:
        raise ValidationFailed({field: ["must be an ISO 8601 time such as 2026-11-28T10:00:00Z"]})
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)  # django.utils.timezone.utc is gone in 5.x
    return parsed


def clean_tags(value) -> list[str]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise ValidationFailed({"tags": ["must be a list of strings"]})
    return [t.strip() for t in value if t.strip()]


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
def place_order(
    shop: Shop, email: str, items: list[tuple[Variant, int]], note: str = ""
) -> Order:
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
    for variant, quantity in items:
        # F(): concurrent orders (and one variant twice in an order) must each take their share.
        Variant.objects.filter(pk=variant.pk).update(
            available=F("available") - quantity, updated_at=timezone.now()
        )
    customer.orders_count += 1
    customer.total_spent += subtotal
    customer.save(update_fields=["orders_count", "total_spent", "updated_at"])
    events.emit(shop, "order.created", order_dict(order))
    return order


@transaction.atomic
def update_order(order: Order, status: str | None = None, note: str | None = None) -> Order:
    """Change an order's note and/or status; a status change fires order.updated (and more)."""
    # of=("self",): PostgreSQL cannot lock the nullable side of the customer outer join.
    locked = Order.objects.select_for_update(of=("self",)).select_related("customer")
    order = locked.get(pk=order.pk)
    topics = []
    if status is not None and status != order.status:
        if status not in Order.Status.values:
            raise ValidationFailed({"status": [f"must be one of {', '.join(Order.Status.values)}"]})
        if status not in ALLOWED_MOVES[order.status]:
            raise ValidationFailed(
                {"status": [f"cannot change from {order.status} to {status}"]}
            )
        order.status = status
        now = timezone.now()
        topics.append("order.updated")
        if status == Order.Status.FULFILLED:
            order.fulfilled_at = now
            topics.append("order.fulfilled")
        elif status == Order.Status.CANCELED:
            order.canceled_at = now
            topics.append("order.canceled")
    if note is not None:
        if not isinstance(note, str) or len(note) > 5000:
            raise ValidationFailed({"note": ["must be text of at most 5000 characters"]})
        order.note = note
    order.save()
    data = order_dict(order)
    for topic in topics:
        events.emit(order.shop, topic, data)
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
def update_product(product: Product, data: dict) -> Product:
    _clean_product_fields(product, data)
    product.save()
    events.emit(product.shop, "product.updated", product_dict(product))
    return product


@transaction.atomic
def set_inventory(variant: Variant, adjustment=None, available=None) -> Variant:
    """PUT /inventory/:variant_id: exactly one of a delta or an absolute level."""
    if (adjustment is None) == (available is None):
        raise ValidationFailed(
            {"adjustment": ["give exactly one of adjustment or available"]},
        )
    variant = Variant.objects.select_for_update().get(pk=variant.pk)
    if adjustment is not None:
        level = variant.available + clean_int(adjustment, "adjustment")
        if abs(level) > MAX_INT:
            raise ValidationFailed({"adjustment": ["would take the level out of range"]})
        variant.available = level
    else:
        variant.available = clean_int(available, "available")
    variant.save(update_fields=["available", "updated_at"])
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
