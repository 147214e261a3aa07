"""The REST Hook endpoint: a thin view over `automations.receiver` (DESIGN.md, step 2)."""

import logging
from http import HTTPStatus

from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from automations import backpressure, receiver

log = logging.getLogger(__name__)

# How long Cartly should wait before it retries a delivery we could not store (a hint: its
# own schedule decides). Long enough for a database restart, short next to Cartly's delays.
RETRY_AFTER_SECONDS = 10
READ_CHUNK_BYTES = 64 * 1024


def _environ_key(header: str) -> str:
    """Where WSGI puts a request header (PEP 3333): X-Cartly-Webhook-Id → HTTP_X_CARTLY_…"""
    return "HTTP_" + header.upper().replace("-", "_")


SIGNATURE_KEY = _environ_key(receiver.SIGNATURE_HEADER)
WEBHOOK_ID_KEY = _environ_key(receiver.WEBHOOK_ID_HEADER)
SHOP_DOMAIN_KEY = _environ_key(receiver.SHOP_DOMAIN_HEADER)


class BodyRefused(Exception):
    """The body cannot be read as one delivery; the answer says why."""

    def __init__(self, status: int, error: str, message: str):
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


def _error(status: int, error: str, message: str) -> JsonResponse:
    response = JsonResponse({"error": error, "message": message}, status=status)
    if status == HTTPStatus.SERVICE_UNAVAILABLE:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _too_large() -> BodyRefused:
    return BodyRefused(
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        "too_large",
        f"A delivery may be at most {receiver.MAX_BODY_BYTES} bytes.",
    )


def _read_to_end(stream) -> bytes:
    """A stream the server ends at the body's end, read until then or one byte past the cap."""
    chunks, size = [], 0
    while size <= receiver.MAX_BODY_BYTES:
        chunk = stream.read(min(READ_CHUNK_BYTES, receiver.MAX_BODY_BYTES + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def read_body(request: HttpRequest) -> bytes:
    """The raw body, at most MAX_BODY_BYTES, whether its length is declared or not.

    A body without Content-Length (chunked) is read from the WSGI stream when the server
    says the stream ends with the body (`wsgi.input_terminated`, gunicorn does); elsewhere
    reading on could wait for bytes that never come, so such a request gets 411.
    """
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared:
        # isdecimal() is true for "²", which int() refuses: ASCII decimals only.
        if not (declared.isascii() and declared.isdecimal()):
            raise BodyRefused(
                HTTPStatus.BAD_REQUEST, "bad_request", "Content-Length is not a number."
            )
        if int(declared) > receiver.MAX_BODY_BYTES:
            raise _too_large()
        # One byte past the cap tells "exactly the cap" from "more", without buffering the rest.
        body = request.read(receiver.MAX_BODY_BYTES + 1)
    elif request.META.get("wsgi.input_terminated"):
        body = _read_to_end(request.META["wsgi.input"])
    else:
        raise BodyRefused(
            HTTPStatus.LENGTH_REQUIRED, "length_required", "Send the body with a Content-Length."
        )
    if len(body) > receiver.MAX_BODY_BYTES:
        raise _too_large()
    return body


@csrf_exempt  # Cartly signs its deliveries; it has no CSRF cookie to send
def cartly_hook(request: HttpRequest, token: str) -> JsonResponse:
    if request.method != "POST":
        response = _error(
            HTTPStatus.METHOD_NOT_ALLOWED, "method_not_allowed", "Deliveries are POSTed."
        )
        response["Allow"] = "POST"
        return response
    try:
        body = read_body(request)
    except BodyRefused as refused:
        return _error(refused.status, refused.error, refused.message)
    meta = request.META  # read directly: request.headers would copy every header first
    headers = receiver.Headers(
        signature=meta.get(SIGNATURE_KEY),
        webhook_id=meta.get(WEBHOOK_ID_KEY),
        shop_domain=meta.get(SHOP_DOMAIN_KEY),
        content_type=meta.get("CONTENT_TYPE"),
    )
    try:
        reply = receiver.receive(token, body, headers)
    except DatabaseError as exc:
        # Nothing was stored, or what was is committed and a retry is a harmless duplicate:
        # either way Cartly must try again (cartly-api.md: anything but 2xx is retried).
        log.warning("REST Hook delivery not stored, database unavailable: %s", type(exc).__name__)
        return _error(HTTPStatus.SERVICE_UNAVAILABLE, "unavailable", "Try again later.")
    if reply.status == HTTPStatus.SERVICE_UNAVAILABLE:
        return _error(reply.status, reply.body["error"], reply.body["message"])
    if reply.status == HTTPStatus.OK:
        backpressure.hold()  # stored durably already; a sender ahead of the engine slows down
    return JsonResponse(reply.body, status=reply.status)
