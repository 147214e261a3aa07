"""Calls: make a batch's calls to Cartly at once, each shop within its budget and circuit.

Everything that touches the database happens here, in the task's own thread, before and after
the calls: the shop's circuit (connectors/circuit.py) and call budget (connectors/ratelimit.py)
are asked once per shop for the whole batch, access tokens are refreshed under their row lock
(connectors/tokens.py). Only the HTTP requests themselves go to a small thread pool, sharing
the process's pooled session, so a batch of fifty steps waits about as long as its slowest call.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from automations.engine import outcomes
from automations.engine.outcomes import Outcome
from connectors import circuit, ratelimit, tokens
from connectors.base import Action, Search
from connectors.cartly.client import CartlyClient, shared_session
from connectors.contract import check_result
from connectors.errors import AuthExpired
from connectors.http.request import DEFAULT_TIMEOUT_SECONDS as HTTP_DEFAULT_TIMEOUT_SECONDS
from connectors.models import Connection

_pool_lock = threading.Lock()
_pool: tuple[int, ThreadPoolExecutor] | None = None
# Steps held back by the budget come back spread over this many seconds, not all at once.
BUDGET_SPREAD_SECONDS = 1.0
# A call starts only if it can end (its timeout) this long before the task's soft time limit,
# which leaves time to record the batch. A batch of slow calls (ENGINE_STEP_BATCH_SIZE over
# ENGINE_CALL_CONCURRENCY threads, each up to its timeout) could otherwise outlast the limit:
# the whole batch would be cut off unrecorded and run again after its lease. The calls that
# cannot start in time are handed back to the next task instead (steps.py).
RECORD_MARGIN_SECONDS = 5.0


class NotStarted(Exception):
    """The task had too little time left for this call; its step goes to the next task."""


def call_deadline(task_started: float) -> float:
    """The monotonic time by which a task's calls must have ended."""
    return task_started + settings.CELERY_TASK_SOFT_TIME_LIMIT - RECORD_MARGIN_SECONDS


def pool() -> ThreadPoolExecutor:
    """The process's call threads (made again in a forked child: threads do not survive)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            workers = settings.ENGINE_CALL_CONCURRENCY
            _pool = (os.getpid(), ThreadPoolExecutor(workers, thread_name_prefix="engine-call"))
        return _pool[1]


@dataclass
class Job:
    """One step's call: what to call with what, and (once made) what came of it."""

    step_id: int
    connection_id: int
    attempt: int  # this pickup's attempt number, from 1
    operation: Action | Search
    values: dict[str, Any]
    idempotency_key: str
    if_not_found: str = "halt"
    key_may_be_forgotten: bool = False
    outcome: Outcome | None = None


def _perform(job: Job, client: Any) -> Any:
    operation = job.operation
    if isinstance(operation, Search):
        return operation.perform(client, job.values)
    if job.key_may_be_forgotten:
        return operation.after_key_expiry(client, job.values, job.idempotency_key)
    return operation.perform(client, job.values, job.idempotency_key)


def _found(job: Job, result: Any) -> Outcome:
    result = check_result(job.operation, result)
    if not isinstance(job.operation, Search):
        return outcomes.succeeded(result)
    cap = settings.ENGINE_SEARCH_MAX_RESULTS
    if result:
        return outcomes.succeeded(result[0], items=result[:cap])
    if job.if_not_found == "continue":
        return outcomes.succeeded({}, items=[])
    return Outcome(outcomes.HALTED, error=job.operation.nothing_found)


def _timeout(job: Job) -> float:
    if job.operation.app == "http":
        return float(job.values.get("timeout_seconds") or HTTP_DEFAULT_TIMEOUT_SECONDS)
    return float(settings.CARTLY_TIMEOUT_SECONDS)


def _service(job: Job) -> str:
    return "The receiving system" if job.operation.app == "http" else "Cartly"


def _settle(job: Job, result: Any, error: BaseException | None, now: datetime) -> None:
    if isinstance(error, NotStarted):
        return  # no call was made: no outcome, the step is handed back
    if error is None:
        try:
            job.outcome = _found(job, result)
        except Exception as exc:  # noqa: BLE001 - a contract violation is permanent
            job.outcome = outcomes.from_error(exc, job.attempt, now, _service(job))
        return
    job.outcome = outcomes.from_error(error, job.attempt, now, _service(job))


def _call_all(
    jobs: list[Job],
    deadline: float,
    token: str | None = None,
    clients: dict[int, Any] | None = None,
) -> list[tuple[Job, Any, Any]]:
    """Make the calls at once: with a Cartly token, or each job's own client (HTTP steps).
    A call that could not end by `deadline` is not started (the first always is, so every
    task makes progress whatever the settings)."""
    order = itertools.count()

    def one(job: Job):
        if next(order) and time.monotonic() + _timeout(job) > deadline:
            return job, None, NotStarted()
        client = (
            clients[job.step_id]
            if clients is not None
            else CartlyClient(token, session=shared_session())
        )
        try:
            return job, _perform(job, client), None
        except Exception as exc:  # noqa: BLE001 - every failure becomes an outcome
            return job, None, exc

    if len(jobs) == 1:
        return [one(jobs[0])]
    return list(pool().map(one, jobs))


