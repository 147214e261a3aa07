"""What stands before a call: the rate limit and the injected faults.

cartly-api.md: 429 `rate_limited` carries `Retry-After` seconds. Both guards run before a call has
any effect, so a refused or faulted call changed nothing and is safe to retry.
"""

import math
import random
import threading
import time

from django.conf import settings

from sandbox.api.auth import Caller
from sandbox.errors import RateLimited, ServerError
from sandbox.models import Shop

# An injected 429 asks for the shortest wait Retry-After can express.
FAULT_RETRY_AFTER_SECONDS = 1
_random = random.Random()


class TokenBucket:
    """Token buckets keyed by (application, shop), refilled continuously; one process only.

    A sandbox runs as one process, so an in-memory bucket is exact there; several processes
    would each allow the full rate.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[tuple, tuple[float, float]] = {}  # key -> (tokens, monotonic time)

    def take(self, key: tuple, rate: float, burst: float) -> float:
        """Spend one token: 0.0 if allowed, else the seconds until one is available."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (burst, now))
            tokens = min(burst, tokens + (now - last) * rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / rate


buckets = TokenBucket()


def check_rate_limit(caller: Caller) -> None:
    """429 once the (app, shop) pair exceeds SANDBOX_RATE_LIMIT_PER_SECOND after its burst."""
    rate = float(settings.SANDBOX_RATE_LIMIT_PER_SECOND)
    if rate <= 0:  # a rate of zero switches the limiter off
        return
    burst = max(1.0, float(settings.SANDBOX_RATE_LIMIT_BURST))
    wait = buckets.take((caller.application.pk, caller.shop.pk), rate, burst)
    if wait > 0:
        retry_after = max(1, math.ceil(wait))
        raise RateLimited(
            f"Too many calls for this app and shop; retry in {retry_after} s.",
            **{"Retry-After": str(retry_after)},
        )


def _shop_or_setting(value, setting: str):
    return getattr(settings, setting) if value is None else value


def inject_faults(shop: Shop) -> None:
    """Added latency, then a share of 500s and 429s: the shop's values, else the settings."""
    latency_ms = _shop_or_setting(shop.fault_latency_ms, "SANDBOX_FAULT_LATENCY_MS")
    if latency_ms and latency_ms > 0:
        time.sleep(latency_ms / 1000)
    if _random.random() < _shop_or_setting(shop.fault_error_rate, "SANDBOX_FAULT_ERROR_RATE"):
        raise ServerError("The shop failed to answer (sandbox fault injection); retry later.")
    limit_rate = _shop_or_setting(shop.fault_rate_limit_rate, "SANDBOX_FAULT_RATE_LIMIT_RATE")
    if _random.random() < limit_rate:
        raise RateLimited(
            "Too many calls (sandbox fault injection); retry shortly.",
            **{"Retry-After": str(FAULT_RETRY_AFTER_SECONDS)},
        )
