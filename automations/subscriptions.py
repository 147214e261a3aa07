"""The REST Hook lifecycle: one subscription at Cartly per (connection, event) in use.

Turning recipes on and off is the merchant's decision and never waits on Cartly: the database
records what we want (a row `pending` to register, `deleting` to remove) and the remote call
follows, now if Cartly answers and later (backoff, a published retry, then beat) if it does not
(DESIGN.md, "Celery, configured for no loss and no doubles"; resthooks.org subscribe and
unsubscribe as in zapier-platform's example-apps/rest-hooks).

Two guards against a second hook for one subscription: a registration first lists Cartly's
hooks and adopts one already at this subscription's URL (a crash between create and save
leaves one behind), and every remote call runs under a claim (a conditional UPDATE that moves
`next_attempt_at` a lease ahead), so a redelivered task finds nothing to do.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from automations.models import Recipe, Subscription
from automations.publish import publish, publish_on_commit
from connectors import tokens
from connectors.cartly import iter_pages
from connectors.cartly.client import CartlyClient
from connectors.connections import our_hook_prefix
from connectors.errors import ConnectorError, NotFound
from connectors.models import Connection

log = logging.getLogger(__name__)

SYNC_SUBSCRIPTION = "automations.sync_subscription"
# A claim lasts this long: longer than the two or three Cartly calls of one sync (each bounded
# by CARTLY_TIMEOUT_SECONDS, 10 s) plus a token refresh, so only a dead worker's claim lapses.
LEASE = timedelta(minutes=2)
# Retries after a failure: 30 s, 1, 2, 4 … minutes, capped at an hour so a fixed Cartly (or a
# fixed PUBLIC_BASE_URL) is noticed the same hour.
BACKOFF_BASE_SECONDS = 30
BACKOFF_MAX_SECONDS = 3600
# Rows sync_all_subscriptions hands out per beat; the rest are picked up by the next one.
SYNC_BATCH = 100
STATUS_REASON_LENGTH = 500  # Subscription.status_reason's size

RECONNECT_PAUSE = "Paused: the shop needs reconnecting"
DISCONNECTED_PAUSE = "Turned off: the shop was disconnected"
REGISTERING = (Subscription.Status.PENDING, Subscription.Status.FAILED)
LIVE = ~Q(status=Subscription.Status.DELETED)


def callback_url(subscription: Subscription) -> str:
    """Where Cartly delivers this subscription's events (automations/urls_hooks.py)."""
    return f"{our_hook_prefix()}{subscription.token}/"


def backoff_seconds(attempts: int) -> int:
    """The wait after the `attempts`-th failed try: doubling from the base, capped."""
    exponent = min(max(attempts, 1) - 1, 20)  # 2**20 × 30 s is far past the cap already
    return min(BACKOFF_BASE_SECONDS * 2**exponent, BACKOFF_MAX_SECONDS)


# --- recipes ---------------------------------------------------------------------------------


def _lock_connection(connection_id: int) -> str:
    """Lock the connection row and return its status, as it is now.

    Enables and disables of one connection take turns, so "is this the last enabled recipe?"
    and "make sure a subscription exists" never interleave into a hook nobody keeps.
    """
    locked = Connection.objects.select_for_update().filter(pk=connection_id)
    return locked.values_list("status", flat=True).get()


def _needs_hook(connection_id: int, event_type: str) -> bool:
    return Recipe.objects.filter(
        connection_id=connection_id,
        event_type=event_type,
        enabled=True,
        mode=Recipe.Mode.INSTANT,
    ).exists()


def _live_subscription(connection_id: int, event_type: str) -> Subscription | None:
    return (
        Subscription.objects.filter(LIVE, connection_id=connection_id, event_type=event_type)
        .select_related("connection")
        .first()
    )


def _pause_reason(connection_status: str) -> str:
    if connection_status == Connection.Status.NEEDS_RECONNECT:
        return RECONNECT_PAUSE
    if connection_status == Connection.Status.DISCONNECTED:
        return DISCONNECTED_PAUSE
    return ""


class CannotEnable(Exception):
    """Why a recipe cannot be turned on, in a merchant's words; nothing was changed."""


def _refusal(recipe_id: int, connection_status: str) -> str | None:
    if Recipe.objects.filter(pk=recipe_id, deleted_at__isnull=False).exists():
        return "It is in the trash: restore it first."
    if connection_status == Connection.Status.DISCONNECTED:
        return "Its shop is disconnected: reconnect the shop first (Connections)."
    return None


