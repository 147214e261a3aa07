"""The step rows' claims and records, in plain SQL: one statement claims and reads a batch.

A claim moves rows to `running` with a lease (`next_attempt_at`); only rows that are pending,
waiting and due, or running past their lease (their worker died) can be claimed, so a second
copy of a message finds nothing. A record is fenced by the attempt number the claim gave: a
worker whose lease lapsed and whose row was claimed again cannot overwrite the newer attempt.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection

from automations.engine import sql
from automations.engine.advance import lost_after
from automations.engine.runs import (
    ROW_COLUMNS,
    RUN_COLUMN_COUNT,
    RUN_COLUMNS,
    RUN_JOINS,
    info_from_columns,
    load_rows,
    load_runs,
    rows_by_run,
)
from automations.models import Run, StepRun
from automations.models_runs import elapsed_ms
from connectors.models import Connection

TABLE = StepRun._meta.db_table
CLAIMED = (
    "id",
    "run_id",
    "position",
    "address",
    "key",
    "operation",
    "rendered_input",
    "attempts",
    "pickups",
    "generation",
    "first_attempt_at",
)


@dataclass
class Claimed:
    id: int
    run_id: int
    position: int
    address: str
    key: str
    operation: str
    rendered_input: dict | None
    attempts: int
    pickups: int
    generation: int
    first_attempt_at: datetime | None

    @property
    def where(self) -> str:
        return self.address or str(self.position)

    @property
    def is_first_step(self) -> bool:
        return self.where == "0"

    def idempotency_key(self) -> str:
        return StepRun(
            run_id=self.run_id,
            position=self.position,
            address=self.address,
            generation=self.generation,
        ).idempotency_key


def lease_until(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.ENGINE_STEP_LEASE_SECONDS)


def _claim_statement(count: int) -> str:
    return (
        f"UPDATE {TABLE} SET status = 'running', attempts = attempts + 1, "
        f"pickups = pickups + 1, started_at = %s, next_attempt_at = %s, wait_kind = '', "
        f"first_attempt_at = COALESCE(first_attempt_at, %s) "
        f"WHERE id IN ({sql.marks(count)}) AND (status = 'pending' OR "
        f"(status IN ('waiting', 'running') AND next_attempt_at <= %s)) "
        f"RETURNING {', '.join(CLAIMED)}"
    )


def _claim_params(ids: list[int], now: datetime) -> list:
    return [sql.at(now), sql.at(lease_until(now)), sql.at(now), *ids, sql.at(now)]


def _claimed(values) -> Claimed:
    row = Claimed(*values)
    row.rendered_input = sql.as_json(row.rendered_input)
    row.first_attempt_at = sql.as_moment(row.first_attempt_at)
    return row


def claim(ids: list[int], now: datetime) -> list[Claimed]:
    """Claim the rows among `ids` that may run now, and read them, in one statement."""
    if not ids:
        return []
    return [
        _claimed(values)
        for values in sql.fetch(_claim_statement(len(ids)), _claim_params(ids, now))
    ]


# The statements that open the dispatch's and the step's transactions on PostgreSQL carry
# `relaxed_commit` with them, instead of a SET LOCAL round trip of its own: a WITH that sets
# the transaction's synchronous_commit, joined to the rows. Where the statement finds no row it
# may not be evaluated, and then there is nothing of the engine's to commit but hand-backs,
# kept durable. Being the transaction's setting, it never reaches what runs after the commit.
RELAXED = "relaxed AS (SELECT set_config('synchronous_commit', 'off', true))"

# The shop connection's columns, read with the claim (the calls need its token).
SHOP_FIELDS = list(Connection._meta.concrete_fields)
SHOP_COLUMNS = ", ".join(f"k.{field.column}" for field in SHOP_FIELDS)


def _shop(values) -> Connection:
    """A Connection from SHOP_COLUMNS' values (PostgreSQL's: only its own converters apply,
    such as the token's decryption)."""
    converted = [
        field.from_db_value(value, None, connection) if hasattr(field, "from_db_value") else value
        for field, value in zip(SHOP_FIELDS, values, strict=True)
    ]
    return Connection.from_db(connection.alias, [f.attname for f in SHOP_FIELDS], converted)


