"""POST /apps/api/discounts (cartly-api.md): create a discount code; 422 when it is taken."""

from sandbox import shop as shop_actions
from sandbox.api.endpoint import Answer, Call, Route, endpoint
from sandbox.serializers import discount_dict


def create_discount(call: Call) -> Answer:
    discount = shop_actions.create_discount(call.shop, call.data)
    return Answer(201, {"discount": discount_dict(discount)})


discounts = endpoint(POST=Route("write_discounts", create_discount))
