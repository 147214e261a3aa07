"""Rate limits on what a person can make the server do over and over: sign up, send the test
email, ask for a confirmation link. Counted by django-ratelimit in the shared cache (Redis in
production; see config/settings.py); the login lockout is django-axes' (settings AXES_*).
"""

import logging
from dataclasses import dataclass

from django.http import HttpRequest
from django_ratelimit.core import is_ratelimited

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    group: str  # counted apart from every other limit
    key: str  # django-ratelimit key: "ip" per client, "user" per account, "post:<field>"
    rate: str  # "count/period", period one of s, m, h, d
    what: str  # for the message: "sign-ups from your network"


# A person signs up once; a script signing up many accounts is what this stops.
SIGNUP_PER_CLIENT = Limit("signup-client", "ip", "10/h", "sign-ups from your network")
# The same username tried again and again is someone probing which names exist.
SIGNUP_PER_ACCOUNT = Limit("signup-account", "post:username", "5/h", "tries of that username")
# One test tells the merchant email works; a few more cover fixing a typo in the address.
TEST_EMAIL_PER_USER = Limit("test-email", "user", "3/h", "test emails")
# Confirmation links go to an address not confirmed yet: to anyone, so very few.
CONFIRMATION_PER_USER = Limit("confirm-email", "user", "3/h", "confirmation emails")


def over_limit(request: HttpRequest, *limits: Limit) -> Limit | None:
    """Count this request against each limit; the first one it exceeds, or None.

    A cache that cannot count (Redis down) refuses: these guard emails and accounts, which
    can wait, and must not become unlimited because a server is down.
    """
    for limit in limits:
        try:
            limited = is_ratelimited(
                request, group=limit.group, key=limit.key, rate=limit.rate, increment=True
            )
        except Exception as exc:  # noqa: BLE001 - any cache failure: fail closed, say why
            log.warning("throttle %s could not count: %s", limit.group, type(exc).__name__)
            return limit
        if limited:
            return limit
    return None


def refusal(limit: Limit) -> str:
    """The sentence shown when a limit is reached."""
    return f"Too many {limit.what} for now. Please wait a while and try again."