def _hold(jobs: list[Job], outcome_for) -> list[Job]:
    for job in jobs:
        job.outcome = outcome_for(job)
    return []


def _admit(jobs: list[Job], shop_key: str, gate: circuit.Gate, now: datetime) -> list[Job]:
    """The jobs the circuit and the budget let through now; the others get their wait."""
    if gate.allowed is not None:
        since = gate.since.strftime("%H:%M UTC") if gate.since else "a moment ago"
        reason = f"Waiting for Cartly since {since}: it keeps failing ({gate.reason})."
        held = jobs[gate.allowed :]
        _hold(held, lambda job: outcomes.waiting(reason, gate.until, "circuit"))
        jobs = jobs[: gate.allowed]
    granted, wait = ratelimit.take_many(shop_key, len(jobs))
    if granted < len(jobs):
        spread = BUDGET_SPREAD_SECONDS / max(len(jobs) - granted, 1)
        reason = "Too many calls to this shop right now; it goes on in a moment."
        for index, job in enumerate(jobs[granted:]):
            until = now + timedelta(seconds=wait + index * spread)
            job.outcome = outcomes.waiting(reason, until, "budget")
    return jobs[:granted]


def _run_shop(
    jobs: list[Job], connection: Connection, gate: circuit.Gate, now: datetime, deadline: float
) -> list[Job]:
    """Call a shop's jobs; the ones whose call was made (they have an outcome)."""
    if not connection.is_active:
        reason = connection.status_reason or tokens.RECONNECT_REASON
        return _hold(
            jobs, lambda job: outcomes.from_error(tokens.ReconnectNeeded(reason), job.attempt, now)
        )
    jobs = _admit(jobs, ratelimit.shop_key(connection.shop_id), gate, now)
    if not jobs:
        return []
    try:
        token = tokens.fresh_access_token(connection)
    except tokens.ReconnectNeeded as exc:
        refused = exc
        return _hold(jobs, lambda job: outcomes.from_error(refused, job.attempt, now))
    results = _call_all(jobs, deadline, token)
    expired = [job for job, _, error in results if isinstance(error, AuthExpired)]
    if expired:  # refresh once (under the row lock), then try those calls once more
        try:
            tokens.refresh_connection(connection, seen_access_token=token)
            again = _call_all(expired, deadline, connection.access_token)
        except tokens.ReconnectNeeded as exc:
            again = [(job, None, exc) for job in expired]
        if any(isinstance(error, AuthExpired) for _, _, error in again):
            tokens.mark_needs_reconnect(connection)
            again = [
                (job, None, tokens.ReconnectNeeded(tokens.RECONNECT_REASON)) for job, _, _ in again
            ]
        results = [r for r in results if not isinstance(r[2], AuthExpired)] + again
    for job, result, error in results:
        _settle(job, result, error, now)
    return [job for job in jobs if job.outcome is not None]


def _run_http(
    jobs: list[Job], connections: dict[int, Connection], now: datetime, deadline: float
) -> None:
    """HTTP steps: each owner's client (signing secret, allowed hosts); no shop budget."""
    from connectors.http.signing import http_client_for

    by_owner = {connections[job.connection_id].owner_id for job in jobs}
    owner_clients = {owner_id: http_client_for(owner_id) for owner_id in by_owner}
    clients = {job.step_id: owner_clients[connections[job.connection_id].owner_id] for job in jobs}
    for job, result, error in _call_all(jobs, deadline, clients=clients):
        _settle(job, result, error, now)


def run_jobs(
    jobs: list[Job], connections: dict[int, Connection], now: datetime, deadline: float
) -> set[str]:
    """Give every job an outcome, but for calls that could not end by `deadline` (left
    without one); returns the shops whose open circuit a call just closed."""
    waiting = [job for job in jobs if job.outcome is None]
    # HTTP steps never take the Cartly path (circuits, shop budgets), even one not started
    # in time: it stays without an outcome and is handed back.
    http = [job for job in waiting if job.operation.app == "http"]
    if http:
        _run_http(http, connections, now, deadline)
    by_connection: dict[int, list[Job]] = defaultdict(list)
    for job in waiting:
        if job.operation.app != "http":
            by_connection[job.connection_id].append(job)
    shops = {ratelimit.shop_key(connections[cid].shop_id) for cid in by_connection}
    gates, troubled = circuit.gates(shops, now)
    reopened: set[str] = set()
    for connection_id, group in by_connection.items():
        connection = connections[connection_id]
        shop_key = ratelimit.shop_key(connection.shop_id)
        called = _run_shop(group, connection, gates[shop_key], now, deadline)
        failures = [job for job in called if job.outcome.transient]
        answers = len(called) - len(failures)
        if shop_key in troubled or failures:
            error = failures[-1].outcome.error if failures else ""
            if circuit.record(shop_key, answers, len(failures), error, now):
                reopened.add(connection.shop_id)
    return reopened
