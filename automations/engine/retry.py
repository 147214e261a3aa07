"""When to try a failed call again: exponential backoff with full jitter, Retry-After a floor.

Short waits ride on a Celery countdown; a wait longer than MAX_COUNTDOWN_SECONDS is parked in
the database (next_attempt_at) and started by beat, because a countdown longer than the broker's
visibility timeout would be redelivered early (DESIGN.md, "Celery").
"""

import random

from django.conf import settings

# Attempts of one step before its run fails; five spans about a minute at the default base.
MAX_ATTEMPTS = 5
# A countdown above this is parked in the database instead (well under visibility_timeout).
MAX_COUNTDOWN_SECONDS = 300.0
# Never wait longer than this between two attempts, whatever the exponent says.
MAX_BACKOFF_SECONDS = 600.0


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """Seconds before attempt number `attempt + 1` (attempt counts from 1)."""
    base = settings.ENGINE_RETRY_BASE_SECONDS
    ceiling = min(MAX_BACKOFF_SECONDS, base * (2 ** (attempt - 1)))
    delay = random.uniform(0, ceiling)  # full jitter: retries of many runs spread out
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, MAX_BACKOFF_SECONDS)  # a Retry-After of days is parked, not obeyed


def should_retry(attempt: int) -> bool:
    return attempt < MAX_ATTEMPTS
