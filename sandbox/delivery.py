"""Sending REST Hook deliveries (cartly-api.md, "Deliveries").

A delivery is claimed with a conditional UPDATE that pushes `next_attempt_at` forward by a lease,
so two senders (threads or processes, SQLite or PostgreSQL) never send one attempt twice; a
sender that dies mid-send leaves the lease to expire and the attempt is made again: at least once.
"""

import hashlib
import hmac
import http.cookiejar
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from sandbox.models import Delivery, DeliveryAttempt, Shop, Webhook

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Cartly-Hmac-Sha256"  # [page]
SHOP_DOMAIN_HEADER = "X-Cartly-Shop-Domain"  # [page]
WEBHOOK_ID_HEADER = "X-Cartly-Webhook-Id"  # [page]
USER_AGENT = "Cartly-Sandbox-Webhooks/1.0"
INJECTED_FAILURE = "injected failure"
ERROR_MAX_LENGTH = 200  # DeliveryAttempt.error keeps a short reason, not a traceback
# How long a claim holds before another sender may assume this one died and take over: a claim
# may wait in the worker's queue behind one send, then be sent; each send is at most two POSTs
# (the injected duplicate), each bounded by the timeout. Plus slack for the database.
POSTS_PER_CLAIM = 4
LEASE_SLACK_SECONDS = 30.0


@dataclass(frozen=True)
class Outcome:
    """What one POST came to: a status code, or an error when no answer arrived."""

    status_code: int | None
    latency_ms: int
    error: str = ""

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.status_code == 410  # resthooks.org: the receiver wants no more


