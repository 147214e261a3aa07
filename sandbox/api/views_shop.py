"""GET /apps/api/me (cartly-api.md): the shop the token acts on and the app it belongs to."""

from sandbox.api.endpoint import Answer, Call, Route, endpoint
from sandbox.serializers import shop_dict


def show_me(call: Call) -> Answer:
    app = call.caller.application
    return Answer(200, {"shop": shop_dict(call.shop), "app": {"name": app.name}})


me = endpoint(GET=Route("read_shop", show_me))
