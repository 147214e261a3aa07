"""Polling: find by listing what a REST Hook would have told us, when there is no healthy hook.

A recipe polls when the merchant chose polling, or by itself while its (connection, event)
subscription cannot be registered (failed, or pending past a short grace) — reconciliation
replaces a hook that vanished at Cartly and catches up on what happened meanwhile
(automations/reconcile.py). Each polled object becomes an Event with the same dedupe key a
webhook delivery of the same change gets (automations/dedupe.py), so a change seen both ways
runs once: the inbox's unique constraint refuses the second row.

One listing per (connection, resource, cursor kind) per tick, however many recipes need it;
its position is a PollCursor row, claimed with a conditional UPDATE so two beats or two
copies of a task never read it at once (and if they did, the constraint would still hold).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from automations import polling_levels
from automations.dedupe import change_key, object_id
from automations.models import Event, PollCursor, Recipe, Subscription
from automations.publish import publish
from connectors import registry, tokens
from connectors.base import Trigger
from connectors.cartly.client import iter_pages
from connectors.errors import ConnectorError
from connectors.models import Connection

log = logging.getLogger(__name__)

POLL_LISTING = "automations.poll_listing"
INSTANT, POLLING, OFF = "instant", "polling", "off"
# Longer than one tick's listing (a few pages, each bounded by CARTLY_TIMEOUT_SECONDS), so
# only a dead worker's lease lapses.
LEASE = timedelta(minutes=2)
# Changes are read from a little before the cursor: a change committed late with an earlier
# updated_at is not skipped; what was already stored is refused by the dedupe constraint.
OVERLAP = timedelta(seconds=5)
MAX_EVENT_ID_LENGTH = 64  # Event.cartly_event_id's size
MAX_ERROR_LENGTH = 500  # PollCursor.last_error's size
LIVE = ~Q(status=Subscription.Status.DELETED)


def interval_seconds() -> int:
    return int(settings.POLL_INTERVAL_SECONDS)


# --- which recipes poll ----------------------------------------------------------------------


def hook_problem(subscription: Subscription | None, now: datetime | None = None) -> str | None:
    """Why this subscription does not bring events now, in a merchant's words; None if it does."""
    if subscription is None:
        return "Cartly has no notification set up for this recipe."
    if subscription.status == Subscription.Status.ACTIVE:
        return None
    if subscription.status == Subscription.Status.DELETING:
        return "Its notification at Cartly is being removed."
    grace = timedelta(seconds=settings.POLL_FALLBACK_GRACE_SECONDS)
    if (now or timezone.now()) - subscription.created_at < grace:
        return None  # still registering: give Cartly a moment before falling back
    if subscription.status == Subscription.Status.FAILED:
        reason = subscription.status_reason or "no reason given"
        return f"Cartly could not set up its notification ({reason})."
    return "Cartly has not confirmed its notification yet."


def _trigger(recipe: Recipe) -> Trigger | None:
    try:
        return registry.get_trigger(recipe.trigger)
    except registry.UnknownOperation:
        return None


def _live_subscription(recipe: Recipe) -> Subscription | None:
    return Subscription.objects.filter(
        LIVE, connection_id=recipe.connection_id, event_type=recipe.event_type
    ).first()


_LOOK_UP = object()  # effective_mode's default: find the subscription itself


def effective_mode(recipe: Recipe, subscription: Any = _LOOK_UP) -> tuple[str, str]:
    """How the recipe gets its events right now — instant, polling or off — and why."""
    if not recipe.enabled:
        return OFF, "This recipe is off."
    if recipe.paused_reason:
        return OFF, recipe.paused_reason
    trigger = _trigger(recipe)
    every = f"every {interval_seconds()} seconds"
    if recipe.mode == Recipe.Mode.POLLING:
        if trigger is None or not trigger.polls:
            return OFF, "This trigger cannot be checked by polling; switch the recipe to instant."
        return POLLING, f"Cartly is checked for new events {every}."
    if subscription is _LOOK_UP:
        subscription = _live_subscription(recipe)
    problem = hook_problem(subscription)
    if problem is None:
        return INSTANT, "Cartly tells us the moment it happens."
    if trigger is not None and trigger.polls:
        return POLLING, f"{problem} Meanwhile Cartly is checked {every}."
    return INSTANT, f"{problem} This trigger cannot be checked by polling, so it waits for that."


@dataclass(frozen=True)
class Listing:
    """One listing a tick reads: a connection's resource, by one cursor kind."""

    connection_id: int
    resource: str
    kind: str


@dataclass
class Need:
    """What a listing is read for: each event type, from when it is wanted."""

    since: dict[str, datetime] = field(default_factory=dict)

    def want(self, event_type: str, since: datetime) -> None:
        known = self.since.get(event_type)
        self.since[event_type] = since if known is None else min(known, since)


