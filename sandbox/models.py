"""The sandbox shop's data, shaped after the objects of cartly-api.md."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from sandbox import ids

ID_LENGTH = 40
MONEY = {"max_digits": 12, "decimal_places": 2, "default": Decimal("0.00")}


class Shop(models.Model):
    id = models.CharField(primary_key=True, max_length=ID_LENGTH, default=ids.new_shop_id)
    owner = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    name = models.CharField(max_length=200)
    domain = models.CharField(max_length=200, unique=True)
    currency = models.CharField(max_length=3, default="USD")
    next_order_number = models.PositiveIntegerField(default=1001)
    # Per-shop overrides of the SANDBOX_* settings; null means "use the setting".
    cart_abandon_seconds = models.PositiveIntegerField(null=True, blank=True)
    fault_error_rate = models.FloatField(null=True, blank=True)
    fault_rate_limit_rate = models.FloatField(null=True, blank=True)
    fault_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    fault_delivery_fail_rate = models.FloatField(null=True, blank=True)
    # A fraction of deliveries sent twice, as an at-least-once sender may.
    fault_delivery_duplicate_rate = models.FloatField(null=True, blank=True)

    def __str__(self) -> str:
        return self.domain


class Customer(models.Model):
    id = models.CharField(primary_key=True, max_length=ID_LENGTH, default=ids.new_customer_id)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="customers")
    email = models.EmailField(max_length=254)  # stored lower-cased: unique per shop
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    tags = models.JSONField(default=list, blank=True)
    accepts_marketing = models.BooleanField(default=False)
    note = models.TextField(blank=True)
    orders_count = models.PositiveIntegerField(default=0)
    total_spent = models.DecimalField(**MONEY)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "email"], name="customer_email_per_shop")
        ]
        indexes = [models.Index(fields=["shop", "updated_at"])]


class Product(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        DRAFT = "draft"
        ARCHIVED = "archived"

    id = models.CharField(primary_key=True, max_length=ID_LENGTH, default=ids.new_product_id)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="products")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    vendor = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["shop", "updated_at"])]


class Variant(models.Model):
    id = models.CharField(primary_key=True, max_length=ID_LENGTH, default=ids.new_variant_id)
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    sku = models.CharField(max_length=100, blank=True)
    title = models.CharField(max_length=200, default="Default")
    price = models.DecimalField(**MONEY)
    available = models.IntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        PAID = "paid"
        FULFILLED = "fulfilled"
        CANCELED = "canceled"

    id = models.CharField(primary_key=True, max_length=ID_LENGTH, default=ids.new_order_id)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="orders")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    currency = models.CharField(max_length=3)
    subtotal_price = models.DecimalField(**MONEY)
    total_price = models.DecimalField(**MONEY)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.SET_NULL)
    email = models.EmailField(blank=True)
    # [{variant_id, product_id, title, sku, quantity, price}] as the API shows them.
    line_items = models.JSONField(default=list)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "number"], name="order_number_per_shop")
        ]
        indexes = [models.Index(fields=["shop", "updated_at"])]


class Cart(models.Model):
    id = models.CharField(primary_key=True, max_length=ID_LENGTH, default=ids.new_cart_id)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="carts")
    email = models.EmailField(blank=True)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.SET_NULL)
    line_items = models.JSONField(default=list)
    subtotal_price = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    abandoned_at = models.DateTimeField(null=True, blank=True)
    checked_out_at = models.DateTimeField(null=True, blank=True)
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.SET_NULL)


class Discount(models.Model):
    class Kind(models.TextChoices):
        PERCENTAGE = "percentage"
        FIXED_AMOUNT = "fixed_amount"
        FREE_SHIPPING = "free_shipping"

    id = models.CharField(primary_key=True, max_length=ID_LENGTH, default=ids.new_discount_id)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="discounts")
    code = models.CharField(max_length=100)
    # Upper-cased copy of code: codes are unique per shop regardless of case.
    code_key = models.CharField(max_length=100, editable=False)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    value = models.DecimalField(**MONEY)
    minimum_subtotal = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    usage_limit = models.PositiveIntegerField(null=True, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "code_key"], name="discount_code_per_shop")
        ]

    def save(self, *args, **kwargs):
        self.code_key = self.code.upper()
        super().save(*args, **kwargs)


class Webhook(models.Model):
    """A REST Hook subscription of one app in one shop."""

    id = models.CharField(primary_key=True, max_length=ID_LENGTH, default=ids.new_webhook_id)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="webhooks")
    application = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE
    )
    url = models.URLField(max_length=1000)
    events = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)


class Event(models.Model):
    """Something that happened in a shop; `body` is the exact JSON sent on every retry."""

    id = models.CharField(primary_key=True, max_length=ID_LENGTH, default=ids.new_event_id)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="events")
    topic = models.CharField(max_length=40)
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)


class Delivery(models.Model):
    """One event on its way to one subscription, retried until it lands or gives up."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"  # retries exhausted
        GONE = "gone"  # the receiver answered 410: the subscription was deleted

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    webhook = models.ForeignKey(Webhook, null=True, on_delete=models.SET_NULL)
    webhook_ref = models.CharField(max_length=ID_LENGTH)  # kept after the webhook is deleted
    url = models.URLField(max_length=1000)
    application = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["status", "next_attempt_at"])]


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField(auto_now_add=True)
    status_code = models.PositiveIntegerField(null=True)
    latency_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)


class IdempotencyRecord(models.Model):
    """The first answer to an Idempotency-Key, replayed for 24 h (cartly-api.md)."""

    application = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE
    )
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # method, path and body, hashed
    status_code = models.PositiveIntegerField()
    response_body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["application", "shop", "key"], name="idempotency_key_per_app_shop"
            )
        ]


class DemoLogin(models.Model):
    """The seeded merchant login, kept so `sandbox_seed --json` can print it on every run.

    A local stand-in's demo account only: a real Cartly never stores a password like this.
    """

    username = models.CharField(max_length=150, unique=True)
    password = models.CharField(max_length=128)
