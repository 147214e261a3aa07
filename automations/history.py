"""Queries behind the merchant's pages: run history (filters, search), the dashboard's chart.

Plain functions over querysets so tests can call them; the views only read request
parameters and render. Every function scopes by owner: nothing crosses users.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from automations.models import Recipe, Run
from automations.models_runs import elapsed_ms

# Days the dashboard's chart covers: two weeks show a weekly rhythm twice.
CHART_DAYS = 14
# Bottom-to-top stacking order and colours of the chart; queued/running are "in progress".
CHART_SERIES = (
    ("succeeded", "Succeeded", "#067647"),
    ("failed", "Failed", "#b42318"),
    ("halted", "Halted", "#8a5a00"),
    ("filtered", "Filtered", "#98a2b3"),
    ("canceled", "Canceled", "#475467"),
    ("in_progress", "In progress", "#0b6bcb"),
)
# Waiting (a delay, a retry later) is a run still on its way, as far as the chart goes.
IN_PROGRESS = (Run.Status.QUEUED, Run.Status.RUNNING, Run.Status.WAITING)
# Shortest text worth a "contains" search on emails (a single letter matches everything).
MIN_EMAIL_SEARCH = 3


@dataclass(frozen=True)
class RunFilters:
    """What the run history is narrowed to; every part optional."""

    recipe_id: int | None = None
    status: str = ""
    since: date | None = None
    until: date | None = None  # inclusive: the whole day
    q: str = ""


def runs_of(user) -> QuerySet:
    return Run.objects.filter(recipe__owner=user)


def start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def search(runs: QuerySet, q: str) -> QuerySet:
    """Runs whose event is about order number `q` (1001 or #1001) or an email containing `q`.

    JSONField key lookups compile to JSON operators on PostgreSQL and JSON_EXTRACT on SQLite.
    """
    q = q.strip()
    if not q:
        return runs
    number = q.removeprefix("#").strip()
    match = Q(event__object_id=q)
    if number.isdigit():
        # Cartly sends numbers as JSON numbers; a string form is accepted too.
        match |= Q(event__payload__number=int(number)) | Q(event__payload__number=number)
    if len(q) >= MIN_EMAIL_SEARCH:
        match |= Q(event__payload__email__icontains=q)
        match |= Q(event__payload__customer__email__icontains=q)
    return runs.filter(match)


def filter_runs(user, filters: RunFilters) -> QuerySet:
    """The user's runs narrowed by `filters`, newest first, ready for one page of rows."""
    runs = runs_of(user)
    if filters.recipe_id:
        runs = runs.filter(recipe_id=filters.recipe_id)
    if filters.status:
        runs = runs.filter(status=filters.status)
    if filters.since:
        runs = runs.filter(created_at__gte=start_of(filters.since))
    if filters.until:
        runs = runs.filter(created_at__lt=start_of(filters.until + timedelta(days=1)))
    runs = search(runs, filters.q)
    # The raw body can be large and no row shows it; the payload gives the order and email.
    return (
        runs.select_related("recipe", "event")
        .defer("event__raw_body")
        .order_by("-created_at", "-id")
    )


def run_summary(run: Run) -> dict:
    """What identifies a run's trigger to a merchant: order number, email, object id."""
    payload = run.event.payload if isinstance(run.event.payload, dict) else {}
    customer = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    return {
        "number": payload.get("number"),
        "email": payload.get("email") or customer.get("email") or "",
        "object_id": run.event.object_id,
    }


@dataclass(frozen=True)
class RunTimes:
    """A run's times as one consistent story: a run that finished without a worker starting it
    (its filter stopped it at dispatch) started when it was created."""

    created: datetime
    started: datetime | None
    finished: datetime | None

    @property
    def duration_ms(self) -> int | None:
        if self.started is None or self.finished is None:
            return None
        return elapsed_ms(self.started, self.finished)


def run_times(run: Run) -> RunTimes:
    started = run.started_at or (run.created_at if run.finished_at else None)
    return RunTimes(run.created_at, started, run.finished_at)


def unfixed_failures(runs: QuerySet) -> QuerySet:
    """Failed runs that no run of the same event fixed since: a retry turns the run itself
    from failed into succeeded; a replay that succeeded is another run of the same event."""
    fixed = Run.objects.filter(
        recipe_id=OuterRef("recipe_id"), event_id=OuterRef("event_id"), status=Run.Status.SUCCEEDED
    )
    return runs.filter(status=Run.Status.FAILED).filter(~Exists(fixed))


def recent_failures(user, limit: int = 5) -> list[Run]:
    """The dashboard's failures: the newest failed runs that are still failures."""
    return list(
        unfixed_failures(runs_of(user))
        .select_related("recipe")
        .order_by("-created_at", "-id")[:limit]
    )


def recipes_of(user) -> QuerySet:
    return (
        Recipe.objects.filter(owner=user, deleted_at__isnull=True)
        .select_related("connection")
        .order_by("name", "id")
    )


# --- the chart ------------------------------------------------------------------------------


def series_of(status: str) -> str:
    return "in_progress" if status in IN_PROGRESS else status


def runs_per_day(user, today: date | None = None, days: int = CHART_DAYS) -> list[dict]:
    """One dict per day (oldest first): {"day": date, "counts": {series: n}, "total": n}.

    One query: runs grouped by (day, status) with the database's own date truncation.
    """
    today = today or timezone.localdate()
    first = today - timedelta(days=days - 1)
    rows = (
        runs_of(user)
        .filter(created_at__gte=start_of(first), created_at__lt=start_of(today + timedelta(days=1)))
        .annotate(day=TruncDate("created_at"))
        .values("day", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    keys = [series[0] for series in CHART_SERIES]
    by_day = {first + timedelta(days=i): dict.fromkeys(keys, 0) for i in range(days)}
    for row in rows:
        day = row["day"]
        if isinstance(day, datetime):  # some backends hand back a datetime
            day = day.date()
        if day in by_day:
            by_day[day][series_of(row["status"])] += row["n"]
    return [
        {"day": day, "counts": counts, "total": sum(counts.values())}
        for day, counts in by_day.items()
    ]


@dataclass
class Chart:
    """The stacked bar chart as percentages of the plot's height, so the page draws it with
    plain boxes that take the card's whole width at any screen size."""

    max_total: int
    bars: list[dict] = field(default_factory=list)
    legend: list[dict] = field(default_factory=list)
    ticks: list[dict] = field(default_factory=list)
    total: int = 0
    description: str = ""


def nice_max(value: int) -> int:
    """A round top for the axis (1, 2, 5 × 10ⁿ) at or above `value`."""
    top = 1
    while True:
        for step in (1, 2, 5):
            if step * top >= value:
                return step * top
        top *= 10


def _percent(n: int, top: int) -> float:
    return round(n * 100 / top, 2)


def _segments(counts: dict, top: int) -> list[dict]:
    """Bottom to top, one box per status with runs that day."""
    return [
        {
            "key": key,
            "label": label,
            "colour": colour,
            "n": counts[key],
            "pct": _percent(counts[key], top),
        }
        for key, label, colour in CHART_SERIES
        if counts[key]
    ]


def build_chart(days: list[dict]) -> Chart:
    top = nice_max(max([d["total"] for d in days] + [1]))
    chart = Chart(top, total=sum(d["total"] for d in days))
    for d in days:
        chart.bars.append(
            {
                "day": d["day"],
                "total": d["total"],
                "counts": d["counts"],
                "segments": _segments(d["counts"], top),
            }
        )
    chart.legend = [
        {"key": key, "label": label, "colour": colour} for key, label, colour in CHART_SERIES
    ]
    values = (0, top // 2, top) if top > 1 else (0, top)
    chart.ticks = [{"value": value, "pct": _percent(value, top)} for value in values]
    chart.description = describe(days)
    return chart


def describe(days: list[dict]) -> str:
    """The chart in words, for screen readers: the total, then each day that had runs."""
    total = sum(d["total"] for d in days)
    parts = [f"{total} run{'s' if total != 1 else ''} in all."]
    for d in days:
        if d["total"]:
            counts = ", ".join(
                f"{d['counts'][key]} {label.lower()}"
                for key, label, _ in CHART_SERIES
                if d["counts"][key]
            )
            parts.append(f"{d['day']:%b} {d['day'].day}: {counts}.")
    return " ".join(parts)
