"""The merchant's forms. They check shape only; the shop's rules live in sandbox/shop.py."""

from decimal import Decimal

from django import forms
from django.conf import settings

from sandbox.models import Discount, Product, Shop, Variant

MAX_QUANTITY = 1000  # a sandbox order, not a warehouse move
MAX_STOCK = 2_147_483_647  # the stock column's range


class VariantChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Variant) -> str:
        name = obj.product.title if obj.title == "Default" else f"{obj.product.title} - {obj.title}"
        sku = f" [{obj.sku}]" if obj.sku else ""
        return f"{name}{sku} · {obj.price} · {obj.available} in stock"


class ShopItemForm(forms.Form):
    """An email, one of the shop's variants and a quantity: an order or a cart."""

    email = forms.EmailField(label="Buyer email")
    variant = VariantChoiceField(queryset=Variant.objects.none(), label="Product")
    quantity = forms.IntegerField(min_value=1, max_value=MAX_QUANTITY, initial=1)

    def __init__(self, shop: Shop, *args, **kwargs):
        super().__init__(*args, **kwargs)
        variants = Variant.objects.filter(product__shop=shop).select_related("product")
        self.fields["variant"].queryset = variants.order_by("product__title", "id")

    def items(self) -> list[tuple[Variant, int]]:
        return [(self.cleaned_data["variant"], self.cleaned_data["quantity"])]


class CustomerForm(forms.Form):
    email = forms.EmailField()
    first_name = forms.CharField(max_length=100, required=False)
    last_name = forms.CharField(max_length=100, required=False)
    phone = forms.CharField(max_length=40, required=False)
    accepts_marketing = forms.BooleanField(required=False)


class CustomerEditForm(CustomerForm):
    note = forms.CharField(
        max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class ProductForm(forms.Form):
    """A product with its one default variant."""

    title = forms.CharField(max_length=200)
    vendor = forms.CharField(max_length=200, required=False)
    status = forms.ChoiceField(choices=Product.Status.choices, initial=Product.Status.ACTIVE)
    price = forms.DecimalField(min_value=Decimal("0"), max_digits=12, decimal_places=2)
    sku = forms.CharField(label="SKU", max_length=100, required=False)
    available = forms.IntegerField(label="Stock", initial=0)

    def product_data(self) -> dict:
        return {k: self.cleaned_data[k] for k in ("title", "vendor", "status")}

    def variant_data(self) -> dict:
        return {
            "title": "Default",
            "sku": self.cleaned_data["sku"],
            "price": str(self.cleaned_data["price"]),
            "available": self.cleaned_data["available"],
        }


class ProductEditForm(forms.Form):
    """The product's fields, then one stock field per variant (`stock_<variant id>`)."""

    STOCK_PREFIX = "stock_"

    title = forms.CharField(max_length=200)
    vendor = forms.CharField(max_length=200, required=False)
    status = forms.ChoiceField(choices=Product.Status.choices)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args, variants: list[Variant] = (), **kwargs):
        super().__init__(*args, **kwargs)
        for variant in variants:
            name = variant.sku or variant.title
            self.fields[self.STOCK_PREFIX + variant.id] = forms.IntegerField(
                label=f"Stock of {name}",
                initial=variant.available,
                required=False,
                min_value=-MAX_STOCK,
                max_value=MAX_STOCK,
                help_text="Blank leaves it as it is.",
            )

    def product_data(self) -> dict:
        return {k: self.cleaned_data[k] for k in ("title", "vendor", "status", "description")}

    def levels(self) -> dict[str, int]:
        """Each variant's stock as submitted, by variant id (blank ones left out)."""
        prefix = self.STOCK_PREFIX
        return {
            key[len(prefix) :]: value
            for key, value in self.cleaned_data.items()
            if key.startswith(prefix) and value is not None
        }


class InventoryForm(forms.Form):
    """PUT /inventory's two ways: a delta, or an absolute level."""

    MODES = [("adjustment", "Adjust by"), ("available", "Set to")]

    mode = forms.ChoiceField(choices=MODES, initial="adjustment", label="Change")
    amount = forms.IntegerField(label="Amount")


class DiscountForm(forms.Form):
    code = forms.CharField(max_length=100)
    kind = forms.ChoiceField(choices=Discount.Kind.choices)
    value = forms.DecimalField(min_value=Decimal("0"), max_digits=12, decimal_places=2)
    minimum_subtotal = forms.DecimalField(
        min_value=Decimal("0"), max_digits=12, decimal_places=2, required=False
    )
    usage_limit = forms.IntegerField(min_value=1, max_value=2**31 - 1, required=False)
    starts_at = forms.DateTimeField(
        required=False,
        label="Starts at (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    ends_at = forms.DateTimeField(
        required=False,
        label="Ends at (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def discount_data(self) -> dict:
        """The API's JSON shapes: money as strings, times as ISO 8601."""
        data = self.cleaned_data
        minimum = data["minimum_subtotal"]
        return {
            "code": data["code"],
            "kind": data["kind"],
            "value": str(data["value"]),
            "minimum_subtotal": None if minimum is None else str(minimum),
            "usage_limit": data["usage_limit"],
            "starts_at": data["starts_at"].isoformat() if data["starts_at"] else None,
            "ends_at": data["ends_at"].isoformat() if data["ends_at"] else None,
        }


# Each fault field with the sandbox setting it overrides when left blank.
FAULT_DEFAULTS = {
    "fault_error_rate": "SANDBOX_FAULT_ERROR_RATE",
    "fault_rate_limit_rate": "SANDBOX_FAULT_RATE_LIMIT_RATE",
    "fault_latency_ms": "SANDBOX_FAULT_LATENCY_MS",
    "fault_delivery_fail_rate": "SANDBOX_FAULT_DELIVERY_FAIL_RATE",
    "fault_delivery_duplicate_rate": "SANDBOX_FAULT_DELIVERY_DUPLICATE_RATE",
    "cart_abandon_seconds": "SANDBOX_CART_ABANDON_SECONDS",
}


# Upper bounds that keep a typo from stalling every API call or never abandoning a cart.
MAX_LATENCY_MS = 60_000
MAX_ABANDON_SECONDS = 30 * 24 * 3600


def _rate(label: str) -> forms.FloatField:
    return forms.FloatField(label=label, required=False, min_value=0.0, max_value=1.0)


class FaultsForm(forms.ModelForm):
    fault_error_rate = _rate("API error rate (0–1, answers 500)")
    fault_rate_limit_rate = _rate("API rate-limit rate (0–1, answers 429)")
    fault_latency_ms = forms.IntegerField(
        label="Extra API latency (ms)", required=False, min_value=0, max_value=MAX_LATENCY_MS
    )
    fault_delivery_fail_rate = _rate("Delivery failure rate (0–1)")
    fault_delivery_duplicate_rate = _rate("Delivery duplicate rate (0–1)")
    cart_abandon_seconds = forms.IntegerField(
        label="Cart abandoned after (seconds)",
        required=False,
        min_value=0,
        max_value=MAX_ABANDON_SECONDS,
    )

    class Meta:
        model = Shop
        fields = list(FAULT_DEFAULTS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, setting in FAULT_DEFAULTS.items():
            default = getattr(settings, setting)
            self.fields[name].help_text = f"Blank uses the sandbox default: {default}"
