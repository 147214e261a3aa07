"""The REST Hook receiver: store one signed Cartly delivery, then answer (DESIGN.md, step 2).

Plain functions the thin view in `views_hooks.py` calls. The hot path is one indexed lookup,
one HMAC, one INSERT and one publish after commit ("Speed is part of the design"); everything
else answers early with a status code that tells Cartly what to do: 2xx stops its retries,
410 makes it drop the hook, anything else is retried later (cartly-api.md, "Deliveries").

The order of the checks is chosen so that a caller without the signing secret learns nothing:
the signature is checked before the token is looked up, so such a caller cannot tell a live
token from a dead or unknown one, and costs us no query.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.db import DataError, IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from automations.dedupe import MAX_DEDUPE_KEY_LENGTH, ChangeKeyTooLong, change_key
from automations.models import Event, Subscription
from connectors import registry

log = logging.getLogger(__name__)

# A delivery is one object of cartly-api.md "Objects" in an envelope: a few KiB. A MiB leaves
# room for a big order and stops a caller from making us buffer an unbounded body.
MAX_BODY_BYTES = 1024 * 1024
SIGNATURE_HEADER = "X-Cartly-Hmac-Sha256"  # [page] sha256=<hex> over the raw body
WEBHOOK_ID_HEADER = "X-Cartly-Webhook-Id"  # [page] the subscription's wh_… id (not signed)
SIGNATURE_PREFIX = "sha256="
SIGNATURE_HEX_LENGTH = hashlib.sha256().digest_size * 2
HEX_DIGITS = frozenset(string.hexdigits)
JSON_MEDIA_TYPE = "application/json"
# last_delivery_at is shown to merchants as "a minute ago"; writing it on every delivery would
# make every delivery of a busy hook queue on that one row's lock.
LAST_DELIVERY_RESOLUTION = timedelta(seconds=60)
# The Event columns the envelope fills, by their max_length in automations/models.py.
MAX_EVENT_ID_LENGTH = 64
MAX_EVENT_TYPE_LENGTH = 40
MAX_OBJECT_ID_LENGTH = 64
MAX_TIME_LENGTH = 64  # an ISO 8601 time is about 30 characters; more is not one
MAX_TOKEN_LENGTH = 64  # Subscription.token's size: anything longer cannot be one
# A deleting subscription is one we are removing too: either way we want no more deliveries.
GONE_STATUSES = (Subscription.Status.DELETING, Subscription.Status.DELETED)


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
class Envelope:
    """The checked fields of a delivery body (cartly-api.md, "Deliveries")."""

    event_id: str
    event_type: str
    created_at: datetime
    shop_id: str
    data: dict[str, Any]
    object_id: str


# --- checks, each raising Rejected -----------------------------------------------------------


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
    secret = settings.CARTLY_CLIENT_SECRET
    if not secret:
        # Anyone can compute an HMAC with an empty key; retryable until someone configures it.
        log.error("CARTLY_CLIENT_SECRET is not set: refusing every REST Hook delivery")
        raise Rejected(
            HTTPStatus.SERVICE_UNAVAILABLE, "not_configured", "Deliveries cannot be checked yet."
        )
    if not signature_matches(body, header, secret):
        raise Rejected(
            HTTPStatus.UNAUTHORIZED,
            "bad_signature",
            f"{SIGNATURE_HEADER} is missing or does not match the body.",
        )


def check_content_type(content_type: str | None) -> None:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != JSON_MEDIA_TYPE:
        raise Rejected(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            f"Deliveries must be sent as {JSON_MEDIA_TYPE}.",
        )


def find_subscription(token: str) -> Subscription:
    """The one indexed lookup: the subscription and the two connection columns we need."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise Rejected(HTTPStatus.NOT_FOUND, "not_found", "No subscription has this address.")
    subscription = (
        Subscription.objects.select_related("connection")
        .only(
            "id",
            "status",
            "remote_id",
            "event_type",
            "last_delivery_at",
            "connection__id",
            "connection__shop_id",
        )
        .filter(token=token)
        .first()
    )
    if subscription is None:
        raise Rejected(HTTPStatus.NOT_FOUND, "not_found", "No subscription has this address.")
    if subscription.status in GONE_STATUSES:
        raise Rejected(HTTPStatus.GONE, "gone", "This subscription was removed.")
    return subscription


def check_webhook_id(subscription: Subscription, webhook_id: str | None) -> None:
    # The header is not signed: it must name the hook that this token's subscription holds.
    if not subscription.remote_id or webhook_id != subscription.remote_id:
        raise Rejected(
            HTTPStatus.UNAUTHORIZED,
            "wrong_webhook",
            f"{WEBHOOK_ID_HEADER} does not belong to this subscription.",
        )


def _bad(message: str) -> Rejected:
    return Rejected(HTTPStatus.BAD_REQUEST, "bad_request", message)


def _text(container: dict, key: str, name: str, max_length: int) -> str:
    value = container.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise _bad(f"The delivery lacks `{name}` (a non-empty string).")
    if len(value) > max_length:
        raise _bad(f"`{name}` is longer than {max_length} characters.")
    return value


def _reject_constant(name: str):
    # NaN and Infinity are not JSON (RFC 8259); Python accepts them, the inbox must not.
    raise ValueError(f"{name} is not JSON")


