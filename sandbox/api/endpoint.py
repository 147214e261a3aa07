"""The one view wrapper every Apps API endpoint goes through.

In order: method (405), token (401), scope (403), rate limit and faults (429/500), body (400),
Idempotency-Key, then the handler. Every answer is JSON, errors as cartly-api.md's
`{"error", "message", "fields"?}`; nothing ever falls through to Django's HTML pages.
"""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.views.decorators.csrf import csrf_exempt

from sandbox.api import guards, idempotency
from sandbox.api.auth import Caller, authenticate, require_scope
from sandbox.errors import ApiError, BadRequest, NotFound, ServerError
from sandbox.models import Shop

logger = logging.getLogger(__name__)
BODY_METHODS = ("POST", "PUT")  # the methods that carry a JSON object and an Idempotency-Key


class MethodNotAllowed(ApiError):
    status, code = 405, "method_not_allowed"


class Answer(NamedTuple):
    status: int
    body: dict | None  # None: no body (204)


@dataclass(frozen=True)
class Call:
    """What a handler gets: the caller, the JSON body (POST/PUT) and the query string."""

    caller: Caller
    query: QueryDict
    data: dict = field(default_factory=dict)

    @property
    def shop(self) -> Shop:
        return self.caller.shop


Handler = Callable[..., Answer]


class Route(NamedTuple):
    scope: str
    handler: Handler


def error_response(error: ApiError) -> JsonResponse:
    response = JsonResponse(error.body(), status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


def _render(status: int, body: str) -> HttpResponse:
    if not body:
        return HttpResponse(status=status)
    return HttpResponse(body, status=status, content_type="application/json")


def _parse_body(request: HttpRequest) -> dict:
    try:
        data = json.loads(request.body or b"")
    except RequestDataTooBig:
        raise BadRequest("The request body is too large.") from None
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The request body must be valid JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.")
    return data


def _run(handler: Handler, call: Call, kwargs: dict) -> tuple[int, str]:
    """The handler's answer as (status, JSON text); client errors are answers too (stored)."""
    try:
        status, body = handler(call, **kwargs)
    except ApiError as error:
        if error.status >= 500:
            raise
        status, body = error.status, error.body()
    return status, "" if body is None else json.dumps(body)


def _serve(request: HttpRequest, routes: dict[str, Route], kwargs: dict) -> HttpResponse:
    route = routes.get(request.method or "")
    if route is None:
        allowed = ", ".join(routes)
        raise MethodNotAllowed(f"Use {allowed} here.", Allow=allowed)
    caller = authenticate(request)
    require_scope(caller, route.scope)
    guards.check_rate_limit(caller)
    guards.inject_faults(caller.shop)
    if request.method not in BODY_METHODS:
        return _render(*_run(route.handler, Call(caller, request.GET), kwargs))
    call = Call(caller, request.GET, _parse_body(request))
    key = idempotency.request_key(request)
    if key is None:
        return _render(*_run(route.handler, call, kwargs))
    answer = idempotency.answer_once(
        caller,
        key,
        idempotency.fingerprint(request, call.data),
        lambda: _run(route.handler, call, kwargs),
    )
    response = _render(answer.status, answer.body)
    if answer.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


def endpoint(**routes: Route) -> Callable[..., HttpResponse]:
    """A view serving each HTTP method (GET=Route(...), ...) with its scope and handler."""

    @csrf_exempt  # bearer-token API: no cookies, so no CSRF
    def view(request: HttpRequest, **kwargs) -> HttpResponse:
        try:
            return _serve(request, routes, kwargs)
        except ApiError as error:
            return error_response(error)
        except Exception:
            logger.exception("Apps API %s %s failed", request.method, request.path)
            return error_response(ServerError("Something went wrong on our side; retry later."))

    return view


@csrf_exempt
def unknown_path(request: HttpRequest, **kwargs) -> JsonResponse:
    return error_response(NotFound(f"There is no Apps API endpoint at {request.path}."))
