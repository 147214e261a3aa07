"""Cartly's write endpoints as actions (cartly-api.md, "Endpoints").

`perform` gets inputs already converted to their types (`connectors/convert.py`), with empty
optional fields left out, and passes the step's idempotency key on every write so that a
retried step never applies twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors.base import Action, Field, FieldType, OutputField, load_sample
from connectors.cartly.triggers import CUSTOMER_OUTPUT, ORDER_OUTPUT
from connectors.errors import Permanent, ValidationFailed

if TYPE_CHECKING:
    from connectors.cartly.client import CartlyClient

SAMPLES = Path(__file__).resolve().parent / "samples"

# --- fields shared by several actions -------------------------------------------------------

CUSTOMER_DETAILS = (
    Field(key="first_name", label="First name"),
    Field(key="last_name", label="Last name"),
    Field(key="phone", label="Phone"),
    Field(
        key="tags",
        label="Tags",
        type=FieldType.LIST,
        help="Comma-separated, e.g. vip, newsletter. Replaces the customer's tags.",
    ),
    Field(key="accepts_marketing", label="Accepts marketing", type=FieldType.BOOLEAN),
    Field(key="note", label="Note", type=FieldType.TEXT),
)
EMAIL = Field(key="email", label="Email", type=FieldType.EMAIL, required=True)


def _without(inputs: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in inputs.items() if k not in keys}


# --- customers ------------------------------------------------------------------------------


def create_customer(client: CartlyClient, inputs: dict[str, Any], idempotency_key: str) -> dict:
    return client.create_customer(inputs, idempotency_key=idempotency_key)


def create_customer_once(
    client: CartlyClient, inputs: dict[str, Any], idempotency_key: str
) -> dict:
    """After the key may be forgotten: the customer an earlier attempt made, if it did."""
    found = client.list_customers(email=inputs["email"], limit=1)
    return found[0] if found else create_customer(client, inputs, idempotency_key)


def update_customer(client: CartlyClient, inputs: dict[str, Any], idempotency_key: str) -> dict:
    data = _without(inputs, "customer_id")
    return client.update_customer(inputs["customer_id"], data, idempotency_key=idempotency_key)


def find_or_create_customer(
    client: CartlyClient, inputs: dict[str, Any], idempotency_key: str
) -> dict:
    """The customer with this email, created from the other inputs when there is none.

    `created` is true only when this call made the customer. A retry after a create that
    succeeded finds it and says false; the idempotency key still keeps it a single customer.
    """
    email = inputs["email"]
    found = client.list_customers(email=email, limit=1)
    if found:
        return {**found[0], "created": False}
    try:
        customer = client.create_customer(inputs, idempotency_key=idempotency_key)
    except ValidationFailed as exc:
        # Someone else created it between our look-up and our create: use theirs.
        if "email" not in exc.fields:
            raise
        found = client.list_customers(email=email, limit=1)
        if not found:
            raise
        return {**found[0], "created": False}
    return {**customer, "created": True}


create_customer_action = Action(
    key="cartly.create_customer",
    noun="Customer",
    label="Create Customer",
    description="Adds a customer to the shop. Fails if the email is already taken.",
    input_fields=(EMAIL, *CUSTOMER_DETAILS),
    perform=create_customer,
    after_key_expiry=create_customer_once,
    scopes=("write_customers",),
    output_fields=CUSTOMER_OUTPUT,
    sample=load_sample(SAMPLES, "customer__create"),
)

update_customer_action = Action(
    key="cartly.update_customer",
    noun="Customer",
    label="Update Customer",
    description="Changes the fields you fill in; empty fields are left as they are.",
    input_fields=(
        Field(
            key="customer_id",
            label="Customer ID",
            required=True,
            help="Starts with cus_, e.g. from Find Customer.",
        ),
        Field(key="email", label="Email", type=FieldType.EMAIL),
        *CUSTOMER_DETAILS,
    ),
    perform=update_customer,
    after_key_expiry=update_customer,  # it sets the given fields: repeating changes nothing
    scopes=("write_customers",),
    output_fields=CUSTOMER_OUTPUT,
    sample=load_sample(SAMPLES, "customer__update"),
)

find_or_create_customer_action = Action(
    key="cartly.find_or_create_customer",
    noun="Customer",
    label="Find or Create Customer",
    description="Finds the customer with this email, or creates one when there is none.",
    input_fields=(EMAIL, *CUSTOMER_DETAILS),
    perform=find_or_create_customer,
    after_key_expiry=find_or_create_customer,  # it looks first by itself
    scopes=("read_customers", "write_customers"),
    output_fields=(*CUSTOMER_OUTPUT, OutputField("created", "Was created")),
    sample=load_sample(SAMPLES, "customer__find_or_create"),
)

# --- orders ---------------------------------------------------------------------------------


def update_order(client: CartlyClient, inputs: dict[str, Any], idempotency_key: str) -> dict:
    data = _without(inputs, "order_id")
    return client.update_order(inputs["order_id"], data, idempotency_key=idempotency_key)


update_order_action = Action(
    key="cartly.update_order",
    noun="Order",
    label="Update Order",
    description="Changes an order's status and/or note.",
    input_fields=(
        Field(
            key="order_id",
            label="Order ID",
            required=True,
            help="Starts with ord_, e.g. from New Order or Find Order.",
        ),
        Field(
            key="status",
            label="Status",
            type=FieldType.CHOICE,
            choices=("paid", "fulfilled", "canceled"),
            # cartly-api.md: pending → paid → fulfilled, pending|paid → canceled.
            help="Allowed: pending to paid or canceled; paid to fulfilled or canceled.",
        ),
        Field(key="note", label="Note", type=FieldType.TEXT, help="Replaces the order's note."),
    ),
    perform=update_order,
    # A status and a note are set, not added: repeating applies nothing twice (a status that
    # already moved answers 422, which the run shows).
    after_key_expiry=update_order,
    scopes=("write_orders",),
    output_fields=ORDER_OUTPUT,
    sample=load_sample(SAMPLES, "order__update"),
)

# --- inventory ------------------------------------------------------------------------------

ADJUST, SET = "adjust", "set"


def adjust_inventory(client: CartlyClient, inputs: dict[str, Any], idempotency_key: str) -> dict:
    quantity = inputs["quantity"]
    # The endpoint takes exactly one of a delta or an absolute level (cartly-api.md).
    if inputs["mode"] == SET:
        return client.set_inventory(
            inputs["variant_id"], available=quantity, idempotency_key=idempotency_key
        )
    return client.set_inventory(
        inputs["variant_id"], adjustment=quantity, idempotency_key=idempotency_key
    )


def set_inventory_once(client: CartlyClient, inputs: dict[str, Any], idempotency_key: str) -> dict:
    """Setting a level may be repeated; adding to it may not, once the key is forgotten."""
    if inputs["mode"] != SET:
        raise Permanent(
            "Cartly may have applied this stock change more than a day ago and no longer "
            "remembers it, so it was not sent again. Check the stock, then retry by hand."
        )
    return adjust_inventory(client, inputs, idempotency_key)


adjust_inventory_action = Action(
    key="cartly.adjust_inventory",
    noun="Inventory",
    label="Adjust Inventory",
    description="Changes a variant's stock by an amount, or sets it to a level.",
    input_fields=(
        Field(
            key="variant_id",
            label="Variant ID",
            required=True,
            help="Starts with var_, e.g. a line item's variant_id.",
        ),
        Field(
            key="mode",
            label="Mode",
            type=FieldType.CHOICE,
            choices=(ADJUST, SET),
            required=True,
            default=ADJUST,
            help="adjust: add the quantity (negative to remove); set: make it the stock level.",
        ),
        Field(key="quantity", label="Quantity", type=FieldType.INTEGER, required=True),
    ),
    perform=adjust_inventory,
    after_key_expiry=set_inventory_once,
    scopes=("write_inventory",),
    output_fields=(
        OutputField("variant_id", "Variant ID"),
        OutputField("available", "Available"),
        OutputField("updated_at", "Updated at"),
    ),
    sample=load_sample(SAMPLES, "inventory__adjust"),
)

# --- discounts ------------------------------------------------------------------------------


def create_discount(client: CartlyClient, inputs: dict[str, Any], idempotency_key: str) -> dict:
    return client.create_discount(inputs, idempotency_key=idempotency_key)


def create_discount_once(
    client: CartlyClient, inputs: dict[str, Any], idempotency_key: str
) -> dict:
    """After the key may be forgotten: a code that is taken is the one an earlier attempt
    made (Cartly has no list of discounts to look in; codes are unique per shop)."""
    try:
        return create_discount(client, inputs, idempotency_key)
    except ValidationFailed as exc:
        if "code" not in exc.fields:
            raise
        return {"code": inputs["code"], "already_created": True}


create_discount_action = Action(
    key="cartly.create_discount",
    noun="Discount",
    label="Create Discount",
    description="Creates a discount code. Fails if the code is already taken.",
    input_fields=(
        Field(key="code", label="Code", required=True, help="e.g. WELCOME10; not case-sensitive."),
        Field(
            key="kind",
            label="Kind",
            type=FieldType.CHOICE,
            choices=("percentage", "fixed_amount", "free_shipping"),
            required=True,
            default="percentage",
        ),
        Field(
            key="value",
            label="Value",
            type=FieldType.DECIMAL,
            help="Percent (more than 0, at most 100) or amount off; not used for free shipping.",
        ),
        Field(key="minimum_subtotal", label="Minimum subtotal", type=FieldType.DECIMAL),
        Field(key="usage_limit", label="Usage limit", type=FieldType.INTEGER),
        Field(key="starts_at", label="Starts at", type=FieldType.DATETIME),
        Field(key="ends_at", label="Ends at", type=FieldType.DATETIME),
    ),
    perform=create_discount,
    after_key_expiry=create_discount_once,
    scopes=("write_discounts",),
    output_fields=(
        OutputField("id", "Discount ID"),
        OutputField("code", "Code"),
        OutputField("kind", "Kind"),
        OutputField("value", "Value"),
        OutputField("minimum_subtotal", "Minimum subtotal"),
        OutputField("usage_limit", "Usage limit"),
        OutputField("starts_at", "Starts at"),
        OutputField("ends_at", "Ends at"),
        OutputField("created_at", "Created at"),
    ),
    sample=load_sample(SAMPLES, "discount__create"),
)

ACTIONS = (
    create_customer_action,
    update_customer_action,
    update_order_action,
    adjust_inventory_action,
    create_discount_action,
    find_or_create_customer_action,
)
