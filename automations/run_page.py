"""What the run page offers for a run and what it says about it: which of "Retry from the
failed step", "Retry now", "Cancel" and "Replay the whole run" apply, what a replay would do
again at Cartly, and what a waiting run waits for ("Waiting for Cartly since …").

Plain functions over rows, so tests call them directly; views_runs.py and the JSON API
(automations/api/runs.py) only read the request and turn the outcomes into pages or JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from automations.documents import save_version
from automations.engine import replay, walk
from automations.engine.tree import sort_key
from automations.models import Run, StepRun
from connectors import ratelimit, registry
from connectors.base import Action
from connectors.models_ratelimit import ShopCircuit

CURRENT, ORIGINAL = "current", "original"
VERSIONS = (CURRENT, ORIGINAL)
# Waits a "Retry now" can cut short: the step only waits for its next turn. A held circuit
# waits for Cartly as a whole (the shop's probe decides), a reconnect for the merchant, a
# delay for its time; for those a click would change nothing, so it is not offered.
RETRY_NOW_KINDS = (StepRun.WaitKind.RETRY, StepRun.WaitKind.BUDGET)
WAITS_FOR_SERVICE = (StepRun.WaitKind.RETRY, StepRun.WaitKind.CIRCUIT)


class NotNow(Exception):
    """The run is not in a state the asked-for action applies to; the message says why."""


# --- the rows --------------------------------------------------------------------------------


def ordered_rows(run: Run) -> list[StepRun]:
    """The run's step rows in the recipe's reading order (nested rows under their step)."""
    rows = run.step_runs.prefetch_related("past_attempts")
    return sorted(rows, key=lambda row: sort_key(row.where))


def failed_step(rows: list[StepRun]) -> StepRun | None:
    """The step that failed the run: the last failed row in reading order (a step that failed
    and went on comes earlier; nothing runs after the one that ended the run)."""
    failed = [row for row in rows if row.status == StepRun.Status.FAILED]
    return failed[-1] if failed else None


def waiting_step(rows: list[StepRun]) -> StepRun | None:
    return next((row for row in rows if row.status == StepRun.Status.WAITING), None)


def describe(row: StepRun) -> str:
    """ "step 2 (discount)" or "step 2, item 3, step 1 (restock)", for sentences."""
    text = walk.describe(row.where, row.key)
    return text[:1].lower() + text[1:]


def service_of(row: StepRun) -> str:
    """Who a waiting step waits for, in words: Cartly, or the merchant's own system."""
    try:
        app = registry.get(row.operation).app if row.operation else "cartly"
    except registry.UnknownOperation:
        app = "cartly"
    return "Cartly" if app == "cartly" else "the other system"


# --- what a waiting run waits for ------------------------------------------------------------


@dataclass(frozen=True)
class Wait:
    """Why a run is parked, since when, and when it moves again."""

    kind: str  # a StepRun.WaitKind value
    step: StepRun
    since: datetime | None
    next_at: datetime | None
    service: str = "Cartly"
    reason: str = ""

    @property
    def on_service(self) -> bool:
        """Held by a failing service (a retry, an open circuit): "Waiting for Cartly since …"."""
        return self.kind in WAITS_FOR_SERVICE

    @property
    def dom_id(self) -> str:
        """The id of the step's card on the run page (views_runs.step_view)."""
        return self.step.where.replace(".", "-")

    @property
    def can_retry_now(self) -> bool:
        return self.kind in RETRY_NOW_KINDS and self.step.kind == StepRun.Kind.OPERATION


def open_circuits(shop_ids) -> dict[str, ShopCircuit]:
    """The open circuits of these shops by shop id, in one query (the dashboard's shops)."""
    keys = {ratelimit.shop_key(shop_id): shop_id for shop_id in shop_ids if shop_id}
    held = ShopCircuit.objects.filter(shop_key__in=list(keys), state=ShopCircuit.State.OPEN)
    return {keys[found.shop_key]: found for found in held}


def wait_of(run: Run, rows: list[StepRun], circuits: dict | None = None) -> Wait | None:
    """What the run waits for, or None when it does not wait. `circuits` (open_circuits) saves
    a query per run when many are shown."""
    step = waiting_step(rows) if run.status == Run.Status.WAITING else None
    if step is None:
        return None
    since = step.first_attempt_at or step.started_at
    next_at = step.next_attempt_at
    kind = step.wait_kind or StepRun.WaitKind.RETRY
    if kind == StepRun.WaitKind.CIRCUIT:
        shop_id = run.recipe.connection.shop_id
        if circuits is None:
            circuits = open_circuits([shop_id])
        held = circuits.get(shop_id)
        if held is not None:
            since = held.opened_at or since
            next_at = next_at or held.probe_at
    return Wait(kind, step, since, next_at, service_of(step), step.error)


