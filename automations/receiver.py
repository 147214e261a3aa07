"""The REST Hook receiver: store one signed Cartly delivery, then answer (DESIGN.md, step 2).

Plain functions the thin view in `views_hooks.py` calls. The hot path is one HMAC, one
indexed lookup (remembered for a few seconds, `receiver_targets`) and one autocommitted
INSERT (`receiver_store`); everything else answers early with a status code that tells Cartly
what to do: 2xx stops its retries, 410 makes it drop the hook, anything else is retried later
(cartly-api.md, "Deliveries").

The order of the checks is chosen so that a caller without the signing secret learns nothing:
the signature is checked before the token is looked up, so such a caller cannot tell a live
token from a dead or unknown one, and costs us no query. What Cartly signed and we still
refuse is kept for inspection (`receiver_rejects`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.utils import timezone

from automations import receiver_rejects, receiver_store, receiver_targets
from automations.models import Event
from automations.receiver_envelope import BadDelivery, Envelope, parse_envelope
from automations.receiver_targets import HookTarget

log = logging.getLogger(__name__)

# A delivery is one object of cartly-api.md "Objects" in an envelope: a few KiB. A MiB leaves
# room for a big order and stops a caller from making us buffer an unbounded body.
MAX_BODY_BYTES = 1024 * 1024
SIGNATURE_HEADER = "X-Cartly-Hmac-Sha256"  # [page] sha256=<hex> over the raw body
WEBHOOK_ID_HEADER = "X-Cartly-Webhook-Id"  # [page] the subscription's wh_… id (not signed)
SHOP_DOMAIN_HEADER = "X-Cartly-Shop-Domain"  # [page] e.g. mystore.mycartly.pro (not signed)
SIGNATURE_PREFIX = "sha256="
SIGNATURE_HEX_LENGTH = hashlib.sha256().digest_size * 2
HEX_DIGITS = frozenset(string.hexdigits)
JSON_MEDIA_TYPE = "application/json"


@dataclass(frozen=True)
class Reply:
    """What the view answers: a status code and a small JSON body."""

    status: int
    body: dict[str, Any] = field(default_factory=lambda: {"ok": True})
    event_id: int | None = None  # the stored row, for tests and logs


class Rejected(Exception):
    """The delivery is refused; `status` tells Cartly whether to retry."""

    def __init__(self, status: int, error: str, message: str):
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message

    def reply(self) -> Reply:
        return Reply(self.status, {"error": self.error, "message": self.message})


@dataclass(frozen=True)
class Headers:
    """The headers of a delivery that the receiver reads (all as sent, None when absent)."""

    signature: str | None
    webhook_id: str | None
    shop_domain: str | None
    content_type: str | None


# --- the signature -----------------------------------------------------------------------------


def signature_matches(body: bytes, header: str | None, secret: str) -> bool:
    """Constant-time check of `sha256=<hex>` over the raw bytes; False for any malformed value."""
    if not header or not header.startswith(SIGNATURE_PREFIX):
        return False
    given = header[len(SIGNATURE_PREFIX) :]
    # Checked by hand: bytes.fromhex would accept spaces and fail on non-ASCII with an error.
    if len(given) != SIGNATURE_HEX_LENGTH or not HEX_DIGITS.issuperset(given):
        return False
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return hmac.compare_digest(expected, bytes.fromhex(given))


def check_signature(body: bytes, header: str | None) -> None:
    """Signed with the client secret, or with the previous one while a rotation lasts."""
    secret = settings.CARTLY_CLIENT_SECRET
    if not secret:
        # Anyone can compute an HMAC with an empty key; retryable until someone configures it.
        log.error("CARTLY_CLIENT_SECRET is not set: refusing every REST Hook delivery")
        raise Rejected(
            HTTPStatus.SERVICE_UNAVAILABLE, "not_configured", "Deliveries cannot be checked yet."
        )
    if signature_matches(body, header, secret):
        return
    previous = settings.CARTLY_CLIENT_SECRET_PREVIOUS
    if previous and signature_matches(body, header, previous):
        return
    raise Rejected(
        HTTPStatus.UNAUTHORIZED,
        "bad_signature",
        f"{SIGNATURE_HEADER} is missing or does not match the body.",
    )


# --- checks after the signature ------------------------------------------------------------------


def check_content_type(content_type: str | None) -> None:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != JSON_MEDIA_TYPE:
        raise Rejected(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            f"Deliveries must be sent as {JSON_MEDIA_TYPE}.",
        )


def find_target(token: str, *, fresh: bool = False) -> HookTarget:
    """The live subscription the token names: 404 for none, 410 for one we removed."""
    target = receiver_targets.find(token, fresh=fresh)
    if target is None:
        raise Rejected(HTTPStatus.NOT_FOUND, "not_found", "No subscription has this address.")
    if target.gone:
        raise Rejected(HTTPStatus.GONE, "gone", "This subscription was removed.")
    return target


def check_target(target: HookTarget, headers: Headers, envelope: Envelope) -> None:
    """The delivery belongs to this token's subscription and shop (the headers are unsigned,
    so each must name what the token's row holds; `shop_id` is inside the signed body)."""
    if not target.remote_id or headers.webhook_id != target.remote_id:
        raise Rejected(
            HTTPStatus.UNAUTHORIZED,
            "wrong_webhook",
            f"{WEBHOOK_ID_HEADER} does not belong to this subscription.",
        )
    domain = (headers.shop_domain or "").strip().lower()
    if not domain or domain != target.shop_domain.lower():
        raise Rejected(
            HTTPStatus.UNAUTHORIZED,
            "wrong_shop_domain",
            f"{SHOP_DOMAIN_HEADER} is not the domain of this subscription's shop.",
        )
    if envelope.shop_id != target.shop_id:
        raise Rejected(HTTPStatus.UNAUTHORIZED, "wrong_shop", "The delivery is for another shop.")


