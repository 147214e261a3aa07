"""Self-healing subscriptions: compare what Cartly holds with what we think we hold, and fix it.

Cartly may lose or drop a hook without telling us (a merchant deletes it in the shop's admin,
a 410 answered by mistake, a restore from backup at Cartly). Periodically, per active
connection, we list every hook Cartly has for us and:
- re-register a hook that vanished while recipes still need it (the old row is kept as
  deleted, a fresh one registered through automations.subscriptions) and then read, by
  listing, what happened while it was missing — the dedupe key makes what the hook did
  deliver run only once;
- register a hook that running instant recipes need but that has no row at all;
- remove hooks at our URL that no live subscription owns.
Each repair is a SubscriptionRepair row, shown to the merchant.

One Cartly shop may be connected by several users (or twice by one), all through our one
Cartly app: Cartly lists every hook of the shop and app to each of them. A connection acts only
on its own hooks (its subscriptions' callback tokens and remote ids) and on strays whose token
no subscription of ours has ever had; another connection's hook is never touched.
"""

from __future__ import annotations

import logging
from datetime import datetime

from automations import polling
from automations.models import Recipe, Subscription, SubscriptionRepair
from automations.publish import publish
from automations.subscriptions import LIVE, callback_url, enable_recipe
from connectors import registry, tokens
from connectors.cartly.client import iter_pages
from connectors.connections import hook_token, our_hook_prefix
from connectors.errors import ConnectorError, NotFound
from connectors.models import Connection

log = logging.getLogger(__name__)

RECONCILE_CONNECTION = "automations.reconcile_connection"
VANISHED_REASON = "Removed at Cartly without us: replaced by a new notification."
Action = SubscriptionRepair.Action


def reconcile_all() -> list[int]:
    """For beat: one reconciliation task per active connection."""
    ids = list(
        Connection.objects.filter(status=Connection.Status.ACTIVE).values_list("id", flat=True)
    )
    for connection_id in ids:
        publish(RECONCILE_CONNECTION, connection_id)
    return ids


def _our_hooks(connection: Connection) -> dict[str, dict]:
    """The hooks at our receiver's URL this connection may act on, by id (all pages): its own
    and strays, never another connection's (read after the listing: a row precedes its hook).
    """
    prefix = our_hook_prefix()

    def listing(client) -> list[dict]:
        hooks = iter_pages(client.list_webhooks)
        return [h for h in hooks if str(h.get("url", "")).startswith(prefix)]

    hooks = tokens.call(connection, listing)
    others = Subscription.objects.exclude(connection=connection)
    taken_tokens = set(
        others.filter(token__in=[hook_token(h["url"]) for h in hooks]).values_list(
            "token", flat=True
        )
    )
    taken_ids = set(
        others.filter(remote_id__in=[h["id"] for h in hooks]).values_list("remote_id", flat=True)
    )
    return {
        h["id"]: h
        for h in hooks
        if h["id"] not in taken_ids and hook_token(h["url"]) not in taken_tokens
    }


def _record(connection: Connection, event_type: str, action: str, detail: str):
    log.info("connection %s, %s: %s (%s)", connection.pk, event_type, action, detail)
    return SubscriptionRepair.objects.create(
        connection=connection, event_type=event_type, action=action, detail=detail
    )


def _vanished(connection: Connection, hooks: dict[str, dict]) -> list[Subscription]:
    urls = {h.get("url") for h in hooks.values()}
    active = Subscription.objects.filter(
        connection=connection, status=Subscription.Status.ACTIVE
    ).exclude(remote_id="")
    return [s for s in active if s.remote_id not in hooks and callback_url(s) not in urls]


def reconcile_connection(connection: Connection) -> list[SubscriptionRepair]:
    """Make Cartly's hooks for this connection match our live subscriptions; the repairs."""
    if not connection.is_active:
        return []
    try:
        hooks = _our_hooks(connection)  # listed before our rows are read: see _remove_orphans
        repairs = _remove_orphans(connection, hooks)
        if _vanished(connection, hooks):
            # A hook registered between that listing and our read would look vanished: list
            # again, now that the rows are older than the listing.
            hooks = _our_hooks(connection)
            for subscription in _vanished(connection, hooks):
                repairs += _replace(connection, subscription)
    except ConnectorError as exc:
        log.warning("reconciling connection %s stopped: %r", connection.pk, exc)
        return []
    return repairs + _create_missing(connection)