def enable_recipe(recipe: Recipe) -> Recipe:
    """Turn the recipe on; for an instant one, make sure its (connection, event) has a hook.

    Safe to repeat. A Cartly failure leaves the subscription `failed` with a reason and a retry
    on its way; the recipe is on all the same. Call it outside a transaction: the Cartly calls
    follow the commit, and inside one they would hold the connection's row lock.
    Raises CannotEnable for a recipe in the trash or on a disconnected shop.
    """
    with transaction.atomic():
        connection_status = _lock_connection(recipe.connection_id)
        refusal = _refusal(recipe.pk, connection_status)
        if refusal:
            raise CannotEnable(refusal)
        recipe.enabled, recipe.off_by_disconnect = True, False
        recipe.paused_reason = _pause_reason(connection_status)
        Recipe.objects.filter(pk=recipe.pk).update(
            enabled=True,
            paused_reason=recipe.paused_reason,
            off_by_disconnect=False,
            updated_at=timezone.now(),
        )
        subscription = None
        if recipe.mode == Recipe.Mode.INSTANT:
            subscription = _ensure_subscription(recipe.connection_id, recipe.event_type)
    if subscription is not None and subscription.status in REGISTERING:
        sync_subscription(subscription, force=True)
    return recipe


def _ensure_subscription(connection_id: int, event_type: str) -> Subscription:
    """The live row of the pair, made or revived to be registered (inside the caller's lock)."""
    subscription = _live_subscription(connection_id, event_type)
    if subscription is None:
        try:
            with transaction.atomic():
                Subscription.objects.create(connection_id=connection_id, event_type=event_type)
        except IntegrityError:
            pass  # made by a caller that does not hold our lock (e.g. admin): use that one
        return _live_subscription(connection_id, event_type)
    if subscription.status == Subscription.Status.DELETING:
        # Wanted again before its removal ran: register it afresh. The listing adopts the
        # old hook if Cartly still has it, so reviving never adds a second one.
        Subscription.objects.filter(pk=subscription.pk).update(
            status=Subscription.Status.PENDING,
            remote_id="",
            status_reason="",
            attempts=0,
            next_attempt_at=None,
        )
        subscription.refresh_from_db()
    return subscription


def disable_recipe(recipe: Recipe) -> Recipe:
    """Turn the recipe off; the last one of its (connection, event) removes the hook.

    Safe to repeat. The subscription row is kept as `deleted`: its token must answer 410.
    """
    with transaction.atomic():
        _lock_connection(recipe.connection_id)
        recipe.enabled = False
        Recipe.objects.filter(pk=recipe.pk).update(enabled=False, updated_at=timezone.now())
        subscription = None
        if not _needs_hook(recipe.connection_id, recipe.event_type):
            subscription = _live_subscription(recipe.connection_id, recipe.event_type)
        if subscription is not None:
            Subscription.objects.filter(pk=subscription.pk).update(
                status=Subscription.Status.DELETING,
                status_reason="",
                attempts=0,
                next_attempt_at=None,
            )
            subscription.status = Subscription.Status.DELETING
    if subscription is not None:
        sync_subscription(subscription, force=True)
    return recipe


# --- one subscription --------------------------------------------------------------------------


def _claim(subscription_id: int, *, force: bool) -> Subscription | None:
    """Take the row for one try, or None if it needs nothing, is not due, or is in flight.

    `force` (a merchant's click) skips a failed row's backoff; it never takes a pending
    registration from the worker holding it, which could otherwise add a second hook.
    """
    now = timezone.now()
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    if force:
        # A removal may run twice at once: deleting a deleted hook is a harmless NotFound.
        due |= Q(status__in=(Subscription.Status.FAILED, Subscription.Status.DELETING))
    claimed = (
        Subscription.objects.filter(due, pk=subscription_id)
        .filter(status__in=(*REGISTERING, Subscription.Status.DELETING))
        .update(
            status=Case(  # failed → pending: a try is under way; deleting stays deleting
                When(status=Subscription.Status.FAILED, then=Value(Subscription.Status.PENDING)),
                default=F("status"),
            ),
            next_attempt_at=now + LEASE,
            attempts=F("attempts") + 1,
        )
    )
    if not claimed:
        return None
    return Subscription.objects.select_related("connection").get(pk=subscription_id)


def _connection_problem(connection: Connection) -> str | None:
    """Why no call can be made for this connection now, in a merchant's words."""
    if connection.status == Connection.Status.NEEDS_RECONNECT:
        return "The shop needs reconnecting before Cartly can be told about this recipe."
    if connection.status == Connection.Status.DISCONNECTED:
        return "The shop is disconnected; reconnect it to turn this recipe back on."
    return None


def _register(subscription: Subscription) -> None:
    """Adopt the hook already at our URL, or create it; then the row is active."""
    url = callback_url(subscription)

    def subscribe(client: CartlyClient) -> dict:
        for hook in iter_pages(client.list_webhooks):
            if hook.get("url") == url:
                return hook
        return client.create_webhook(url, [subscription.event_type])

    hook = tokens.call(subscription.connection, subscribe)
    done = Subscription.objects.filter(
        pk=subscription.pk, status=Subscription.Status.PENDING
    ).update(
        status=Subscription.Status.ACTIVE,
        remote_id=hook["id"],
        status_reason="",
        attempts=0,
        next_attempt_at=None,
    )
    if not done:
        # Turned off while we registered: hand the hook to the removal. Had the removal
        # already finished, the hook's first delivery meets a 410 and Cartly drops it.
        Subscription.objects.filter(
            pk=subscription.pk, status=Subscription.Status.DELETING, remote_id=""
        ).update(remote_id=hook["id"])


