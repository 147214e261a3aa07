"""Storing one checked delivery in the inbox: a single autocommitted statement.

`INSERT … ON CONFLICT DO NOTHING RETURNING id` outside any transaction is one round trip and
one durable commit (PostgreSQL's default synchronous_commit), where the ORM's
`transaction.atomic()` + `save()` is BEGIN, INSERT and COMMIT plus a model instance and a
query compile. The unique constraints, not a prior SELECT, decide what is a duplicate; only
when the INSERT stored nothing do we look at which one refused it (DESIGN.md, step 2).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import NamedTuple

import psycopg
from django.db import (
    DEFAULT_DB_ALIAS,
    DataError,
    InterfaceError,
    OperationalError,
    connections,
    transaction,
)
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Q
from django.utils import timezone

from automations import receiver_targets
from automations.models import Event, Subscription
from automations.receiver_envelope import BadDelivery, Envelope
from automations.receiver_targets import HookTarget

log = logging.getLogger(__name__)

# last_delivery_at is shown to merchants as "a minute ago"; writing it on every delivery would
# make every delivery of a busy hook queue on that one row's lock.
LAST_DELIVERY_RESOLUTION = timedelta(seconds=60)
# Every column the INSERT fills: the model's other columns are nullable.
EVENT_FIELDS = (
    "connection",
    "subscription",
    "source",
    "cartly_event_id",
    "event_type",
    "object_id",
    "dedupe_key",
    "payload",
    "raw_body",
    "status",
    "occurred_at",
    "received_at",
    "dispatch_attempts",
)
# Fields whose value the database backend must adapt (JSON, and times for SQLite).
ADAPTED_FIELDS = frozenset({"payload", "occurred_at", "received_at"})
CANNOT_STORE = "The delivery holds a value the inbox cannot store."

_sql: dict[str, str] = {}  # by database vendor
# Each `django.db.connection.x` looks up this thread's connection again: the hot path
# fetches it once per delivery (`db`) and passes it on.


def _insert_sql(db: BaseDatabaseWrapper) -> str:
    if db.vendor not in _sql:
        quote = db.ops.quote_name
        meta = Event._meta
        columns = ", ".join(quote(meta.get_field(name).column) for name in EVENT_FIELDS)
        placeholders = ", ".join(["%s"] * len(EVENT_FIELDS))
        _sql[db.vendor] = (
            f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders}) "
            f"ON CONFLICT DO NOTHING RETURNING {quote(meta.pk.column)}"
        )
    return _sql[db.vendor]


def _adapted(values: dict, db: BaseDatabaseWrapper) -> list:
    """The values in EVENT_FIELDS order, prepared as the ORM would prepare them."""
    meta = Event._meta
    return [
        meta.get_field(name).get_db_prep_save(values[name], db)
        if name in ADAPTED_FIELDS
        else values[name]
        for name in EVENT_FIELDS
    ]


def _execute(values: dict, db: BaseDatabaseWrapper) -> int | None:
    sql, params = _insert_sql(db), _adapted(values, db)
    if db.vendor == "postgresql":
        row = _fetch_server_bound(sql, params, db)
    else:
        with db.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
    return row[0] if row else None


def _fetch_server_bound(sql: str, params: list, db: BaseDatabaseWrapper) -> tuple | None:
    """One row of `sql`, its parameters bound by PostgreSQL rather than by us.

    Django's psycopg cursors bind on the client: every value, the body twice over, is quoted
    into the statement's text, which the server then parses whole. A server-binding cursor
    sends the statement and its values apart, in the one round trip.

    A connection kept from an earlier request would first be health-checked by Django
    (CONN_HEALTH_CHECKS: a SELECT 1, one more round trip per delivery). Here the statement
    is the check: if it fails on a kept connection, that connection is dropped and the
    statement made once more on a new one, as the check would have done. Making it twice is
    harmless: ON CONFLICT DO NOTHING, and `store` finds a first attempt that did commit.
    """
    kept = db.connection is not None and db.health_check_enabled and not db.health_check_done
    db.health_check_done = True
    try:
        return _run_server_bound(sql, params, db)
    except (OperationalError, InterfaceError) as exc:
        if not kept or db.in_atomic_block:
            raise
        log.info("dropping a database connection that failed: %s", type(exc).__name__)
        db.close()
        return _run_server_bound(sql, params, db)


def _run_server_bound(sql: str, params: list, db: BaseDatabaseWrapper) -> tuple | None:
    db.ensure_connection()
    started = time.monotonic()
    with db.wrap_database_errors, psycopg.Cursor(db.connection) as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if db.queries_logged:  # where Django logs queries (tests count them there)
        db.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})
    return row


def insert_event(values: dict) -> int | None:
    """The new row's id, or None when a unique constraint already holds this event or change.

    Outside a transaction (every web request) the statement commits on its own. Inside a
    caller's transaction (a test's), a savepoint keeps a refused INSERT from breaking it.
    """
    db = connections[DEFAULT_DB_ALIAS]
    try:
        if db.in_atomic_block:
            with transaction.atomic():
                return _execute(values, db)
        return _execute(values, db)
    except DataError:
        # e.g. a NUL character PostgreSQL's jsonb refuses: resending will not help.
        raise BadDelivery(CANNOT_STORE) from None


def event_values(
    target: HookTarget, envelope: Envelope, raw_body: str, status: str, key: str | None
) -> dict:
    return {
        "connection": target.connection_id,
        "subscription": target.subscription_id,
        "source": Event.Source.WEBHOOK.value,
        "cartly_event_id": envelope.event_id,
        "event_type": envelope.event_type,
        "object_id": envelope.object_id,
        "dedupe_key": key,
        "payload": envelope.data,
        "raw_body": raw_body,
        "status": status,
        "occurred_at": envelope.created_at,
        "received_at": timezone.now(),
        "dispatch_attempts": 0,
    }


class Stored(NamedTuple):
    """The row a delivery became (None: Cartly's retry of one we hold) and its status."""

    event_id: int | None
    status: str


def store(values: dict) -> Stored:
    """Store the event once, whatever Cartly or polling already brought."""
    event_id = insert_event(values)
    if event_id is not None:
        return Stored(event_id, values["status"])
    inbox = Event.objects.filter(connection_id=values["connection"])
    if inbox.filter(cartly_event_id=values["cartly_event_id"]).exists():
        return Stored(None, values["status"])  # a retry of a delivery we hold
    key = values["dedupe_key"]
    if key is None or not inbox.filter(dedupe_key=key).exists():
        # Neither constraint explains the refusal: never answer 200 for what was not stored.
        raise BadDelivery(CANNOT_STORE)
    # Another row (e.g. found by polling) already holds this change: keep this one as a
    # duplicate, without the key, and run nothing for it. None: a parallel retry of this
    # very delivery stored it first.
    duplicate = Event.Status.DUPLICATE.value
    return Stored(insert_event({**values, "dedupe_key": None, "status": duplicate}), duplicate)


def note_delivery(target: HookTarget, token: str) -> None:
    """Move last_delivery_at forward, at most once per LAST_DELIVERY_RESOLUTION."""
    now = timezone.now()
    last = target.last_delivery_at
    if last is not None and now - last < LAST_DELIVERY_RESOLUTION:
        return
    # Conditional, so that processes holding the same old value write once between them.
    cutoff = now - LAST_DELIVERY_RESOLUTION
    older = Q(last_delivery_at__isnull=True) | Q(last_delivery_at__lt=cutoff)
    Subscription.objects.filter(older, pk=target.subscription_id).update(last_delivery_at=now)
    receiver_targets.forget(token)  # the next delivery reads the new value