def checked_target(
    token: str, target: HookTarget, headers: Headers, envelope: Envelope
) -> HookTarget:
    """`target` if the delivery fits it; a remembered target that does not fit is read again
    (a hook replaced or a shop renamed within the last seconds), so memory never refuses."""
    try:
        check_target(target, headers, envelope)
        return target
    except Rejected:
        if not target.cached:
            raise
    target = find_target(token, fresh=True)
    check_target(target, headers, envelope)
    return target


def is_stale(created_at: datetime, now: datetime) -> bool:
    """Older than HOOK_STALE_AFTER_SECONDS (0 turns the window off)."""
    window = settings.HOOK_STALE_AFTER_SECONDS
    return window > 0 and now - created_at > timedelta(seconds=window)


def event_status(envelope: Envelope, key: str | None) -> str:
    if key is None:
        return Event.Status.IGNORED.value  # no trigger of this subscription runs on it
    if is_stale(envelope.created_at, timezone.now()):
        return Event.Status.STALE.value  # kept to be seen, too late to be run
    return Event.Status.RECEIVED.value


# --- the whole delivery ------------------------------------------------------------------------


def _bad(exc: BadDelivery) -> Rejected:
    return Rejected(HTTPStatus.BAD_REQUEST, "bad_request", str(exc))


def _store_signed(token: str, target: HookTarget, body: bytes, headers: Headers) -> Reply:
    check_content_type(headers.content_type)
    try:
        envelope = parse_envelope(body)
        target = checked_target(token, target, headers, envelope)
        key = envelope.dedupe_key(target.event_type)
        status = event_status(envelope, key)
        # parse_envelope proved the body is UTF-8.
        values = receiver_store.event_values(target, envelope, body.decode(), status, key)
        stored = receiver_store.store(values)
    except BadDelivery as exc:
        raise _bad(exc) from None
    # Nothing is published: the engine's clock drains received events from the inbox.
    receiver_store.note_delivery(target, token)
    return Reply(HTTPStatus.OK, event_id=stored.event_id)


def receive(token: str, body: bytes, headers: Headers) -> Reply:
    """Check and store one delivery whose body was already read within MAX_BODY_BYTES.

    Database errors propagate: the view answers 503 so that Cartly retries.
    """
    target, signed = None, False
    try:
        check_signature(body, headers.signature)
        signed = True
        target = find_target(token)
        return _store_signed(token, target, body, headers)
    except Rejected as rejected:
        # Never the body or the signature: the reason and the token's row are enough.
        log.info("REST Hook delivery refused (%s): %s", rejected.status, rejected.error)
        if signed and rejected.status != HTTPStatus.GONE:  # 410 is what we asked for
            refusal = receiver_rejects.Refusal(
                rejected.status,
                rejected.error,
                rejected.message,
                headers.webhook_id,
                headers.shop_domain,
                headers.content_type,
            )
            receiver_rejects.keep(target, body, refusal)
        return rejected.reply()