def _remove_orphans(connection: Connection, hooks: dict[str, dict]) -> list[SubscriptionRepair]:
    """Delete hooks at our URL that no live row owns (a row is made before its hook)."""
    live = list(Subscription.objects.filter(LIVE, connection=connection))
    owned_ids = {s.remote_id for s in live if s.remote_id}
    owned_urls = {callback_url(s) for s in live}
    repairs = []
    for hook_id, hook in hooks.items():
        if hook_id in owned_ids or hook.get("url") in owned_urls:
            continue
        try:
            tokens.call(connection, lambda client, hook_id=hook_id: client.delete_webhook(hook_id))
        except NotFound:
            continue  # someone else removed it first
        events = ", ".join(hook.get("events") or [])
        repairs.append(
            _record(
                connection,
                events,
                Action.REMOVED_ORPHAN,
                f"Removed notification {hook_id}, which no recipe uses.",
            )
        )
    return repairs


def _replace(connection: Connection, subscription: Subscription) -> list[SubscriptionRepair]:
    """Retire a row whose hook vanished; register a fresh one if recipes still need it."""
    retired = Subscription.objects.filter(
        pk=subscription.pk, status=Subscription.Status.ACTIVE, remote_id=subscription.remote_id
    ).update(
        status=Subscription.Status.DELETED, status_reason=VANISHED_REASON, next_attempt_at=None
    )
    if not retired:
        return []  # another reconciliation (or a disable) got to it first
    event_type = subscription.event_type
    recipe = Recipe.objects.filter(
        connection=connection,
        event_type=event_type,
        enabled=True,
        paused_reason="",
        mode=Recipe.Mode.INSTANT,
    ).first()
    gone = f"Notification {subscription.remote_id} was no longer at Cartly."
    if recipe is None:
        return [_record(connection, event_type, Action.DROPPED, gone)]
    enable_recipe(recipe)  # registers the fresh subscription before we read what we missed
    fresh = Subscription.objects.filter(LIVE, connection=connection, event_type=event_type)
    state = fresh.values_list("status", flat=True).first() or "missing"
    repairs = [
        _record(
            connection, event_type, Action.RECREATED, f"{gone} A new one was asked for ({state})."
        )
    ]
    since = subscription.last_delivery_at or subscription.created_at
    caught_up = catch_up(connection, event_type, since)
    if caught_up is not None:
        repairs.append(
            _record(
                connection,
                event_type,
                Action.CAUGHT_UP,
                f"{caught_up} event(s) found that happened while it was missing.",
            )
        )
    return repairs


def catch_up(connection: Connection, event_type: str, since: datetime) -> int | None:
    """Store, by listing, the `event_type` changes from `since`; None if it cannot be listed."""
    triggers = [t for t in registry.triggers_for_event(event_type)[:1] if t.polls]
    if not triggers:
        return None  # e.g. abandoned carts: Cartly offers no list of them
    trigger = triggers[0]
    wanted = {event_type: since}

    def read(client) -> int:
        changes = polling.read_changes(
            client, trigger.resource, trigger.poll_filter.cursor, "", since
        )
        return sum(polling.emit(connection.pk, wanted, obj) for obj in changes)

    try:
        return tokens.call(connection, read)
    except ConnectorError as exc:
        log.warning("catching up %s for connection %s failed: %r", event_type, connection.pk, exc)
        return None


def _create_missing(connection: Connection) -> list[SubscriptionRepair]:
    """Register hooks that running instant recipes need but no live row stands for."""
    wanted = set(
        Recipe.objects.filter(
            connection=connection, enabled=True, paused_reason="", mode=Recipe.Mode.INSTANT
        ).values_list("event_type", flat=True)
    )
    held = set(
        Subscription.objects.filter(LIVE, connection=connection).values_list(
            "event_type", flat=True
        )
    )
    repairs = []
    for event_type in sorted(wanted - held):
        recipe = Recipe.objects.filter(
            connection=connection, event_type=event_type, enabled=True, mode=Recipe.Mode.INSTANT
        ).first()
        if recipe is None:
            continue
        enable_recipe(recipe)
        repairs.append(
            _record(
                connection,
                event_type,
                Action.CREATED,
                "Running recipes needed a notification that had no record: asked Cartly for one.",
            )
        )
    return repairs
