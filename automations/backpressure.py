"""Backpressure: while the engine is behind, a delivery's answer waits a few milliseconds.

Storing a delivery costs about a millisecond; running it costs several. A sender that keeps
deliveries in flight (Cartly's delivery workers, a burst after an outage) is answered faster
than the engine runs what it sent, so without a brake the inbox grows and every event waits
behind all the others. Holding the answer a little, after the durable commit (nothing is at
stake then), slows such a sender to the engine's own pace: the backlog stays short and each
run follows its delivery within a fraction of a second instead of minutes.

The hold is proportional to the engine's lag past a target (the age of the oldest event not
yet dispatched, and of the oldest step sent to a worker but not yet started) and bounded far
below Cartly's 5-second delivery timeout. A lag past ENGINE_BACKPRESSURE_GIVE_UP_SECONDS means
the engine is stopped or far behind: holding would not let it catch up, and every held answer
keeps a server thread busy, so queued deliveries would creep toward that timeout; then nothing
is held. Each web process reads the lag at most every REFRESH_SECONDS; a database error reads
as no lag, never as a failed delivery. ENGINE_BACKPRESSURE_MAX_SECONDS=0 turns it off
(docs/operations.md, "The REST Hook receiver").
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Min
from django.utils import timezone

from automations.models import Event, StepRun

log = logging.getLogger(__name__)

# How often one process looks at the engine's lag; between looks it keeps its last answer.
REFRESH_SECONDS = 0.1

_lock = threading.Lock()
_last = {"at": float("-inf"), "hold": 0.0}


def lag_seconds(now: datetime | None = None) -> float:
    """How far behind the engine is: the oldest waiting event's or published step's age."""
    now = now or timezone.now()
    oldest = (
        Event.objects.filter(status=Event.Status.RECEIVED)
        .order_by("received_at")
        .values_list("received_at", flat=True)
        .first()
    )
    # A published step is pending with the time it counts as lost; it was published that
    # long before (advance.lost_after). Rows laid out ahead for later have no time yet.
    lost_at = StepRun.objects.filter(
        status=StepRun.Status.PENDING, next_attempt_at__isnull=False
    ).aggregate(first=Min("next_attempt_at"))["first"]
    published = (
        lost_at - timedelta(seconds=settings.ENGINE_STEP_LOST_AFTER_SECONDS) if lost_at else None
    )
    ages = [(now - moment).total_seconds() for moment in (oldest, published) if moment]
    return max([0.0, *ages])


def hold_for(lag: float) -> float:
    """Seconds an answer waits for a given lag: none under the target, then proportional,
    and none again once the engine is too far behind for a hold to help."""
    most = settings.ENGINE_BACKPRESSURE_MAX_SECONDS
    over = lag - settings.ENGINE_BACKPRESSURE_TARGET_SECONDS
    if most <= 0 or over <= 0 or lag > settings.ENGINE_BACKPRESSURE_GIVE_UP_SECONDS:
        return 0.0
    return min(most, over * settings.ENGINE_BACKPRESSURE_GAIN)


def hold_seconds() -> float:
    """This process's current hold, looked up again when the last look is too old."""
    if settings.ENGINE_BACKPRESSURE_MAX_SECONDS <= 0:
        return 0.0
    moment = time.monotonic()
    if moment - _last["at"] < REFRESH_SECONDS:
        return _last["hold"]
    with _lock:
        if moment - _last["at"] >= REFRESH_SECONDS:
            try:
                hold = hold_for(lag_seconds())
            except DatabaseError as exc:  # the delivery is stored: answer it, just don't brake
                log.warning("backpressure: engine lag not readable: %s", type(exc).__name__)
                hold = 0.0
            _last.update(at=moment, hold=hold)
    return _last["hold"]


def forget() -> None:
    """Look again at the next delivery (tests, and settings changed at run time)."""
    _last.update(at=float("-inf"), hold=0.0)


def hold() -> float:
    """Wait out the current hold before answering; how long that was."""
    seconds = hold_seconds()
    if seconds > 0:
        time.sleep(seconds)
    return seconds