def parse_envelope(body: bytes) -> Envelope:
    """The envelope's fields, or a 400 naming the first one that is missing or wrong."""
    try:
        document = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):  # deep nesting: RecursionError
        raise _bad("The body is not UTF-8 JSON.") from None
    if not isinstance(document, dict):
        raise _bad("The body is not a JSON object.")
    event_id = _text(document, "id", "id", MAX_EVENT_ID_LENGTH)
    event_type = _text(document, "event", "event", MAX_EVENT_TYPE_LENGTH)
    created_raw = _text(document, "created_at", "created_at", MAX_TIME_LENGTH)
    try:
        created_at = parse_datetime(created_raw)
    except ValueError:
        created_at = None
    if created_at is None:
        raise _bad("`created_at` is not an ISO 8601 time.")
    if timezone.is_naive(created_at):
        created_at = timezone.make_aware(created_at, UTC)  # times are UTC [assumed]
    shop_id = _text(document, "shop_id", "shop_id", MAX_OBJECT_ID_LENGTH)
    data = document.get("data")
    if not isinstance(data, dict):
        raise _bad("The delivery lacks `data` (an object).")
    # The trigger names its object's id field: an inventory level's is variant_id.
    triggers = registry.triggers_for_event(event_type)
    id_field = triggers[0].id_field if triggers else "id"
    object_id = _text(data, id_field, f"data.{id_field}", MAX_OBJECT_ID_LENGTH)
    return Envelope(event_id, event_type, created_at, shop_id, data, object_id)


def check_shop(subscription: Subscription, envelope: Envelope) -> None:
    # shop_id is inside the signed body; it must be the shop this subscription's connection is.
    if envelope.shop_id != subscription.connection.shop_id:
        raise Rejected(HTTPStatus.UNAUTHORIZED, "wrong_shop", "The delivery is for another shop.")


def dedupe_key(subscription: Subscription, envelope: Envelope) -> str | None:
    """The trigger's source-independent key, or None when this delivery is not ours to run."""
    if envelope.event_type != subscription.event_type:
        return None
    try:
        return change_key(envelope.event_type, envelope.data)  # the same key polling makes
    except KeyError as exc:
        raise _bad(f"The delivery lacks `data.{exc.args[0]}`.") from None
    except ChangeKeyTooLong:
        too_long = f"`data` gives a change key longer than {MAX_DEDUPE_KEY_LENGTH} characters."
        raise _bad(too_long) from None


# --- storing -----------------------------------------------------------------------------------


def _new_event(subscription: Subscription, envelope: Envelope, body: bytes) -> Event:
    key = dedupe_key(subscription, envelope)
    return Event(
        connection_id=subscription.connection_id,
        subscription_id=subscription.pk,
        source=Event.Source.WEBHOOK,
        cartly_event_id=envelope.event_id,
        event_type=envelope.event_type,
        object_id=envelope.object_id,
        dedupe_key=key,
        payload=envelope.data,
        raw_body=body.decode("utf-8"),  # parse_envelope proved it is UTF-8
        status=Event.Status.RECEIVED if key else Event.Status.IGNORED,
        occurred_at=envelope.created_at,
    )


def _insert(event: Event) -> None:
    """INSERT the row; the engine's clock dispatches it (no message: the broker never holds
    up or fails a delivery)."""
    with transaction.atomic():
        event.save(force_insert=True)


def store(subscription: Subscription, envelope: Envelope, body: bytes) -> Reply:
    """One INSERT; the unique constraints, not a prior SELECT, decide what is a duplicate."""
    event = _new_event(subscription, envelope, body)
    try:
        _insert(event)
        return Reply(HTTPStatus.OK, event_id=event.pk)
    except DataError:
        # e.g. a NUL character PostgreSQL's jsonb refuses: resending will not help.
        raise _bad("The delivery holds a value the inbox cannot store.") from None
    except IntegrityError:
        pass
    seen = Event.objects.filter(
        connection_id=event.connection_id, cartly_event_id=event.cartly_event_id
    )
    if seen.exists():
        return Reply(HTTPStatus.OK)  # a retry of a delivery we hold: nothing more to do
    if not Event.objects.filter(
        connection_id=event.connection_id, dedupe_key=event.dedupe_key
    ).exists():
        # Neither constraint explains the refusal: never answer 200 for what was not stored.
        raise _bad("The delivery holds a value the inbox cannot store.")
    # Another row (e.g. found by polling) already holds this change: keep this one as a
    # duplicate, without the key, and run nothing for it.
    copy = _new_event(subscription, envelope, body)
    copy.dedupe_key = None
    copy.status = Event.Status.DUPLICATE
    try:
        _insert(copy)
    except IntegrityError:
        return Reply(HTTPStatus.OK)  # a parallel retry of this very delivery stored it first
    return Reply(HTTPStatus.OK, event_id=copy.pk)


def note_delivery(subscription: Subscription) -> None:
    """Move last_delivery_at forward, at most once per LAST_DELIVERY_RESOLUTION."""
    now = timezone.now()
    last = subscription.last_delivery_at
    if last is None or now - last >= LAST_DELIVERY_RESOLUTION:
        Subscription.objects.filter(pk=subscription.pk).update(last_delivery_at=now)


# --- the whole delivery ------------------------------------------------------------------------


def receive(
    token: str,
    body: bytes,
    *,
    signature: str | None,
    webhook_id: str | None,
    content_type: str | None,
) -> Reply:
    """Check and store one delivery whose body was already read within MAX_BODY_BYTES.

    Database errors propagate: the view answers 503 so that Cartly retries.
    """
    try:
        check_signature(body, signature)
        check_content_type(content_type)
        subscription = find_subscription(token)
        check_webhook_id(subscription, webhook_id)
        envelope = parse_envelope(body)
        check_shop(subscription, envelope)
        reply = store(subscription, envelope, body)
    except Rejected as rejected:
        # Never the body or the signature: the reason and the token's row are enough.
        log.info("REST Hook delivery refused (%s): %s", rejected.status, rejected.error)
        return rejected.reply()
    note_delivery(subscription)
    return reply
