"""When to try a failed call again: a schedule that outlasts an outage, parked in the database.

Zapier and Make keep retrying for hours; a Cartly incident of twenty minutes must not fail the
runs that met it. The schedule (ENGINE_RETRY_SCHEDULE, seconds: by default 1, 5, 15 and 30
minutes, then 1, 2, 4, 6 and 8 hours, about 22 hours in all) is jittered so that a backlog does
not come back at one instant, and every wait is parked in the database (`next_attempt_at`) for
the engine's clock to start, never held as a Celery countdown (DESIGN.md, "Celery"). A
Retry-After from the service is a floor. The whole schedule stays under Cartly's 24 hours of
idempotency-key memory; a deliberate retry after that looks for the effect first (calls.py).
"""

import random
from datetime import timedelta

from django.conf import settings

# ±20 %: enough to spread a backlog of thousands, small enough to keep the schedule readable.
JITTER = 0.2
# Cartly's own 429s are waits, not failures: a busy shop may send many before it lets us in.
MAX_RATE_LIMITED_ATTEMPTS = 30


def schedule() -> list[float]:
    return [float(s) for s in settings.ENGINE_RETRY_SCHEDULE]


def delay_after(attempt: int, retry_after: float | None = None) -> float | None:
    """Seconds before the next attempt after failed attempt number `attempt` (from 1); None
    when the schedule is spent."""
    waits = schedule()
    if attempt > len(waits):
        return None
    delay = waits[attempt - 1] * random.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def span(attempts: int) -> timedelta:
    """Roughly how long `attempts` attempts took, for the message that gives up."""
    return timedelta(seconds=sum(schedule()[: max(attempts - 1, 0)]))


def rate_limited_delay(attempt: int, retry_after: float) -> float | None:
    if attempt > MAX_RATE_LIMITED_ATTEMPTS:
        return None
    return max(retry_after, 1.0) * random.uniform(1, 1 + JITTER)