def polling_needs() -> dict[Listing, Need]:
    """Every listing some running recipe needs now, with the event types to make of it."""
    recipes = list(
        Recipe.objects.filter(
            enabled=True, paused_reason="", connection__status=Connection.Status.ACTIVE
        ).only(
            "id",
            "connection_id",
            "trigger",
            "event_type",
            "mode",
            "enabled",
            "paused_reason",
            "updated_at",
        )
    )
    subscriptions = {
        (s.connection_id, s.event_type): s
        for s in Subscription.objects.filter(
            LIVE, connection_id__in={r.connection_id for r in recipes}
        )
    }
    needs: dict[Listing, Need] = {}
    for recipe in recipes:
        subscription = subscriptions.get((recipe.connection_id, recipe.event_type))
        trigger = _trigger(recipe)
        if trigger is None or effective_mode(recipe, subscription)[0] != POLLING:
            continue
        # Wanted since the recipe was turned on (or last edited), or, for a fallback, since
        # the hook that should have told us was asked for.
        since = recipe.updated_at
        if recipe.mode == Recipe.Mode.INSTANT and subscription is not None:
            since = min(since, subscription.created_at)
        listing = Listing(
            recipe.connection_id, trigger.resource, polling_levels.listing_kind(trigger)
        )
        needs.setdefault(listing, Need()).want(trigger.event, since)
    return needs


# --- reading Cartly ----------------------------------------------------------------------------


def object_time(obj: dict, name: str) -> datetime | None:
    raw = obj.get(name)
    parsed = parse_datetime(raw) if isinstance(raw, str) else None
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)  # Cartly's times are UTC [assumed]
    return parsed


def time_field(kind: str) -> str:
    """New objects are placed by when they were created, changes by when they changed."""
    return "created_at" if kind == PollCursor.Kind.SINCE_ID else "updated_at"


def read_changes(
    client: Any, resource: str, kind: str, since_id: str, since_time: datetime
) -> Iterator[dict]:
    """Objects after the position, every page until the listing is exhausted.

    A since_id cursor that has seen nothing yet reads the objects created from `since_time`
    (each created object has updated_at at or after its created_at).
    """
    list_method: Callable[..., list[dict]] = getattr(client, f"list_{resource}")
    if kind == PollCursor.Kind.SINCE_ID and since_id:
        yield from iter_pages(list_method, since_id=since_id)
        return
    start = since_time - OVERLAP
    for obj in iter_pages(list_method, updated_since=start):
        when = object_time(obj, time_field(kind))
        if when is not None and when >= start:
            yield obj


# --- storing what was found --------------------------------------------------------------------


def poll_event_id(key: str) -> str:
    """A synthetic Cartly event id: the same change polled twice gets the same one."""
    readable = "poll:" + key.replace("|", ":")
    if len(readable) <= MAX_EVENT_ID_LENGTH:
        return readable
    return "poll:" + hashlib.sha256(key.encode()).hexdigest()[: MAX_EVENT_ID_LENGTH - 5]


def store_polled(connection_id: int, event_type: str, obj: dict) -> Event | None:
    """INSERT one polled change and dispatch it; None if the inbox already holds it."""
    try:
        key = change_key(event_type, obj)
    except (KeyError, ValueError) as exc:
        log.warning("polled %s object without a usable key: %r", event_type, exc)
        return None
    if key is None:
        return None
    event = Event(
        connection_id=connection_id,
        source=Event.Source.POLL,
        cartly_event_id=poll_event_id(key),
        event_type=event_type,
        object_id=object_id(event_type, obj)[:MAX_EVENT_ID_LENGTH],
        dedupe_key=key,
        payload=obj,
        status=Event.Status.RECEIVED,
        occurred_at=object_time(obj, "updated_at"),
    )
    try:
        with transaction.atomic():
            event.save(force_insert=True)  # the engine's clock dispatches it
    except IntegrityError:
        return None  # seen before, by hook or by an earlier poll: it runs once
    return event


def matches(trigger: Trigger, obj: dict, since: datetime) -> bool:
    """Whether `obj`, as listed now, is this trigger's event from `since` on."""
    status = trigger.poll_filter.status
    if status and obj.get("status") != status:
        return False
    if trigger.dedupe_on_updated_at and obj.get("updated_at") == obj.get("created_at"):
        return False  # a creation is not an update (hooks send *.updated for changes only)
    when = object_time(obj, time_field(trigger.poll_filter.cursor))
    return when is not None and when >= since


def emit(connection_id: int, since: dict[str, datetime], obj: dict) -> int:
    """Store the events `obj` is for each wanted event type; how many were new."""
    stored = 0
    for event_type, wanted_since in since.items():
        for trigger in registry.triggers_for_event(event_type)[:1]:
            if trigger.poll_levels is not None:  # levels inside obj, compared with the last seen
                when = (object_time(obj, "updated_at"), wanted_since)
                stored += polling_levels.emit_levels(
                    connection_id, trigger, obj, when, store_polled
                )
            elif matches(trigger, obj, wanted_since) and store_polled(
                connection_id, event_type, obj
            ):
                stored += 1
    return stored


# --- one listing, one tick ---------------------------------------------------------------------


