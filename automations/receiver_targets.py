"""Which subscription a hook token names: one indexed query, remembered for a few seconds.

A busy hook receives many deliveries a second to the same token; reading its subscription
each time is a query (and, through the ORM, a compile) per delivery. A web process keeps what
it read for HOOK_SUBSCRIPTION_CACHE_SECONDS: long enough to spare the query under load, short
enough that a subscription we removed answers 410 within seconds. Only live subscriptions are
remembered, and a check that fails on a remembered one is made again on a fresh read
(`receiver.receive`), so a cached row can delay a 410 but never cause a wrong refusal.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from automations.models import Subscription
from connectors.models import Connection

MAX_TOKEN_LENGTH = 64  # Subscription.token's size: anything longer cannot be one
# A deleting subscription is one we are removing too: either way we want no more deliveries.
GONE_STATUSES = frozenset({Subscription.Status.DELETING, Subscription.Status.DELETED})
# Tokens remembered at most; past it the memory starts over (an installation with more live
# hooks than this simply queries more often).
MAX_REMEMBERED = 10_000


@dataclass(frozen=True)
class HookTarget:
    """The columns of a subscription and its connection that checking a delivery needs."""

    subscription_id: int
    status: str
    remote_id: str
    event_type: str
    last_delivery_at: datetime | None
    connection_id: int
    shop_id: str
    shop_domain: str
    cached: bool = False  # read from this process's memory rather than the database

    @property
    def gone(self) -> bool:
        return self.status in GONE_STATUSES


_remembered: dict[str, tuple[float, HookTarget]] = {}
_sql: str | None = None


def _lookup_sql() -> str:
    """SELECT … JOIN … WHERE token = %s, built once from the models' table and column names."""
    global _sql
    if _sql is None:
        quote = connection.ops.quote_name
        sub, conn = Subscription._meta, Connection._meta
        columns = [
            *(
                f"s.{quote(sub.get_field(name).column)}"
                for name in ("id", "status", "remote_id", "event_type", "last_delivery_at")
            ),
            *(
                f"c.{quote(conn.get_field(name).column)}"
                for name in ("id", "shop_id", "shop_domain")
            ),
        ]
        _sql = (
            f"SELECT {', '.join(columns)} FROM {quote(sub.db_table)} s "
            f"JOIN {quote(conn.db_table)} c ON c.{quote(conn.pk.column)} = "
            f"s.{quote(sub.get_field('connection').column)} "
            f"WHERE s.{quote(sub.get_field('token').column)} = %s"
        )
    return _sql


def _read(token: str) -> HookTarget | None:
    with connection.cursor() as cursor:
        cursor.execute(_lookup_sql(), [token])
        row = cursor.fetchone()
    if row is None:
        return None
    return HookTarget(row[0], row[1], row[2], row[3], _aware(row[4]), row[5], row[6], row[7])


def _aware(value: datetime | str | None) -> datetime | None:
    # A raw query on SQLite hands back text or a naive datetime; stored times are UTC.
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value


def find(token: str, *, fresh: bool = False) -> HookTarget | None:
    """The token's subscription, from memory when read recently (unless `fresh`)."""
    if len(token) > MAX_TOKEN_LENGTH:
        return None
    now = time.monotonic()
    if not fresh:
        held = _remembered.get(token)
        if held is not None and held[0] > now:
            return held[1]
    target = _read(token)
    if target is None or target.gone:
        _remembered.pop(token, None)
        return target
    ttl = settings.HOOK_SUBSCRIPTION_CACHE_SECONDS
    if ttl > 0:
        if len(_remembered) >= MAX_REMEMBERED:
            _remembered.clear()
        _remembered[token] = (now + ttl, _cached_copy(target))
    return target


def _cached_copy(target: HookTarget) -> HookTarget:
    fields = {**target.__dict__, "cached": True}
    return HookTarget(**fields)


def forget(token: str) -> None:
    """Drop what this process remembers of a token (e.g. after it noted a delivery)."""
    _remembered.pop(token, None)


def forget_all() -> None:
    _remembered.clear()
