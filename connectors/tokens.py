"""The token lifecycle: refresh shortly before expiry and once on a 401, under a row lock.

Refresh tokens rotate (cartly-api.md): a refresh token can be spent once. Two workers that both
find the token expired must not both spend it, so refreshing locks the connection row; whoever
waited for the lock sees the new token and uses it instead of refreshing again.
"""

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from django.db import transaction
from django.utils import timezone

from connectors import ratelimit
from connectors.cartly import oauth
from connectors.cartly.client import CartlyClient
from connectors.errors import AuthExpired, ConnectorError
from connectors.models import Connection
from connectors.signals import connection_needs_reconnect

# Refresh this long before expiry, so a call never starts with a token about to die.
REFRESH_MARGIN_SECONDS = 300
RECONNECT_REASON = (
    "Cartly no longer accepts this connection's access. Reconnect the shop to resume its recipes."
)

T = TypeVar("T")


class ReconnectNeeded(ConnectorError):
    """The connection cannot be used until the merchant reconnects it."""

    permanent = True


def store_tokens(connection: Connection, token: dict) -> None:
    """Copy a token answer onto the connection (the caller saves)."""
    connection.access_token = token["access_token"]
    connection.refresh_token = token.get("refresh_token") or connection.refresh_token
    expires_in = token.get("expires_in")
    connection.token_expires_at = (
        timezone.now() + timedelta(seconds=float(expires_in)) if expires_in else None
    )
    scope = token.get("scope")
    if scope:
        connection.scopes = " ".join(scope) if isinstance(scope, list | tuple) else scope
    connection.status = Connection.Status.ACTIVE
    connection.status_reason = ""


def mark_needs_reconnect(connection: Connection, reason: str = RECONNECT_REASON) -> None:
    Connection.objects.filter(pk=connection.pk).update(
        status=Connection.Status.NEEDS_RECONNECT,
        status_reason=reason,
        last_error=reason,
        last_error_at=timezone.now(),
    )
    connection.refresh_from_db()
    connection_needs_reconnect.send(sender=Connection, connection=connection)


def refresh_connection(connection: Connection, seen_access_token: str) -> None:
    """Refresh unless another worker already did since we read `seen_access_token`."""
    refused = None
    with transaction.atomic():
        locked = Connection.objects.select_for_update().get(pk=connection.pk)
        if not locked.is_active:
            raise ReconnectNeeded(locked.status_reason or RECONNECT_REASON)
        renewed = locked.access_token != seen_access_token
        if not (renewed and not locked.token_expires_within(REFRESH_MARGIN_SECONDS)):
            try:
                store_tokens(locked, oauth.refresh(locked.refresh_token))
                locked.save()
            except oauth.OAuthRefused as exc:
                refused = exc
    if refused is not None:
        mark_needs_reconnect(connection)
        raise ReconnectNeeded(RECONNECT_REASON) from refused
    connection.refresh_from_db()


def fresh_access_token(connection: Connection) -> str:
    if not connection.is_active:
        raise ReconnectNeeded(connection.status_reason or RECONNECT_REASON)
    if connection.token_expires_within(REFRESH_MARGIN_SECONDS):
        refresh_connection(connection, seen_access_token=connection.access_token)
    return connection.access_token


def _client(connection: Connection, token: str) -> CartlyClient:
    # Every request to the shop spends from its one budget (connectors/ratelimit.py).
    session = ratelimit.BudgetedSession(ratelimit.shop_key(connection.shop_id))
    return CartlyClient(token, session=session)


def call(connection: Connection, operation: Callable[[CartlyClient], T]) -> T:
    """Run `operation(client)` with a live token; on a 401, refresh once and try once more."""
    token = fresh_access_token(connection)
    try:
        return operation(_client(connection, token))
    except AuthExpired:
        refresh_connection(connection, seen_access_token=token)
    try:
        return operation(_client(connection, connection.access_token))
    except AuthExpired as exc:
        mark_needs_reconnect(connection)
        raise ReconnectNeeded(RECONNECT_REASON) from exc
