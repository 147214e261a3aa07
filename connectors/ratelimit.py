"""One call budget per shop, shared by every worker: polls, searches, actions, hook calls.

A token bucket (CARTLY_SHOP_BURST calls at once, refilled at CARTLY_SHOP_RATE_PER_SECOND):
in Redis when REDIS_URL is set (one Lua script, so taking a token is atomic across machines),
in the database otherwise (one locked row per shop; the embedded SQLite serialises writers).
Over budget, `take` raises RateLimited with the wait, and the runner waits exactly as for
Cartly's own 429 (connectors/errors.py). Every HTTP request to a shop goes through
`BudgetedSession`, which connectors.tokens.call hands to the client.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import redis
import requests
from django.conf import settings
from django.db import IntegrityError, transaction

from connectors.cartly.client import shared_session
from connectors.errors import ShopBudgetExceeded
from connectors.models import ShopBudget

log = logging.getLogger(__name__)

KEY_PREFIX = "cartly:budget:"
COST = 1.0  # one HTTP request
# Redis refills from its own clock (TIME), so workers on machines whose clocks disagree
# still share one budget. Returns the seconds to wait, as text (Lua numbers become integers).
TAKE_SCRIPT = """
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= cost then tokens = tokens - cost else wait = (cost - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return tostring(wait)
"""

_redis_lock = threading.Lock()
_redis: tuple[int, str, Any] | None = None  # (pid, url, script): one client per process


def shop_key(shop_id: str) -> str:
    return f"{KEY_PREFIX}{shop_id}"


def _script():
    """The registered script on a client for REDIS_URL, made once per process."""
    global _redis
    url = settings.REDIS_URL
    with _redis_lock:
        if _redis is None or _redis[0] != os.getpid() or _redis[1] != url:
            client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
            _redis = (os.getpid(), url, client.register_script(TAKE_SCRIPT))
        return _redis[2]


def _wait_redis(key: str, rate: float, burst: float) -> float:
    try:
        return float(_script()(keys=[key], args=[rate, burst, COST]))
    except redis.RedisError as exc:
        # Redis is also the broker: if it is down nothing is running anyway. Letting the call
        # through beats failing every step; Cartly's own 429 still protects the shop.
        log.warning("rate limit store unavailable, call allowed: %r", exc)
        return 0.0


def _refill(budget: ShopBudget, now: float, rate: float, burst: float) -> float:
    return min(burst, budget.tokens + max(0.0, now - budget.refilled_at) * rate)


def _wait_database(key: str, rate: float, burst: float) -> float:
    now = time.time()
    with transaction.atomic():
        budget = ShopBudget.objects.select_for_update().filter(shop_key=key).first()
        if budget is None:
            try:
                with transaction.atomic():
                    ShopBudget.objects.create(shop_key=key, tokens=burst - COST, refilled_at=now)
                return 0.0
            except IntegrityError:  # made by a parallel caller: take from that one
                budget = ShopBudget.objects.select_for_update().get(shop_key=key)
        tokens = _refill(budget, now, rate, burst)
        wait = 0.0
        if tokens >= COST:
            tokens -= COST
        else:
            wait = (COST - tokens) / rate
        ShopBudget.objects.filter(pk=budget.pk).update(tokens=tokens, refilled_at=now)
    return wait


def take(key: str) -> None:
    """Spend one call of the shop's budget, or raise RateLimited with the wait."""
    rate = float(settings.CARTLY_SHOP_RATE_PER_SECOND)
    if rate <= 0:
        return
    burst = max(float(settings.CARTLY_SHOP_BURST), COST)
    if settings.REDIS_URL:
        wait = _wait_redis(key, rate, burst)
    else:
        wait = _wait_database(key, rate, burst)
    if wait > 0:
        raise ShopBudgetExceeded(
            f"Too many calls to this shop right now; trying again in {wait:.1f} s.",
            retry_after=wait,
        )


class BudgetedSession:
    """Stands in for a requests session: each request first takes from the shop's budget."""

    def __init__(self, key: str, session: requests.Session | None = None):
        self.key = key
        self._session = session

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        take(self.key)
        return (self._session or shared_session()).request(method, url, **kwargs)
