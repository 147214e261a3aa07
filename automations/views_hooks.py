"""The REST Hook endpoint: a thin view over `automations.receiver` (DESIGN.md, step 2)."""

import logging
from http import HTTPStatus

from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from automations import receiver

log = logging.getLogger(__name__)


def _error(status: int, error: str, message: str) -> JsonResponse:
    return JsonResponse({"error": error, "message": message}, status=status)


def _declared_length(request: HttpRequest) -> int:
    raw = request.META.get("CONTENT_LENGTH") or ""
    # isdigit() is true for "²", which int() refuses: ASCII decimals only.
    return int(raw) if raw.isascii() and raw.isdecimal() else 0


@csrf_exempt  # Cartly signs its deliveries; it has no CSRF cookie to send
def cartly_hook(request: HttpRequest, token: str) -> JsonResponse:
    if request.method != "POST":
        response = _error(
            HTTPStatus.METHOD_NOT_ALLOWED, "method_not_allowed", "Deliveries are POSTed."
        )
        response["Allow"] = "POST"
        return response
    too_big = _error(
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        "too_large",
        f"A delivery may be at most {receiver.MAX_BODY_BYTES} bytes.",
    )
    if _declared_length(request) > receiver.MAX_BODY_BYTES:
        return too_big
    # One byte past the cap tells "exactly the cap" from "more", without buffering the rest.
    body = request.read(receiver.MAX_BODY_BYTES + 1)
    if len(body) > receiver.MAX_BODY_BYTES:
        return too_big
    try:
        reply = receiver.receive(
            token,
            body,
            signature=request.headers.get(receiver.SIGNATURE_HEADER),
            webhook_id=request.headers.get(receiver.WEBHOOK_ID_HEADER),
            content_type=request.headers.get("Content-Type"),
        )
    except DatabaseError as exc:
        # Nothing was stored, or what was is committed and a retry is a harmless duplicate:
        # either way Cartly must try again (cartly-api.md: anything but 2xx is retried).
        log.warning("REST Hook delivery not stored, database unavailable: %s", type(exc).__name__)
        return _error(HTTPStatus.SERVICE_UNAVAILABLE, "unavailable", "Try again later.")
    return JsonResponse(reply.body, status=reply.status)
