"""Connecting and disconnecting a Cartly shop: plain functions the views and tests call."""

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from connectors import tokens
from connectors.cartly import oauth
from connectors.cartly.client import CartlyClient, iter_pages
from connectors.errors import ConnectorError, NotFound
from connectors.models import Connection
from connectors.signals import connection_connected, connection_disconnected, hooks_owned_by

log = logging.getLogger(__name__)

# Our REST Hook receiver's URL prefix; a remote hook under it is one of ours.
HOOK_PATH_PREFIX = "/hooks/cartly/"


def our_hook_prefix() -> str:
    return settings.PUBLIC_BASE_URL + HOOK_PATH_PREFIX


def hook_token(url: str) -> str | None:
    """The callback token of a hook at our receiver (its URL's last segment); None for a URL
    that is not ours."""
    prefix = our_hook_prefix()
    if not isinstance(url, str) or not url.startswith(prefix):
        return None
    return url[len(prefix) :].strip("/") or None


def connect(owner, token: dict) -> Connection:
    """Store a new token answer; connecting the same shop again updates its connection."""
    shop = CartlyClient(token["access_token"]).me()["shop"]  # before locking anything
    with transaction.atomic():
        return _store_connection(owner, shop, token)


def _store_connection(owner, shop: dict, token: dict) -> Connection:
    connection, _ = Connection.objects.select_for_update().get_or_create(
        owner=owner,
        provider="cartly",
        shop_id=shop["id"],
        defaults={"shop_name": shop["name"], "shop_domain": shop["domain"]},
    )
    connection.shop_name = shop["name"]
    connection.shop_domain = shop["domain"]
    connection.currency = shop.get("currency", "")
    connection.connected_at = timezone.now()
    connection.last_error = ""
    tokens.store_tokens(connection, token)
    connection.save()
    transaction.on_commit(
        lambda: connection_connected.send(sender=Connection, connection=connection)
    )
    return connection


def _owned_hooks(connection: Connection) -> tuple[set[str], set[str]]:
    """The callback tokens and remote ids of the hooks registered for this connection."""
    callback_tokens: set[str] = set()
    remote_ids: set[str] = set()
    for _, answer in hooks_owned_by.send(sender=Connection, connection=connection):
        callback_tokens |= set(answer[0])
        remote_ids |= set(answer[1])
    return callback_tokens, remote_ids


def _remove_our_hooks(connection: Connection) -> None:
    """Delete this connection's hooks at Cartly, and only those: Cartly lists every hook of
    the shop and app, including another user's connection of the same shop."""
    callback_tokens, remote_ids = _owned_hooks(connection)

    def remove(client: CartlyClient) -> None:
        # Collect first: deleting while paging would shift the pages under us.
        for hook in list(iter_pages(client.list_webhooks)):
            token = hook_token(hook.get("url", ""))
            if token is None or (token not in callback_tokens and hook["id"] not in remote_ids):
                continue
            try:
                client.delete_webhook(hook["id"])
            except NotFound:
                pass  # already gone: that is what we wanted

    tokens.call(connection, remove)


def disconnect(connection: Connection) -> list[str]:
    """Remove our hooks at Cartly, revoke the tokens and keep the history.

    Cartly being down must not trap a merchant in a connection: what fails is reported back
    and the connection is disconnected locally all the same.
    """
    problems = []
    if connection.is_active:
        try:
            _remove_our_hooks(connection)
        except ConnectorError as exc:
            problems.append(f"Could not remove its notifications at Cartly: {exc}")
    for token, hint in (
        (connection.refresh_token, "refresh_token"),
        (connection.access_token, "access_token"),
    ):
        if token:
            try:
                oauth.revoke(token, hint)
            except ConnectorError as exc:
                problems.append(f"Could not revoke its access at Cartly: {exc}")
                break
    connection.status = Connection.Status.DISCONNECTED
    connection.status_reason = "Disconnected by you."
    connection.access_token = ""
    connection.refresh_token = ""
    connection.token_expires_at = None
    if problems:
        connection.last_error = problems[0][:500]
        connection.last_error_at = timezone.now()
    connection.save()
    connection_disconnected.send(sender=Connection, connection=connection)
    for problem in problems:
        log.warning("disconnect of connection %s: %s", connection.pk, problem)
    return problems
