"""`Idempotency-Key` on POST and PUT (cartly-api.md, "Conventions").

The same key from the same app and shop within 24 h replays the first answer and changes nothing
again; the same key with a different method, path or body is 409 `idempotency_conflict`.

The key is claimed by INSERTing its IdempotencyRecord in the same transaction as the change, so
the unique constraint decides a race: the loser's INSERT fails (after the winner commits) and it
replays the winner's answer. 5xx answers roll back with their change and are never stored.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from sandbox.api.auth import Caller
from sandbox.errors import BadRequest, IdempotencyConflict
from sandbox.models import IdempotencyRecord

HEADER = "Idempotency-Key"
WINDOW = timedelta(hours=24)  # cartly-api.md: "within 24 h"
MAX_KEY_LENGTH = 255  # IdempotencyRecord.key's size
CLAIMED = 0  # status_code of a record whose answer is not written yet (never seen committed)


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: str  # JSON text, or "" for a 204
    replayed: bool


def request_key(request: HttpRequest) -> str | None:
    """The request's Idempotency-Key, if any; 400 when it is unusable."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise BadRequest(f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable characters.")
    return key


def fingerprint(request: HttpRequest, data: dict) -> str:
    """Method, path with query, and the body as canonical JSON (key order does not matter)."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    text = "\n".join([request.method or "", request.get_full_path(), canonical])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _records(caller: Caller, key: str):
    return IdempotencyRecord.objects.filter(
        application=caller.application, shop=caller.shop, key=key
    )


def _replay(record: IdempotencyRecord, print_: str) -> StoredAnswer:
    if record.fingerprint != print_:
        raise IdempotencyConflict(
            f"This {HEADER} was already used for a different request; use a new key."
        )
    return StoredAnswer(record.status_code, record.response_body, replayed=True)


def answer_once(
    caller: Caller, key: str, print_: str, run: Callable[[], tuple[int, str]]
) -> StoredAnswer:
    """Run `run` (status, JSON text) at most once per key; later calls get its answer."""
    _records(caller, key).filter(created_at__lt=timezone.now() - WINDOW).delete()
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                application=caller.application,
                shop=caller.shop,
                key=key,
                fingerprint=print_,
                status_code=CLAIMED,
                response_body="",
            )
            status, body = run()  # raises (and so rolls back the claim) on a 5xx
            record.status_code, record.response_body = status, body
            record.save(update_fields=["status_code", "response_body"])
    except IntegrityError:
        existing = _records(caller, key).first()
        if existing is None:  # the IntegrityError was the call's own, not a taken key
            raise
        return _replay(existing, print_)
    return StoredAnswer(status, body, replayed=False)
