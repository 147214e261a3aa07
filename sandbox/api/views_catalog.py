"""Products and inventory (cartly-api.md): list products, set a variant's stock level."""

from django.db.models import Prefetch

from sandbox import shop as shop_actions
from sandbox.api import listing
from sandbox.api.endpoint import Answer, Call, Route, endpoint
from sandbox.errors import NotFound
from sandbox.models import Product, Variant
from sandbox.serializers import inventory_level_dict, product_dict


def list_products(call: Call) -> Answer:
    products = Product.objects.filter(shop=call.shop).prefetch_related(
        Prefetch("variants", queryset=Variant.objects.order_by("id"))
    )
    return Answer(200, {"products": [product_dict(p) for p in listing.page(products, call.query)]})


def set_inventory(call: Call, variant_id: str) -> Answer:
    """`{"adjustment": int}` (delta) or `{"available": int}` (set), exactly one."""
    variant = Variant.objects.filter(product__shop=call.shop, pk=variant_id).first()
    if variant is None:
        raise NotFound(f"No variant {variant_id} in this shop.")
    variant = shop_actions.set_inventory(
        variant, adjustment=call.data.get("adjustment"), available=call.data.get("available")
    )
    return Answer(200, {"inventory_level": inventory_level_dict(variant)})


products = endpoint(GET=Route("read_products", list_products))
inventory = endpoint(PUT=Route("write_inventory", set_inventory))
