"""Confirming the address alerts go to: a signed link emailed to it, opened by its user.

The link carries the user's id and the address, signed with SECRET_KEY (django.core.signing),
so nothing is stored until it is opened; it expires, and it only confirms the address the
user still has, for the user who is logged in.
"""

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.urls import reverse

from notifications.models import ConfirmedAddress

SALT = "notifications.confirm-address"
# Long enough to find the email after a weekend; short enough that an old link is dead.
LINK_LIFETIME = timedelta(days=3)
SIGN_OFF = "\n\n— Cartly Automations\n"


class InvalidLink(Exception):
    """The link is broken, expired, for someone else, or for an address no longer in use."""


def is_confirmed(user) -> bool:
    return (
        bool(user.email)
        and ConfirmedAddress.objects.filter(user=user, email__iexact=user.email).exists()
    )


def confirmed_recipient(user) -> str | None:
    """The user's email if they confirmed it; None means: send them nothing."""
    return user.email if is_confirmed(user) else None


def link_for(user) -> str:
    token = signing.dumps({"u": user.pk, "e": user.email}, salt=SALT)
    return settings.PUBLIC_BASE_URL + reverse("notifications:confirm", args=[token])


def send_confirmation(user) -> None:
    """Email the user's (unconfirmed) address a link that confirms it."""
    body = (
        f"Hello {user.get_username()},\n\n"
        "Someone (we hope you) asked Cartly Automations to send alerts about their recipes "
        "and shops to this address. To confirm, open this link while logged in:\n"
        f"{link_for(user)}\n\n"
        f"The link works for {LINK_LIFETIME.days} days. If it was not you, ignore this email: "
        "nothing will be sent here."
    )
    send_mail("Confirm your email for Cartly Automations", body + SIGN_OFF, None, [user.email])


def read_link(token: str, user) -> str:
    """The address a link confirms for `user`; InvalidLink if it does not."""
    try:
        data = signing.loads(token, salt=SALT, max_age=LINK_LIFETIME)
    except signing.SignatureExpired:
        raise InvalidLink("This link has expired. Ask for a new one on your dashboard.") from None
    except signing.BadSignature:
        raise InvalidLink("This link is not one we sent.") from None
    if data.get("u") != user.pk:
        raise InvalidLink("This link was sent to another account. Log in as that account.")
    if str(data.get("e", "")).lower() != user.email.lower():
        raise InvalidLink("This link is for an address you have changed since.")
    return user.email


def confirm(token: str, user) -> str:
    """Confirm the address the link names; returns it."""
    email = read_link(token, user)
    ConfirmedAddress.objects.get_or_create(user=user, email=email)
    return email