def sign(body: bytes, secret: str) -> str:
    """`sha256=<hex>` over the raw body, keyed by the app's client secret [page]."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _new_session() -> requests.Session:
    session = requests.Session()
    # One pooled session serves every receiver: never carry a cookie from one to another.
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    pool = max(settings.SANDBOX_DELIVERY_WORKERS, 1) * 2
    adapter = requests.adapters.HTTPAdapter(pool_connections=pool, pool_maxsize=pool)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


_session: requests.Session | None = None


def session() -> requests.Session:
    global _session
    if _session is None:
        _session = _new_session()
    return _session


# --- claiming --------------------------------------------------------------------------------


def lease_seconds() -> float:
    return POSTS_PER_CLAIM * settings.SANDBOX_DELIVERY_TIMEOUT_SECONDS + LEASE_SLACK_SECONDS


def due_ids(now: datetime, limit: int) -> list[int]:
    """Ids of deliveries whose next attempt is due, oldest first (a hint: claims decide)."""
    due = Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
    return list(due.order_by("next_attempt_at", "id").values_list("id", flat=True)[:limit])


def claim(delivery_id: int, now: datetime) -> bool:
    """Take one due delivery for one attempt; False if another sender got there first.

    The WHERE repeats the due condition, so only one UPDATE can match: the winner moves
    next_attempt_at past `now`, and every other claimer finds nothing due.
    """
    claimed = Delivery.objects.filter(
        pk=delivery_id, status=Delivery.Status.PENDING, next_attempt_at__lte=now
    ).update(
        next_attempt_at=now + timedelta(seconds=lease_seconds()),
        attempts=F("attempts") + 1,
    )
    return claimed == 1


def release(delivery_id: int) -> None:
    """Give back a claim that was never attempted (a worker stopping), so it is due at once."""
    Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.PENDING).update(
        next_attempt_at=timezone.now(), attempts=F("attempts") - 1
    )


def claim_due(limit: int, now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return [pk for pk in due_ids(now, limit) if claim(pk, now)]


# --- sending ---------------------------------------------------------------------------------


def _short(error: str) -> str:
    return error if len(error) <= ERROR_MAX_LENGTH else error[: ERROR_MAX_LENGTH - 1] + "…"


def _describe(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.Timeout):
        return f"timeout after {settings.SANDBOX_DELIVERY_TIMEOUT_SECONDS:g}s"
    if isinstance(exc, requests.ConnectionError):
        return _short(f"connection error: {exc}")
    return _short(f"{type(exc).__name__}: {exc}")


def post(url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    """One POST; redirects are not followed (a 3xx is not a 2xx, so it is retried)."""
    started = time.monotonic()
    try:
        response = session().post(
            url,
            data=body,
            headers=headers,
            timeout=settings.SANDBOX_DELIVERY_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
        response.close()
    except requests.RequestException as exc:
        return Outcome(None, _elapsed_ms(started), _describe(exc))
    return Outcome(response.status_code, _elapsed_ms(started))


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def headers_for(delivery: Delivery, body: bytes) -> dict[str, str]:
    # The secret is the app's plaintext client secret (hash_client_secret=False) [assumed].
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(body, delivery.application.client_secret),
        SHOP_DOMAIN_HEADER: delivery.event.shop.domain,
        WEBHOOK_ID_HEADER: delivery.webhook_ref,
    }


def _rate(shop: Shop, field: str, setting: str) -> float:
    value = getattr(shop, field)
    return getattr(settings, setting) if value is None else value


def _record(delivery: Delivery, outcome: Outcome) -> None:
    DeliveryAttempt.objects.create(
        delivery=delivery,
        status_code=outcome.status_code,
        latency_ms=outcome.latency_ms,
        error=outcome.error,
    )


def attempt(delivery: Delivery) -> Outcome:
    """Make the claimed attempt, faults included, recording every POST it makes."""
    shop = delivery.event.shop
    fail_rate = _rate(shop, "fault_delivery_fail_rate", "SANDBOX_FAULT_DELIVERY_FAIL_RATE")
    if random.random() < fail_rate:
        outcome = Outcome(None, 0, INJECTED_FAILURE)  # nothing leaves the sandbox
        _record(delivery, outcome)
        return outcome
    body = delivery.event.body.encode("utf-8")
    headers = headers_for(delivery, body)
    outcome = post(delivery.url, body, headers)
    _record(delivery, outcome)
    duplicate_rate = _rate(
        shop, "fault_delivery_duplicate_rate", "SANDBOX_FAULT_DELIVERY_DUPLICATE_RATE"
    )
    if outcome.delivered and random.random() < duplicate_rate:
        # As if the receiver's answer were lost: the same bytes again (at least once).
        _record(delivery, post(delivery.url, body, headers))
    return outcome


# --- settling --------------------------------------------------------------------------------


def retry_delay(attempts: int) -> float | None:
    """Seconds before the next attempt after `attempts` tries, or None once the list runs out."""
    schedule = settings.SANDBOX_DELIVERY_RETRY_SECONDS
    return schedule[attempts - 1] if attempts - 1 < len(schedule) else None


def settle(delivery: Delivery, outcome: Outcome) -> str:
    """Move the delivery on after its attempt; returns its new status."""
    pending = Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING)
    if outcome.delivered:
        pending.update(status=Delivery.Status.DELIVERED, next_attempt_at=None)
        return Delivery.Status.DELIVERED
    if outcome.gone:
        forget_webhook(delivery.webhook_ref)
        return Delivery.Status.GONE
    delay = retry_delay(delivery.attempts)
    if delay is None:
        pending.update(status=Delivery.Status.FAILED, next_attempt_at=None)
        return Delivery.Status.FAILED
    pending.update(next_attempt_at=timezone.now() + timedelta(seconds=delay))
    return Delivery.Status.PENDING


@transaction.atomic
def forget_webhook(webhook_id: str) -> None:
    """410 Gone: delete the subscription and stop everything still queued for it."""
    Delivery.objects.filter(webhook_ref=webhook_id, status=Delivery.Status.PENDING).update(
        status=Delivery.Status.GONE, next_attempt_at=None
    )
    deleted, _ = Webhook.objects.filter(pk=webhook_id).delete()
    if deleted:
        log.info("webhook %s answered 410 Gone: subscription deleted", webhook_id)


def send(delivery_id: int) -> str:
    """Make one attempt of a delivery this sender has claimed, and settle it."""
    related = Delivery.objects.select_related("event__shop", "application")
    delivery = related.filter(pk=delivery_id).first()
    if delivery is None:  # its app or shop was deleted meanwhile
        return Delivery.Status.GONE
    outcome = attempt(delivery)
    status = settle(delivery, outcome)
    log.debug(
        "delivery %s attempt %s to %s: %s %s",
        delivery.pk,
        delivery.attempts,
        delivery.url,
        outcome.status_code or outcome.error,
        status,
    )
    return status


def deliver_due(limit: int = 100) -> int:
    """Claim and send what is due, one by one, in this thread; returns how many were sent."""
    claimed = claim_due(limit)
    for delivery_id in claimed:
        send(delivery_id)
    return len(claimed)
