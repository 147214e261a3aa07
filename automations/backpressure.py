"""Backpressure: while the engine is behind, a delivery's answer waits a few milliseconds.

Storing a delivery costs about a millisecond; running it costs several. A sender that keeps
deliveries in flight (Cartly's delivery workers, a burst after an outage) is answered faster
than the engine runs what it sent, so without a brake the inbox grows and every event waits
behind all the others. Holding the answer a little, after the durable commit (nothing is at
stake then), slows such a sender to the engine's own pace: the backlog stays short and each
run follows its delivery within a fraction of a second instead of minutes.

The hold follows the engine's lag (the age of the oldest event not yet dispatched, and of the
oldest step sent to a worker but not yet started): it grows while the lag is over a target and
shrinks while it is under (next_hold), so the lag settles at the target, and it is bounded far
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
REFRESH_SECONDS = 0.05
# A process that has not looked for this long (no deliveries) starts again from no hold.
FORGET_AFTER_SECONDS = 1.0
# How far from the target one look's lag counts, either way. The engine works in batches, so
# its lag comes in bursts (sampled under load: zero half the time, 40-120 ms in between); a
# burst must weigh no more than an ordinary look over the target, or the hold settles on the
# bursts' mean and lets through a fifth less than the same p50 allows (bench/README.md).
COUNTED_ERROR_SECONDS = 0.02

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


def next_hold(hold: float, lag: float, seconds: float) -> float:
    """The hold after `seconds` more at `lag`: it moves by the gain × the lag past the target
    (down while the engine is under it; counted at most COUNTED_ERROR_SECONDS either way),
    within [0, the maximum]; zero once the engine is too far behind for a hold to help, or
    when backpressure is off.

    Integral, not proportional: a proportional hold needs a standing lag to exist at all, so
    at full load it settled where the lag was target + hold ÷ gain (≈ 0.15 s), and every run
    waited that long. Summing the error instead settles where the lag *is* the target, with
    whatever hold the load takes to get there."""
    most = settings.ENGINE_BACKPRESSURE_MAX_SECONDS
    if most <= 0 or lag > settings.ENGINE_BACKPRESSURE_GIVE_UP_SECONDS:
        return 0.0
    error = lag - settings.ENGINE_BACKPRESSURE_TARGET_SECONDS
    error = max(-COUNTED_ERROR_SECONDS, min(COUNTED_ERROR_SECONDS, error))
    return min(most, max(0.0, hold + settings.ENGINE_BACKPRESSURE_GAIN * error * seconds))


def hold_seconds() -> float:
    """This process's current hold, moved on when the last look is too old."""
    if settings.ENGINE_BACKPRESSURE_MAX_SECONDS <= 0:
        return 0.0
    moment = time.monotonic()
    if moment - _last["at"] < REFRESH_SECONDS:
        return _last["hold"]
    with _lock:
        since = moment - _last["at"]
        if since >= REFRESH_SECONDS:
            # After a quiet spell the old hold says nothing about the engine now: start over.
            held = _last["hold"] if since < FORGET_AFTER_SECONDS else 0.0
            try:
                hold = next_hold(held, lag_seconds(), min(since, FORGET_AFTER_SECONDS))
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
