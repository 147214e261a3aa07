"""What can go wrong when the engine calls a remote service, in words the runner obeys.

Connectors turn their service's answers into these; nothing above a connector's client reads
HTTP status codes. `permanent` tells the runner whether trying the same call again can help:
permanent errors fail the step at once with the message shown to the merchant; transient ones
are retried with backoff. Three need more than that flag, and the runner checks them first:
`RateLimited` (wait `retry_after`), `AuthExpired` (refresh the token once, then ask the
merchant to reconnect) and `Halted` (stop the run without failing it).

Messages are the service's own human text where it gives one, and never contain a secret.
"""

from typing import Any


class ConnectorError(Exception):
    """A remote call did not do what was asked; `message` is fit to show a merchant."""

    permanent: bool = False

    def __init__(self, message: str, *, status_code: int | None = None, body: Any = None):
        super().__init__(message)
        self.message = message
        # For logs and run history only: the runner decides on the class, not on these.
        self.status_code = status_code
        self.body = body

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status_code={self.status_code!r})"


class Permanent(ConnectorError):
    """The request itself is wrong (e.g. 400): sending it again will fail again."""

    permanent = True


class Transient(ConnectorError):
    """The service is down, slow or unreachable (5xx, timeout, refused): try again later."""

    permanent = False


class ValidationFailed(Permanent):
    """The service refused the data (422); `fields` maps each field to its complaints."""

    def __init__(
        self,
        message: str,
        *,
        fields: dict[str, list[str]] | None = None,
        status_code: int | None = None,
        body: Any = None,
    ):
        super().__init__(message, status_code=status_code, body=body)
        self.fields: dict[str, list[str]] = fields or {}


class NotFound(Permanent):
    """The object asked for does not exist (404); the caller decides whether that matters."""


class InsufficientScope(Permanent):
    """The connection was not granted the permission this call needs (403): reconnect."""


class Conflict(Permanent):
    """An idempotency key was reused with a different request (409): a bug, never retried."""


class AuthExpired(ConnectorError):
    """The access token is no longer accepted (401): refresh it once, then try again.

    Not permanent, since a fresh token usually fixes it; not a plain retry either, which is why
    the runner checks for it before looking at `permanent`.
    """

    permanent = False


class RateLimited(Transient):
    """Too many requests (429): wait `retry_after` seconds before the next call."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float,
        status_code: int | None = None,
        body: Any = None,
    ):
        super().__init__(message, status_code=status_code, body=body)
        self.retry_after = retry_after


class Halted(ConnectorError):
    """Stop this run here without failing it (e.g. nothing to do); never retried."""

    permanent = True


class ShopBudgetExceeded(RateLimited):
    """Our own per-shop budget said wait (connectors/ratelimit.py); Cartly never saw the call,
    so the runner waits without counting an attempt."""