def _cursor(listing: Listing, start: datetime) -> tuple[PollCursor, bool]:
    """The listing's cursor, and whether it was made just now (starting at `start`)."""
    found = PollCursor.objects.filter(
        connection_id=listing.connection_id, resource=listing.resource, kind=listing.kind
    ).first()
    if found is not None:
        return found, False
    try:
        with transaction.atomic():
            return PollCursor.objects.create(
                connection_id=listing.connection_id,
                resource=listing.resource,
                kind=listing.kind,
                since_time=start,
            ), True
    except IntegrityError:  # another poller made it first: it is that one's tick
        return PollCursor.objects.get(
            connection_id=listing.connection_id, resource=listing.resource, kind=listing.kind
        ), True


def _claim(cursor: PollCursor) -> datetime | None:
    """Hold the cursor for one read; the lease's end, or None if someone else holds it."""
    now = timezone.now()
    lease_end = now + LEASE
    free = Q(leased_until__isnull=True) | Q(leased_until__lt=now)
    claimed = PollCursor.objects.filter(free, pk=cursor.pk).update(
        leased_until=lease_end, last_polled_at=now
    )
    return lease_end if claimed else None


@dataclass
class Progress:
    """Where a read got to: the newest id and time it saw, and how many events were new."""

    since_id: str
    since_time: datetime
    stored: int = 0

    def saw(self, obj: dict, kind: str) -> None:
        if kind == PollCursor.Kind.SINCE_ID and str(obj["id"]) > self.since_id:
            self.since_id = str(obj["id"])
        when = object_time(obj, time_field(kind))
        if when is not None and when > self.since_time:
            self.since_time = when


def _read(connection: Connection, cursor: PollCursor, since: dict[str, datetime]) -> Progress:
    progress = Progress(cursor.since_id, cursor.since_time)

    def read(client) -> None:
        changes = read_changes(
            client, cursor.resource, cursor.kind, cursor.since_id, cursor.since_time
        )
        for obj in changes:
            progress.stored += emit(connection.pk, since, obj)
            progress.saw(obj, cursor.kind)  # after storing: a crash re-reads, never skips

    try:
        tokens.call(connection, read)
    except ConnectorError as exc:
        log.warning("poll of %s failed: %r", cursor, exc)
        cursor.last_error = str(exc)[:MAX_ERROR_LENGTH]
    return progress


def _start(cursor: PollCursor, since: dict[str, datetime]) -> None:
    """Skip ahead to when the listing is first wanted, if the cursor lies before it.

    A cursor left from an earlier need must not replay what happened before any recipe
    wanted it (e.g. a recipe turned on today, on a cursor last read last month); a levels
    cursor then records its levels afresh (since_id emptied).
    """
    wanted_from = min(since.values())
    if cursor.since_time < wanted_from:
        cursor.since_id, cursor.since_time = "", wanted_from


def _record_levels(connection: Connection, cursor: PollCursor, since: dict) -> Progress:
    """A levels cursor's first read: record every level, fire nothing (polling_levels.py)."""
    progress = Progress(cursor.since_id, cursor.since_time)
    triggers = [t for e in since for t in registry.triggers_for_event(e)[:1] if t.poll_levels]

    def read(client) -> None:
        polling_levels.record_baseline(client, connection.pk, cursor.resource, triggers)
        progress.since_id = polling_levels.LEVELS_RECORDED  # only once all of it was read

    try:
        tokens.call(connection, read)
    except ConnectorError as exc:
        log.warning("recording the levels of %s failed: %r", cursor, exc)
        cursor.last_error = str(exc)[:MAX_ERROR_LENGTH]
    return progress


def poll_listing(listing: Listing, since: dict[str, datetime]) -> int:
    """Read one listing once and store the new events; how many were new.

    The first tick of a new cursor only records where the listing starts and fires nothing
    (for a levels cursor: every level it holds).
    """
    connection = Connection.objects.filter(
        pk=listing.connection_id, status=Connection.Status.ACTIVE
    ).first()
    if connection is None or not since:
        return 0
    cursor, created = _cursor(listing, min(since.values()))
    if created and listing.kind != PollCursor.Kind.LEVELS:
        return 0
    lease_end = _claim(cursor)
    if lease_end is None:
        return 0
    cursor.last_error = ""
    _start(cursor, since)
    if polling_levels.needs_baseline(cursor):
        progress = _record_levels(connection, cursor, since)
    else:
        progress = _read(connection, cursor, since)
    PollCursor.objects.filter(pk=cursor.pk, leased_until=lease_end).update(
        since_id=progress.since_id,
        since_time=progress.since_time,
        last_error=cursor.last_error,
        leased_until=None,
    )
    return progress.stored


def poll_all() -> list[Listing]:
    """For beat: publish one poll per needed listing (leases make repeats harmless)."""
    needs = polling_needs()
    for listing, need in needs.items():
        since = {event: when.isoformat() for event, when in need.since.items()}
        publish(POLL_LISTING, listing.connection_id, listing.resource, listing.kind, since)
    return list(needs)
