"""A merchant's HTTP signing secret: made, rotated, shown masked, and handed to the client.

Plain functions the page (views.py) and the runner call. The secret is shown whole once, when it
is made; afterwards only its first and last characters, so a screenshot never leaks it.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import transaction

from connectors.http.client import HttpClient
from connectors.http.models import SigningSecret

PREFIX = "whsec_"  # tells a reader what the string is, as Stripe's and Svix's secrets do
SECRET_BYTES = 32  # 256 bits: an HMAC-SHA256 key gains nothing from more
SHOWN_CHARS = 4  # characters shown at each end of a masked secret


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(SECRET_BYTES)


def current_secret(owner) -> str | None:
    row = SigningSecret.objects.filter(owner=owner).first()
    return row.secret if row else None


@transaction.atomic
def rotate(owner) -> str:
    """Make (or replace) the owner's secret; the new one, to show once. The old one stops
    signing at once: receivers must be given the new one."""
    secret = new_secret()
    SigningSecret.objects.update_or_create(owner=owner, defaults={"secret": secret})
    return secret


def masked(secret: str) -> str:
    body = secret.removeprefix(PREFIX)
    return f"{PREFIX}{body[:SHOWN_CHARS]}…{body[-SHOWN_CHARS:]}"


def allowed_hosts() -> set[str]:
    """HTTP_STEP_ALLOWED_HOSTS: hosts the step may call although they are not public."""
    return {host.lower() for host in getattr(settings, "HTTP_STEP_ALLOWED_HOSTS", [])}


def http_client_for(owner) -> HttpClient:
    """The client the runner gives an HTTP step of `owner`'s recipe."""
    return HttpClient(current_secret(owner), allowed_hosts())