# --- what a replay repeats -------------------------------------------------------------------


def _is_action(operation: str) -> bool:
    try:
        return isinstance(registry.get(operation), Action)
    except registry.UnknownOperation:
        return False


def replay_repeats(rows: list[StepRun]) -> list[str]:
    """The actions this run performed, in words; a replay performs them again (new keys)."""
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        if row.status == StepRun.Status.SUCCEEDED and _is_action(row.operation):
            counts[(row.key, row.operation)] = counts.get((row.key, row.operation), 0) + 1
    found = []
    for (key, operation), count in counts.items():
        times = f", {count} times" if count > 1 else ""
        found.append(f"{registry.get(operation).label} ({key}){times}")
    return found


# --- which actions the page offers -----------------------------------------------------------


@dataclass
class Offer:
    """The buttons of the run page, in order of importance."""

    retry_step: StepRun | None = None  # "Retry from the failed step" (the primary action)
    versions_differ: bool = False  # offer "current" beside "original"
    wait: Wait | None = None
    cancel: bool = False
    replay: bool = False
    replay_tucked: bool = False  # succeeded: replaying is rarely wanted, so out of the way
    repeats: list[str] = field(default_factory=list)
    fixed_by: Run | None = None


def fixed_by(run: Run) -> Run | None:
    """A later run of the same event and recipe that succeeded: this failure is fixed."""
    if run.status != Run.Status.FAILED:
        return None
    return (
        Run.objects.filter(
            recipe_id=run.recipe_id, event_id=run.event_id, status=Run.Status.SUCCEEDED
        )
        .exclude(pk=run.pk)
        .order_by("created_at", "id")
        .first()
    )


def offer(run: Run, rows: list[StepRun]) -> Offer:
    found = Offer(wait=wait_of(run, rows), fixed_by=fixed_by(run))
    if run.status == Run.Status.FAILED:
        found.retry_step = failed_step(rows)
        found.versions_differ = run.recipe_version != run.recipe.version
    found.cancel = run.status == Run.Status.WAITING
    found.replay = run.status in Run.FINISHED
    found.replay_tucked = run.status == Run.Status.SUCCEEDED
    found.repeats = replay_repeats(rows)
    return found


# --- doing it --------------------------------------------------------------------------------


def retry(run: Run, version: str = ORIGINAL) -> StepRun:
    """Retry from the failed step with the run's own version or the recipe's current one.

    Raises replay.CannotRetry (with the reason) when the run cannot go on from there.
    """
    use_current = version == CURRENT and run.recipe_version != run.recipe.version
    if use_current:
        save_version(run.recipe)  # a recipe edited row by row may lack its snapshot
    return replay.retry_from_failed_step(run, use_current_version=use_current)


def retry_now(run: Run) -> StepRun:
    """A step that only waits for its next turn is due at once; NotNow says why not."""
    wait = wait_of(run, ordered_rows(run))
    if wait is None:
        raise NotNow("This run is not waiting, so there is nothing to retry now.")
    if not wait.can_retry_now:
        raise NotNow(not_now_reason(wait))
    replay.retry_now(run)
    return wait.step


def not_now_reason(wait: Wait) -> str:
    if wait.kind == StepRun.WaitKind.CIRCUIT:
        return (
            f"{wait.service} keeps failing, so every step of this shop waits for it "
            "together and goes on as soon as it answers again."
        )
    if wait.kind == StepRun.WaitKind.RECONNECT:
        return "The shop needs reconnecting first; the run goes on once you reconnect it."
    return "A delay waits until its time; cancel the run if it should not go on."


def cancel(run: Run) -> bool:
    """Stop a waiting run for good; NotNow (with the reason) when it is not waiting."""
    if run.status != Run.Status.WAITING:
        raise NotNow(
            f"Only a waiting run can be canceled; this one is {run.get_status_display().lower()}."
        )
    return replay.cancel_run(run)


# --- the dashboard ---------------------------------------------------------------------------


def waiting_on_service(user, circuits: dict, limit: int) -> list[Wait]:
    """The user's runs held by a failing Cartly (or other system): retries and open circuits,
    the longest-waiting first (one query; `circuits` from open_circuits)."""
    steps = (
        StepRun.objects.filter(
            run__recipe__owner=user,
            status=StepRun.Status.WAITING,
            run__status=Run.Status.WAITING,
            wait_kind__in=WAITS_FOR_SERVICE,
        )
        .select_related("run__recipe__connection")
        .order_by("first_attempt_at", "id")
    )
    waits = [wait_of(step.run, [step], circuits) for step in steps[:limit]]
    return [wait for wait in waits if wait is not None]