def claim_with_runs(ids: list[int], now: datetime):
    """Claim rows as `claim` does, and read their runs and shop connections too: in one
    statement on PostgreSQL (the UPDATE in a WITH, joined to runs, events and connections);
    in three where WITH cannot hold an UPDATE. (rows, RunInfo by run id, Connection by id)"""
    if not ids:
        return [], {}, {}
    if connection.vendor != "postgresql":
        rows = claim(ids, now)
        infos = load_runs({row.run_id for row in rows})
        shop_ids = {info.connection_id for info in infos.values()}
        return rows, infos, Connection.objects.in_bulk(shop_ids)
    statement = (
        f"WITH {RELAXED}, claimed AS ({_claim_statement(len(ids))}) "
        f"SELECT {', '.join('claimed.' + name for name in CLAIMED)}, {RUN_COLUMNS}, "
        f"{SHOP_COLUMNS} FROM claimed JOIN {Run._meta.db_table} r ON r.id = claimed.run_id "
        f"{RUN_JOINS} JOIN {Connection._meta.db_table} k ON k.id = c.connection_id "
        f"CROSS JOIN relaxed"
    )
    rows, infos, shops = [], {}, {}
    run_at, shop_at = len(CLAIMED), len(CLAIMED) + RUN_COLUMN_COUNT
    for values in sql.fetch(statement, _claim_params(ids, now)):
        rows.append(_claimed(values[:run_at]))
        if values[run_at] not in infos:
            infos[values[run_at]] = info_from_columns(values[run_at:shop_at])
        if values[shop_at] not in shops:
            shops[values[shop_at]] = _shop(values[shop_at:])
    return rows, infos, shops


def store_inputs(rows: list[Claimed]) -> None:
    """Keep the rendered input of freshly rendered rows (one statement for the batch)."""
    if not rows:
        return
    cast = "::jsonb" if connection.vendor == "postgresql" else ""
    cases = " ".join(f"WHEN %s THEN %s{cast}" for _ in rows)
    marks = ", ".join(["%s"] * len(rows))
    params: list[Any] = []
    for row in rows:
        params += [row.id, json.dumps(row.rendered_input)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TABLE} SET rendered_input = CASE id {cases} END WHERE id IN ({marks})",
            [*params, *(row.id for row in rows)],
        )


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str)


# The columns a record writes, with the type PostgreSQL must be told (VALUES rows are text).
RECORDED = (
    ("id", "bigint"),
    ("attempts", "integer"),
    ("status", ""),
    ("output", "jsonb"),
    ("items", "jsonb"),
    ("error", ""),
    ("error_fields", "jsonb"),
    ("status_code", "integer"),
    ("finished_at", "timestamptz"),
    ("duration_ms", "integer"),
    ("next_attempt_at", "timestamptz"),
    ("wait_kind", ""),
    ("uncounted", "integer"),
)


def _recorded(row: Claimed, outcome, started_at: datetime, now: datetime) -> list[Any]:
    finished = outcome.status != "waiting"
    duration = elapsed_ms(started_at, now)
    return [
        row.id,
        row.attempts,
        outcome.status,
        _dumps(outcome.output),
        _dumps(outcome.items),
        outcome.error,
        _dumps(outcome.error_fields),
        outcome.status_code,
        sql.at(now) if finished else None,
        duration,
        sql.at(outcome.wait_until),
        outcome.wait_kind,
        0 if outcome.counts else 1,
    ]


def _value(name: str, kind: str) -> str:
    if connection.vendor == "postgresql" and kind:
        return f"v.{name}::{kind}"
    return f"v.{name}"


