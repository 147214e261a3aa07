"""Orders (cartly-api.md): list / find by number or status, change status and note."""

from sandbox import shop as shop_actions
from sandbox.api import listing
from sandbox.api.endpoint import Answer, Call, Route, endpoint
from sandbox.errors import NotFound, ValidationFailed
from sandbox.models import Order
from sandbox.serializers import order_dict


def list_orders(call: Call) -> Answer:
    orders = Order.objects.filter(shop=call.shop).select_related("customer")
    number = listing.parse_int(call.query, "number")
    if number is not None:
        orders = orders.filter(number=number)
    status = listing.parse_choice(call.query, "status", Order.Status.values)
    if status is not None:
        orders = orders.filter(status=status)
    return Answer(200, {"orders": [order_dict(o) for o in listing.page(orders, call.query)]})


def update_order(call: Call, order_id: str) -> Answer:
    order = Order.objects.filter(shop=call.shop, pk=order_id).first()
    if order is None:
        raise NotFound(f"No order {order_id} in this shop.")
    status = call.data.get("status")
    if status is not None and not isinstance(status, str):
        raise ValidationFailed({"status": ["must be text"]})
    order = shop_actions.update_order(order, status=status, note=call.data.get("note"))
    return Answer(200, {"order": order_dict(order)})


orders = endpoint(GET=Route("read_orders", list_orders))
order = endpoint(PUT=Route("write_orders", update_order))
