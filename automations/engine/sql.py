"""The hot path's plain SQL: running a statement and reading its values back.

Why not the ORM here: building a statement through a QuerySet costs 0.3–0.8 ms of Python each
time (compiling lookups, joins, model field conversions), more than PostgreSQL spends running
it. The hot path's statements have fixed shapes, so they are written once, as text, and run on
Django's own connection (same transaction, same settings, same test database). The values
come back as the driver gives them, which differs between PostgreSQL and SQLite; the helpers
below turn them into what the ORM would have given.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime


def marks(count: int) -> str:
    """`%s, %s, …`: the placeholders of an IN list or a VALUES row."""
    return ", ".join(["%s"] * count)


def fetch(sql: str, params: list[Any]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def execute(sql: str, params: list[Any]) -> int:
    """Run a statement; the number of rows it changed."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def at(moment: datetime | None) -> Any:
    """A time as the backend stores it (SQLite keeps naive UTC text), so that rows written
    here compare and match like rows the ORM wrote."""
    return connection.ops.adapt_datetimefield_value(moment)


def as_json(value: Any) -> Any:
    """A JSON column's value (Django has psycopg hand jsonb back as text; SQLite keeps text)."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def as_moment(value: Any) -> datetime | None:
    """A timestamp column's value as an aware datetime (SQLite gives text or naive values)."""
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else parse_datetime(str(value))
    return timezone.make_aware(parsed, UTC) if parsed and timezone.is_naive(parsed) else parsed


def insert_models(objects: list) -> None:
    """INSERT instances of one model in one statement and give them their ids: `bulk_create`
    for the hot path's new step rows without its QuerySet layers (a tenth of the worker's
    time went there). Each value is prepared as Django prepares it for saving; no signals are
    sent, as bulk_create sends none."""
    if not objects:
        return
    meta = type(objects[0])._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    # As many rows a statement as the backend takes parameters (SQLite's and PostgreSQL's caps).
    size = max(min(connection.ops.bulk_batch_size(fields, objects), 65535 // len(fields)), 1)
    for start in range(0, len(objects), size):
        chunk = objects[start : start + size]
        params = [
            field.get_db_prep_save(field.pre_save(obj, True), connection)
            for obj in chunk
            for field in fields
        ]
        rows = ", ".join([f"({marks(len(fields))})"] * len(chunk))
        made = fetch(
            f"INSERT INTO {meta.db_table} ({columns}) VALUES {rows} RETURNING {meta.pk.column}",
            params,
        )
        for obj, (pk,) in zip(chunk, made, strict=True):
            obj.pk = pk
            obj._state.adding = False
            obj._state.db = connection.alias