def _unregister(subscription: Subscription) -> None:
    """Delete every hook at this subscription's URL (and the one we recorded, unless Cartly
    lists it at another URL: then it is not ours); then the row is deleted."""
    url = callback_url(subscription)

    def unsubscribe(client: CartlyClient) -> None:
        listed = {h["id"]: h.get("url") for h in iter_pages(client.list_webhooks)}
        ids = {hook_id for hook_id, hook_url in listed.items() if hook_url == url}
        if subscription.remote_id and listed.get(subscription.remote_id, url) == url:
            ids.add(subscription.remote_id)
        for hook_id in sorted(ids):
            try:
                client.delete_webhook(hook_id)
            except NotFound:
                pass  # already gone, which is what we want

    tokens.call(subscription.connection, unsubscribe)
    _mark_deleted(subscription.pk, "")


def _mark_deleted(subscription_id: int, reason: str) -> None:
    Subscription.objects.filter(pk=subscription_id, status=Subscription.Status.DELETING).update(
        status=Subscription.Status.DELETED,
        status_reason=reason,
        attempts=0,
        next_attempt_at=None,
    )


def _record_failure(subscription: Subscription, reason: str, delay: int) -> None:
    """Keep the row's wish, say why it is not done, and plan the next try."""
    status = (
        Subscription.Status.DELETING
        if subscription.status == Subscription.Status.DELETING
        else Subscription.Status.FAILED
    )
    with transaction.atomic():
        recorded = Subscription.objects.filter(
            pk=subscription.pk, status=subscription.status
        ).update(
            status=status,
            status_reason=reason[:STATUS_REASON_LENGTH],
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
        )
        # Longer waits are not sent as countdowns: beat's sync_all_subscriptions starts them
        # from next_attempt_at. A countdown's message is held unacknowledged until it is due,
        # and Redis hands it to a second worker after the visibility timeout (settings.py).
        if recorded and delay <= settings.LONGEST_COUNTDOWN_SECONDS:
            publish_on_commit(SYNC_SUBSCRIPTION, subscription.pk, countdown=delay)


def sync_subscription(subscription: Subscription, *, force: bool = False) -> Subscription:
    """Do what the row's state asks: register a pending or failed one, remove a deleting one.

    Without `force` only a due row is tried (the retry task and beat); with it, a failed row's
    backoff is skipped (the merchant just asked). Returns the row as it is afterwards.
    """
    claimed = _claim(subscription.pk, force=force)
    if claimed is not None:
        _try(claimed)
    subscription.refresh_from_db()
    return subscription


def _try(subscription: Subscription) -> None:
    connection = subscription.connection
    removing = subscription.status == Subscription.Status.DELETING
    if removing and connection.status == Connection.Status.DISCONNECTED:
        # Disconnecting removed all our hooks at Cartly and revoked the tokens.
        _mark_deleted(subscription.pk, "Removed: the shop was disconnected.")
        return
    problem = _connection_problem(connection)
    if problem:
        # Nothing to call until the merchant acts; beat looks again at the longest backoff.
        _record_failure(subscription, problem, BACKOFF_MAX_SECONDS)
        return
    try:
        if removing:
            _unregister(subscription)
        else:
            _register(subscription)
    except ConnectorError as exc:
        verb = "remove" if removing else "register"
        log.warning("could not %s subscription %s: %r", verb, subscription.pk, exc)
        reason = f"Cartly could not {verb} this notification: {exc}"
        _record_failure(subscription, reason, backoff_seconds(subscription.attempts))


def sync_all_subscriptions(limit: int = SYNC_BATCH) -> list[int]:
    """For beat: publish a sync for each row that is due (claims make repeats harmless)."""
    now = timezone.now()
    due = (
        Subscription.objects.filter(status__in=(*REGISTERING, Subscription.Status.DELETING))
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by(F("next_attempt_at").asc(nulls_first=True), "id")
        .values_list("id", flat=True)[:limit]
    )
    ids = list(due)
    for subscription_id in ids:
        publish(SYNC_SUBSCRIPTION, subscription_id)
    return ids


# --- the connection's fate (connectors/signals.py) ----------------------------------------------


def connection_disconnected(connection: Connection) -> None:
    """The connector removed our hooks and revoked the tokens: keep the rows, as deleted."""
    with transaction.atomic():
        Subscription.objects.filter(LIVE, connection=connection).update(
            status=Subscription.Status.DELETED,
            status_reason="Removed: the shop was disconnected.",
            next_attempt_at=None,
        )
        # Marked, so that reconnecting can offer exactly these back (automations/disconnects.py).
        Recipe.objects.filter(connection=connection, enabled=True).update(
            enabled=False,
            paused_reason=DISCONNECTED_PAUSE,
            off_by_disconnect=True,
            updated_at=timezone.now(),
        )


def connection_needs_reconnect(connection: Connection) -> None:
    """Cartly no longer takes the tokens: the recipes stay on, paused with a reason."""
    Recipe.objects.filter(connection=connection, enabled=True).update(
        paused_reason=RECONNECT_PAUSE, updated_at=timezone.now()
    )
