"""Prefixed ULIDs (cartly-api.md: `cus_01H8…`): they sort by creation time, as Cartly's do."""

from ulid import ULID


def new_id(prefix: str) -> str:
    return f"{prefix}_{ULID()}"


def id_factory(prefix: str):
    """A callable for a model field's `default` (Django needs a named, importable function)."""

    def make() -> str:
        return new_id(prefix)

    make.__name__ = f"new_{prefix}_id"
    make.__qualname__ = make.__name__
    return make


new_shop_id = id_factory("shop")
new_customer_id = id_factory("cus")
new_order_id = id_factory("ord")
new_product_id = id_factory("prd")
new_variant_id = id_factory("var")
new_cart_id = id_factory("crt")
new_discount_id = id_factory("dsc")
new_event_id = id_factory("evt")
new_webhook_id = id_factory("wh")

# Migrations refer to each factory by its __name__ (new_<prefix>_id): keep those names importable.
for _factory in (
    new_customer_id,
    new_order_id,
    new_product_id,
    new_variant_id,
    new_cart_id,
    new_discount_id,
    new_event_id,
    new_webhook_id,
):
    globals()[_factory.__name__] = _factory
