"""One circuit breaker per shop: when Cartly keeps failing, stop calling it and wait together.

Closed, every call goes through. After CARTLY_CIRCUIT_FAILURES transient failures in a row
(5xx, timeouts, refused connections; never a 4xx, which is an answer) it opens: the runner
parks the shop's steps as `waiting` with the reason, spending no attempts and holding no
worker. While open, the first caller after `probe_at` moves `probe_at` on with a conditional
UPDATE and so becomes the one probe; its success closes the circuit (and the caller wakes the
steps that waited), its failure keeps it open with a longer wait, doubling up to
CARTLY_CIRCUIT_MAX_OPEN_SECONDS. Rows live in the database, shared by every worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F

from connectors.models import ShopCircuit

ERROR_LENGTH = 300  # ShopCircuit.last_error's size


@dataclass(frozen=True)
class Gate:
    """How many calls a shop may take now (None: all) and when the rest may come back."""

    allowed: int | None
    until: datetime | None = None
    since: datetime | None = None
    reason: str = ""


OPEN_GATE = Gate(None)


def _open_seconds(probes: int) -> float:
    base = float(settings.CARTLY_CIRCUIT_OPEN_SECONDS)
    return min(base * 2 ** min(probes, 16), float(settings.CARTLY_CIRCUIT_MAX_OPEN_SECONDS))


def _troubled_keys(shop_keys: list[str]) -> list[str]:
    """The shops with a failure on record or a circuit not closed, in plain SQL: every batch
    of calls asks, and almost always the answer is none (an ORM query costs more Python)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT shop_key FROM {ShopCircuit._meta.db_table} "
            f"WHERE shop_key IN ({', '.join(['%s'] * len(shop_keys))}) "
            f"AND (failures > 0 OR state <> %s)",
            [*shop_keys, ShopCircuit.State.CLOSED],
        )
        return [row[0] for row in cursor.fetchall()]


def gates(shop_keys: set[str], now: datetime) -> tuple[dict[str, Gate], set[str]]:
    """The gate of each shop, and which of them have a failure on record (one query when
    none has; two when some have)."""
    troubled = _troubled_keys(sorted(shop_keys)) if shop_keys else []
    if not troubled:
        return dict.fromkeys(shop_keys, OPEN_GATE), set()
    found = {gate.shop_key: gate for gate in ShopCircuit.objects.filter(shop_key__in=troubled)}
    result = {}
    for key in shop_keys:
        circuit = found.get(key)
        if circuit is None or circuit.state == ShopCircuit.State.CLOSED:
            result[key] = OPEN_GATE
            continue
        result[key] = _half_open(circuit, now)
    troubled = {key for key, c in found.items() if c.failures or c.state != c.State.CLOSED}
    return result, troubled


def _half_open(circuit: ShopCircuit, now: datetime) -> Gate:
    reason = circuit.last_error
    if circuit.probe_at and circuit.probe_at > now:
        return Gate(0, circuit.probe_at, circuit.opened_at, reason)
    next_probe = now + timedelta(seconds=_open_seconds(circuit.probes))
    won = ShopCircuit.objects.filter(
        pk=circuit.pk, state=ShopCircuit.State.OPEN, probe_at=circuit.probe_at
    ).update(probe_at=next_probe)
    return Gate(1 if won else 0, next_probe, circuit.opened_at, reason)


def record(shop_key: str, successes: int, failures: int, error: str, now: datetime) -> bool:
    """Count one batch's answers for a shop; True when this closed an open circuit."""
    if successes:
        closed = ShopCircuit.objects.filter(shop_key=shop_key, state=ShopCircuit.State.OPEN).update(
            state=ShopCircuit.State.CLOSED, failures=0, probes=0, probe_at=None
        )
        ShopCircuit.objects.filter(shop_key=shop_key, failures__gt=0).update(failures=0)
        return bool(closed)
    if failures:
        _count_failures(shop_key, failures, error[:ERROR_LENGTH], now)
    return False


def _count_failures(shop_key: str, failures: int, error: str, now: datetime) -> None:
    try:
        with transaction.atomic():
            ShopCircuit.objects.get_or_create(shop_key=shop_key)
    except IntegrityError:
        pass  # made by a parallel caller
    circuit = ShopCircuit.objects.filter(shop_key=shop_key)
    circuit.update(failures=F("failures") + failures, last_error=error)
    opened = circuit.filter(
        state=ShopCircuit.State.CLOSED, failures__gte=settings.CARTLY_CIRCUIT_FAILURES
    ).update(
        state=ShopCircuit.State.OPEN,
        opened_at=now,
        probes=0,
        probe_at=now + timedelta(seconds=_open_seconds(0)),
    )
    if not opened:
        # Already open: this was a failed probe, so the next one waits longer.
        probes = circuit.filter(state=ShopCircuit.State.OPEN).values_list("probes", flat=True)
        for count in probes:
            circuit.update(
                probes=count + 1, probe_at=now + timedelta(seconds=_open_seconds(count + 1))
            )
