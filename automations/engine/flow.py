"""The decisions of the steps that call nothing: which paths run, what a loop goes over, how
long a delay waits. The walk (walk.py) makes each decision once and keeps it in a row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from automations.engine import conditions, render

DELAY_UNITS = {"minutes": 60, "hours": 3600, "days": 86400}
# Longer waits belong to a scheduled recipe, not to a run held open for weeks.
MAX_DELAY = timedelta(days=30)
# A loop never goes over more than this, whatever a step asks (each item is a row and a call).
MAX_LOOP_ITEMS_CEILING = 500
FILTER_PREFIX = "Stopped by filter: "


class FlowError(Exception):
    """The step cannot decide (a list that is not one, a time that is not one): it fails."""


def shown(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


# -- delay -----------------------------------------------------------------------------------


def _parse_moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise FlowError(
            f'"Wait until": {text[:60]!r} is not a date and time '
            "(ISO 8601, e.g. 2026-12-01T09:00:00Z)"
        ) from None
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


def delay_until(spec: dict[str, Any], context: dict, now: datetime) -> datetime:
    """When a delay step's wait ends: N units from now, or a time from the data."""
    if "for" in spec:
        amount, unit = spec["for"].get("amount"), spec["for"].get("unit", "minutes")
        until = now + timedelta(seconds=float(amount) * DELAY_UNITS[unit])
    else:
        try:
            text = render.render_field(spec["until"], context, label="Wait until")
        except render.RenderError as exc:
            raise FlowError(str(exc)) from exc
        until = _parse_moment(text)
    if until - now > MAX_DELAY:
        raise FlowError(
            f"The wait would end {shown(until)}, more than {MAX_DELAY.days} days "
            "from now, which is longer than a delay may wait."
        )
    return until


# -- paths -----------------------------------------------------------------------------------


def choose_paths(spec: dict[str, Any], context: dict) -> dict[str, Any]:
    """Which branches run and why each did or did not; raises ConditionError when broken."""
    run_all = spec.get("run", "first") == "all"
    taken: list[int] = []
    branches = []
    for index, branch in enumerate(spec.get("branches") or []):
        label = branch.get("label") or f"Path {index + 1}"
        if taken and not run_all:
            branches.append(
                {"label": label, "matched": None, "reason": "Not checked: an earlier path ran."}
            )
            continue
        result = conditions.evaluate(
            branch.get("conditions") or [], context, match=branch.get("match", "all")
        )
        reason = result.reason.removeprefix(FILTER_PREFIX) if not result.passed else ""
        branches.append({"label": label, "matched": result.passed, "reason": reason})
        if result.passed:
            taken.append(index)
    otherwise = not taken and bool(spec.get("otherwise"))
    ran = [branches[i]["label"] for i in taken] + (["Otherwise"] if otherwise else [])
    return {"taken": taken, "otherwise": otherwise, "ran": ran, "branches": branches}


# -- loops -----------------------------------------------------------------------------------


def max_items(spec: dict[str, Any]) -> int:
    wanted = spec.get("max_items") or settings.ENGINE_LOOP_MAX_ITEMS
    return max(1, min(int(wanted), MAX_LOOP_ITEMS_CEILING))


def loop_items(spec: dict[str, Any], context: dict, lists: dict[str, list]) -> tuple[list, int]:
    """The items a loop goes over (at most its cap) and how many there were in all."""
    path = str(spec.get("over") or "").strip()
    parts = path.split(".")
    if len(parts) == 2 and parts[0] == "steps" and parts[1] in lists:
        value: Any = lists[parts[1]]  # every match of a search, not only the first
    else:
        value = conditions.resolve(context, path)
    if value is conditions.MISSING:
        raise FlowError(f'The list to go over, "{path}", is not in the data.')
    if not isinstance(value, list):
        kind = "an object" if isinstance(value, dict) else f"{type(value).__name__} text"
        raise FlowError(f'"{path}" is {kind}, not a list, so there is nothing to go over.')
    cap = max_items(spec)
    return value[:cap], len(value)


def loop_summary(count: int, total: int) -> dict[str, Any]:
    summary: dict[str, Any] = {"count": count, "total": total}
    if total > count:
        summary["skipped"] = total - count
        summary["note"] = (
            f"Only the first {count} of {total} items were gone over: a loop takes at most {count}."
        )
    return summary
