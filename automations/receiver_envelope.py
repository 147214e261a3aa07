"""Reading a delivery's body: the envelope's fields, checked, or a 400 naming the first bad one.

cartly-api.md, "Deliveries": `{"id", "event", "created_at", "shop_id", "data"}`. Which key of
`data` is the object's id is the trigger's to say (`Trigger.id_field`): most objects have an
`id`, an inventory level has a `variant_id` and no `id` at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from automations.dedupe import (
    MAX_DEDUPE_KEY_LENGTH,
    ChangeKeyTooLong,
    trigger_for,
    trigger_key,
)
from connectors.base import Trigger

# The Event columns the envelope fills, by their max_length in automations/models.py.
MAX_EVENT_ID_LENGTH = 64
MAX_EVENT_TYPE_LENGTH = 40
MAX_OBJECT_ID_LENGTH = 64
MAX_TIME_LENGTH = 64  # an ISO 8601 time is about 30 characters; more is not one


class BadDelivery(ValueError):
    """The body cannot be stored as an event; the message names what is wrong (a 400)."""


@dataclass(frozen=True)
class Envelope:
    """The checked fields of a delivery body."""

    event_id: str
    event_type: str
    created_at: datetime
    shop_id: str
    data: dict[str, Any]
    object_id: str
    trigger: Trigger | None  # None: no trigger runs on this event (it is stored as ignored)

    def dedupe_key(self, subscribed_event_type: str) -> str | None:
        """The change's key, or None when this delivery is not ours to run.

        The same key polling makes for the same change (automations/dedupe.py).
        """
        if self.trigger is None or self.event_type != subscribed_event_type:
            return None
        try:
            return trigger_key(self.trigger, self.data)
        except KeyError as exc:
            raise BadDelivery(f"The delivery lacks `data.{exc.args[0]}`.") from None
        except ChangeKeyTooLong:
            raise BadDelivery(
                f"`data` gives a change key longer than {MAX_DEDUPE_KEY_LENGTH} characters."
            ) from None


def _valid_text(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and value else None


def _text(container: dict, key: str, name: str, max_length: int) -> str:
    value = _valid_text(container.get(key))
    if value is None:
        raise BadDelivery(f"The delivery lacks `{name}` (a non-empty string).")
    if len(value) > max_length:
        raise BadDelivery(f"`{name}` is longer than {max_length} characters.")
    return value


def _reject_constant(name: str):
    # NaN and Infinity are not JSON (RFC 8259); Python accepts them, the inbox must not.
    raise ValueError(f"{name} is not JSON")


def _time(document: dict) -> datetime:
    raw = _text(document, "created_at", "created_at", MAX_TIME_LENGTH)
    try:
        created_at = parse_datetime(raw)
    except ValueError:
        created_at = None
    if created_at is None:
        raise BadDelivery("`created_at` is not an ISO 8601 time.")
    if timezone.is_naive(created_at):
        created_at = timezone.make_aware(created_at, UTC)  # times are UTC [assumed]
    return created_at


def object_id(trigger: Trigger | None, data: dict[str, Any]) -> str:
    """The id of the object the event is about, by the trigger's declaration.

    An event no trigger runs on is only kept (as ignored): its `id`, if it has a usable one,
    is recorded, and nothing is required of it.
    """
    if trigger is None:
        value = _valid_text(data.get("id"))
        return value if value is not None and len(value) <= MAX_OBJECT_ID_LENGTH else ""
    # Where the trigger declares it (Trigger.id_field, as Trigger.object_id reads it).
    return _text(data, trigger.id_field, f"data.{trigger.id_field}", MAX_OBJECT_ID_LENGTH)


def parse_envelope(body: bytes) -> Envelope:
    """The envelope's fields, or BadDelivery naming the first one that is missing or wrong."""
    try:
        document = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):  # deep nesting: RecursionError
        raise BadDelivery("The body is not UTF-8 JSON.") from None
    if not isinstance(document, dict):
        raise BadDelivery("The body is not a JSON object.")
    event_id = _text(document, "id", "id", MAX_EVENT_ID_LENGTH)
    event_type = _text(document, "event", "event", MAX_EVENT_TYPE_LENGTH)
    created_at = _time(document)
    shop_id = _text(document, "shop_id", "shop_id", MAX_OBJECT_ID_LENGTH)
    data = document.get("data")
    if not isinstance(data, dict):
        raise BadDelivery("The delivery lacks `data` (an object).")
    trigger = trigger_for(event_type)
    return Envelope(
        event_id, event_type, created_at, shop_id, data, object_id(trigger, data), trigger
    )
