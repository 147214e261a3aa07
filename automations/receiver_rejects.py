"""Keeping what Cartly signed and we refused, once per distinct body, for inspection.

A refusal after a valid signature is a disagreement with Cartly about the contract, not an
attack (cartly-api.md, "Deliveries": only Cartly holds the secret). Cartly retries what we
refuse, so each distinct body is one row with a count of how often it came; the admin shows
the rows and the connection page counts them. Keeping is best effort: it never changes the
answer Cartly gets.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from automations.models import RejectedDelivery
from automations.receiver_envelope import MAX_EVENT_ID_LENGTH, MAX_EVENT_TYPE_LENGTH
from automations.receiver_targets import HookTarget

log = logging.getLogger(__name__)

# The columns' sizes in automations/models_hooks.py.
MAX_MESSAGE_LENGTH = 300
MAX_ERROR_LENGTH = 40
MAX_HEADER_LENGTHS = {"webhook_id": 64, "shop_domain": 200, "content_type": 100}


@dataclass(frozen=True)
class Refusal:
    """What we answered, and the unsigned headers that came with the body."""

    status: int
    error: str
    message: str
    webhook_id: str | None
    shop_domain: str | None
    content_type: str | None


def body_text(body: bytes) -> str:
    """The body as storable text: invalid UTF-8 and NUL (which PostgreSQL text refuses) escaped."""
    return body.decode("utf-8", errors="backslashreplace").replace("\x00", "\\x00")


def _described(body: bytes) -> dict[str, str]:
    """The event id and type the body claims, when it is JSON enough to say."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return {}
    if not isinstance(document, dict):
        return {}
    claimed = {
        "cartly_event_id": (document.get("id"), MAX_EVENT_ID_LENGTH),
        "event_type": (document.get("event"), MAX_EVENT_TYPE_LENGTH),
    }
    return {name: value[:size] for name, (value, size) in claimed.items() if isinstance(value, str)}


def _headers(refusal: Refusal) -> dict[str, str]:
    return {
        name: (getattr(refusal, name) or "")[:size] for name, size in MAX_HEADER_LENGTHS.items()
    }


def keep(target: HookTarget | None, body: bytes, refusal: Refusal) -> None:
    """Record one refused signed body (or one more sighting of it); never raises."""
    try:
        _record(target, body, refusal)
    except DatabaseError as exc:
        # Cartly retries a refused delivery: the next copy is kept if the database is back.
        log.warning("could not keep a refused delivery: %s", type(exc).__name__)


def _record(target: HookTarget | None, body: bytes, refusal: Refusal) -> None:
    digest = hashlib.sha256(body).hexdigest()
    answer = {
        "status_code": refusal.status,
        "error": refusal.error[:MAX_ERROR_LENGTH],
        "message": refusal.message[:MAX_MESSAGE_LENGTH],
    }
    try:
        with transaction.atomic():
            if _seen_again(digest, answer):
                return
            RejectedDelivery.objects.create(
                body_sha256=digest,
                connection_id=target.connection_id if target else None,
                subscription_id=target.subscription_id if target else None,
                body=body_text(body),
                **answer,
                **_described(body),
                **_headers(refusal),
            )
    except IntegrityError:
        _seen_again(digest, answer)  # a parallel copy of the same body was first


def _seen_again(digest: str, answer: dict) -> bool:
    return bool(
        RejectedDelivery.objects.filter(body_sha256=digest).update(
            times_seen=F("times_seen") + 1, last_seen_at=timezone.now(), **answer
        )
    )
