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
# still share one budget. Grants whole calls, at most `want`; answers "<granted> <seconds until
# the next call>" as text (Lua numbers become integers).
TAKE_SCRIPT = """
local rate, burst, want = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local granted = math.min(want, math.floor(tokens))
tokens = tokens - granted
local wait = 0
if granted < want then wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return tostring(granted) .. ' ' .. tostring(wait)
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


def _take_redis(key: str, rate: float, burst: float, want: int) -> tuple[int, float]:
    try:
        granted, wait = str(_script()(keys=[key], args=[rate, burst, want]).decode()).split()
        return int(float(granted)), float(wait)
    except redis.RedisError as exc:
        # Redis is also the broker: if it is down nothing is running anyway. Letting the calls
        # through beats failing every step; Cartly's own 429 still protects the shop.
        log.warning("rate limit store unavailable, calls allowed: %r", exc)
        return want, 0.0


def _refill(budget: ShopBudget, now: float, rate: float, burst: float) -> float:
    return min(burst, budget.tokens + max(0.0, now - budget.refilled_at) * rate)


def _take_database(key: str, rate: float, burst: float, want: int) -> tuple[int, float]:
    now = time.time()
    with transaction.atomic():
        budget = ShopBudget.objects.select_for_update().filter(shop_key=key).first()
        if budget is None:
            try:
                with transaction.atomic():
                    budget = ShopBudget.objects.create(shop_key=key, tokens=burst, refilled_at=now)
            except IntegrityError:  # made by a parallel caller: take from that one
                budget = ShopBudget.objects.select_for_update().get(shop_key=key)
        tokens = _refill(budget, now, rate, burst)
        granted = min(want, int(tokens))
        tokens -= granted
        wait = (1.0 - tokens) / rate if granted < want else 0.0
        ShopBudget.objects.filter(pk=budget.pk).update(tokens=tokens, refilled_at=now)
    return granted, wait


def take_many(key: str, want: int) -> tuple[int, float]:
    """Spend up to `want` calls of the shop's budget at once: (calls granted, seconds until
    the next call could be) — one round trip for a whole batch of steps."""
    rate = float(settings.CARTLY_SHOP_RATE_PER_SECOND)
    if rate <= 0 or want <= 0:
        return want, 0.0
    burst = max(float(settings.CARTLY_SHOP_BURST), COST)
    if settings.REDIS_URL:
        return _take_redis(key, rate, burst, want)
    return _take_database(key, rate, burst, want)


def take(key: str) -> None:
    """Spend one call of the shop's budget, or raise RateLimited with the wait."""
    granted, wait = take_many(key, 1)
    if not granted:
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
