"""What one attempt of a step came to, in the words the run history shows.

The connector's error vocabulary (connectors/errors.py) decides: a permanent error fails the
step with the service's message; a transient one waits on the retry schedule; a 429 waits as
long as the service asked; our own shop budget and an open circuit wait without spending an
attempt; a token Cartly refuses parks the step until the merchant reconnects the shop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from automations.engine import retry
from connectors.errors import ConnectorError, RateLimited
from connectors.tokens import ReconnectNeeded

SUCCEEDED, FAILED, HALTED, WAITING = "succeeded", "failed", "halted", "waiting"
PAUSED_REASON = "Paused: the shop needs reconnecting. It resumes when you reconnect it."


@dataclass
class Outcome:
    status: str
    output: dict | None = None
    items: list | None = None
    error: str = ""
    error_fields: dict | None = None
    status_code: int | None = None
    wait_until: datetime | None = None  # WAITING: when to try again (None: until reconnect)
    wait_kind: str = ""
    counts: bool = True  # False: no call reached the service, so no attempt is spent
    transient: bool = False  # the service failed in a way that counts against its circuit


def succeeded(output: dict | None, items: list | None = None) -> Outcome:
    return Outcome(SUCCEEDED, output=output, items=items)


def failed(error: str, **fields) -> Outcome:
    return Outcome(FAILED, error=error, **fields)


def waiting(
    error: str,
    until: datetime | None,
    kind: str,
    *,
    counts: bool = False,
    status_code: int | None = None,
    transient: bool = False,
) -> Outcome:
    return Outcome(
        WAITING,
        error=error,
        wait_until=until,
        wait_kind=kind,
        counts=counts,
        status_code=status_code,
        transient=transient,
    )


def from_error(exc: Exception, attempt: int, now: datetime, service: str = "Cartly") -> Outcome:
    """The outcome of attempt number `attempt` (from 1) that raised `exc`."""
    if isinstance(exc, ReconnectNeeded):
        return waiting(f"{PAUSED_REASON} ({exc})", None, "reconnect")
    if isinstance(exc, RateLimited):
        delay = retry.rate_limited_delay(attempt, exc.retry_after)
        if delay is None:
            return failed(
                f"{service} kept asking us to slow down: {exc}", status_code=exc.status_code
            )
        return waiting(
            str(exc),
            now + timedelta(seconds=delay),
            "retry",
            counts=True,
            status_code=exc.status_code,
        )
    if isinstance(exc, ConnectorError) and exc.permanent:
        fields = getattr(exc, "fields", None) or None
        return failed(str(exc), error_fields=fields, status_code=exc.status_code)
    message = str(exc) or f"{service} did not answer in time."
    status_code = getattr(exc, "status_code", None)
    delay = retry.delay_after(attempt)
    if delay is None:
        took = retry.span(attempt)
        return failed(
            f"{service} kept failing for {_duration(took)} ({attempt} attempts): {message}",
            status_code=status_code,
        )
    return waiting(
        message,
        now + timedelta(seconds=delay),
        "retry",
        counts=True,
        status_code=status_code,
        transient=True,
    )


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} hours"
    if seconds >= 60:
        return f"{seconds // 60} minutes"
    return f"{seconds} seconds"
