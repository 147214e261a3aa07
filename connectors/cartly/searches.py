"""Cartly's look-ups as searches: the list endpoints with one exact filter.

Nothing found is an empty list; the recipe's step decides whether that halts the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors.base import Field, FieldType, Search, load_sample
from connectors.cartly.triggers import CUSTOMER_OUTPUT, ORDER_OUTPUT

if TYPE_CHECKING:
    from connectors.cartly.client import CartlyClient

SAMPLES = Path(__file__).resolve().parent / "samples"


def find_customer(client: CartlyClient, inputs: dict[str, Any]) -> list[dict]:
    return client.list_customers(email=inputs["email"])


def find_order(client: CartlyClient, inputs: dict[str, Any]) -> list[dict]:
    return client.list_orders(number=inputs["number"])


find_customer_search = Search(
    key="cartly.find_customer",
    noun="Customer",
    label="Find Customer",
    description="Finds the customer with this email address.",
    input_fields=(Field(key="email", label="Email", type=FieldType.EMAIL, required=True),),
    perform=find_customer,
    nothing_found="No customer has this email address.",
    scopes=("read_customers",),
    output_fields=CUSTOMER_OUTPUT,
    sample=load_sample(SAMPLES, "customer__find"),
)

find_order_search = Search(
    key="cartly.find_order",
    noun="Order",
    label="Find Order",
    description="Finds the order with this number, e.g. 1001.",
    input_fields=(
        Field(
            key="number",
            label="Order number",
            type=FieldType.INTEGER,
            required=True,
            help="The shop's order number (from 1001), not the ord_ ID.",
        ),
    ),
    perform=find_order,
    nothing_found="No order has this number.",
    scopes=("read_orders",),
    output_fields=ORDER_OUTPUT,
    sample=load_sample(SAMPLES, "order__find"),
)

SEARCHES = (find_customer_search, find_order_search)
