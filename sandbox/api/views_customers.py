"""Customers (cartly-api.md): list / find by email, create, update given fields."""

from sandbox import shop as shop_actions
from sandbox.api import listing
from sandbox.api.endpoint import Answer, Call, Route, endpoint
from sandbox.errors import NotFound
from sandbox.models import Customer
from sandbox.serializers import customer_dict


def list_customers(call: Call) -> Answer:
    customers = Customer.objects.filter(shop=call.shop)
    if "email" in call.query:
        # Emails are stored lower-cased; iexact keeps the match case-insensitive regardless.
        customers = customers.filter(email__iexact=call.query["email"].strip())
    found = listing.page(customers, call.query)
    return Answer(200, {"customers": [customer_dict(c) for c in found]})


def create_customer(call: Call) -> Answer:
    customer = shop_actions.create_customer(call.shop, call.data)
    return Answer(201, {"customer": customer_dict(customer)})


def update_customer(call: Call, customer_id: str) -> Answer:
    customer = Customer.objects.filter(shop=call.shop, pk=customer_id).first()
    if customer is None:
        raise NotFound(f"No customer {customer_id} in this shop.")
    customer = shop_actions.update_customer(customer, call.data)
    return Answer(200, {"customer": customer_dict(customer)})


customers = endpoint(
    GET=Route("read_customers", list_customers), POST=Route("write_customers", create_customer)
)
customer = endpoint(PUT=Route("write_customers", update_customer))