def _record_update(outcomes, started_at: datetime, now: datetime, returning: str):
    """The fenced UPDATE of record_all: its VALUES (for a WITH), the UPDATE, the parameters."""
    names = ", ".join(name for name, _ in RECORDED)
    rows = ", ".join(["(" + sql.marks(len(RECORDED)) + ")"] * len(outcomes))
    sets = ", ".join(f"{name} = {_value(name, kind)}" for name, kind in RECORDED[2:-1])
    uncounted, row_id = _value("uncounted", "integer"), _value("id", "bigint")
    update = (
        f"UPDATE {TABLE} SET {sets}, attempts = {TABLE}.attempts - {uncounted}, pickups = 0 "
        f"FROM v WHERE {TABLE}.id = {row_id} AND {TABLE}.status = 'running' "
        f"AND {TABLE}.attempts = {_value('attempts', 'integer')} RETURNING {returning}"
    )
    params = [
        value for row, outcome in outcomes for value in _recorded(row, outcome, started_at, now)
    ]
    return f"v({names}) AS (VALUES {rows})", update, params


def record_all(
    outcomes: list[tuple[Claimed, Any]], started_at: datetime, now: datetime
) -> set[int]:
    """Write each attempt's outcome where the claim is still ours (fenced by the attempt
    number), in one statement; the ids written. A worker whose lease lapsed and whose row was
    claimed again cannot overwrite the newer attempt."""
    if not outcomes:
        return set()
    returning = f"{TABLE}.id" if connection.vendor == "postgresql" else "id"
    values, update, params = _record_update(outcomes, started_at, now, returning)
    return {found[0] for found in sql.fetch(f"WITH {values} {update}", params)}


def record_and_read(outcomes: list[tuple[Claimed, Any]], started_at: datetime, now: datetime):
    """`record_all`, then every step row of the runs written, for the walk on: (ids written,
    rows by run). One statement on PostgreSQL: the rows written come from the UPDATE's
    RETURNING (a read in the same statement would still see them as they were), the runs'
    other rows from the table. Two statements where a WITH cannot hold an UPDATE."""
    if not outcomes:
        return set(), {}
    if connection.vendor != "postgresql":
        written = record_all(outcomes, started_at, now)
        return written, load_rows({row.run_id for row, _ in outcomes if row.id in written})
    returning = ", ".join(f"{TABLE}.{name}" for name in ROW_COLUMNS)
    values, update, params = _record_update(outcomes, started_at, now, returning)
    columns = ", ".join(ROW_COLUMNS)
    statement = (
        f"WITH {RELAXED}, {values}, done AS ({update}) "
        f"SELECT {columns}, true FROM done CROSS JOIN relaxed UNION ALL "
        f"SELECT {columns}, false FROM {TABLE} WHERE run_id IN (SELECT run_id FROM done) "
        f"AND id NOT IN (SELECT id FROM done)"
    )
    fetched = sql.fetch(statement, params)
    written = {values[0] for values in fetched if values[-1]}
    return written, rows_by_run(values[:-1] for values in fetched)


def release(row: Claimed, now: datetime) -> bool:
    """Hand a claimed row back untouched (it will run in a task of its own)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TABLE} SET status = 'pending', attempts = attempts - 1, "
            f"pickups = pickups - 1, next_attempt_at = %s "
            f"WHERE id = %s AND status = 'running' AND attempts = %s",
            [
                sql.at(lost_after(now)),
                row.id,
                row.attempts,
            ],
        )
        return cursor.rowcount == 1


def relaxed_commit() -> None:
    """Let this transaction's commit return before its WAL reaches disk (PostgreSQL).

    Safe for the engine's own bookkeeping, never for the receiver's INSERT: if the database
    crashes in the few milliseconds before the flush, a claim or a recorded outcome is lost,
    the row goes back to where it was, and the step runs again under the same Idempotency-Key,
    so Cartly replays its first answer (docs/architecture.md, "Durability").
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
