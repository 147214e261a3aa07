"""Runs: list with filters (paginated), read one with its step runs; replay, retry from the
failed step, retry a waiting step now, cancel a waiting run."""

from datetime import datetime

from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Status
from ninja.errors import HttpError

from automations import run_page
from automations.api.schemas import ErrorOut, ReplayIn, RetryIn, RunDetailOut, RunOut, RunPage
from automations.documents import save_version
from automations.engine.replay import CannotRetry
from automations.models import RecipeVersion, Run

router = Router(tags=["runs"])

# Big enough for a dashboard page, small enough that a page of runs stays one quick query.
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50


def aware(moment: datetime | None) -> datetime | None:
    # A time without an offset is read in the server's zone rather than rejected.
    if moment is not None and timezone.is_naive(moment):
        return timezone.make_aware(moment)
    return moment


def search(runs: QuerySet, q: str) -> QuerySet:
    """Runs whose event is about an order number (1001, #1001), an email or an object id."""
    q = q.strip().removeprefix("#")
    match = (
        Q(event__object_id=q)
        | Q(event__payload__email__iexact=q)
        | Q(event__payload__customer__email__iexact=q)
    )
    if q.isdigit():
        match |= Q(event__payload__number=int(q))
    return runs.filter(match)


def run_of(request: HttpRequest, run_id: int) -> Run:
    run = (
        Run.objects.select_related("recipe", "event")
        .filter(recipe__owner=request.auth, pk=run_id)
        .first()
    )
    if run is None:
        raise HttpError(404, f"No run {run_id}")
    return run


@router.get("/runs", response={200: RunPage})
def list_runs(
    request: HttpRequest,
    recipe: int | None = None,
    status: Run.Status | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    q: str | None = None,
    limit: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE),
    offset: int = Query(0, ge=0),
):
    """Newest first. `q` finds an order number or an email in the event's data."""
    runs = Run.objects.filter(recipe__owner=request.auth).select_related("recipe", "event")
    if recipe is not None:
        runs = runs.filter(recipe_id=recipe)
    if status is not None:
        runs = runs.filter(status=status)
    if since is not None:
        runs = runs.filter(created_at__gte=aware(since))
    if until is not None:
        runs = runs.filter(created_at__lt=aware(until))
    if q and q.strip():
        runs = search(runs, q)
    items = list(runs.order_by("-created_at", "-id")[offset : offset + limit])
    return {"count": runs.count(), "limit": limit, "offset": offset, "items": items}


@router.get("/runs/{run_id}", response={200: RunDetailOut, 404: ErrorOut})
def get_run(request: HttpRequest, run_id: int):
    return run_of(request, run_id)


@router.post("/runs/{run_id}/replay", response={201: RunOut, 404: ErrorOut, 409: ErrorOut})
def replay(request: HttpRequest, run_id: int, payload: ReplayIn):
    """Run the same event again, with the run's own recipe version or the current one."""
    from automations.engine.replay import replay_run  # the engine's, written separately

    run = run_of(request, run_id)
    use_current = payload.version == "current"
    if use_current:
        save_version(run.recipe)  # a recipe edited row by row may lack its snapshot
    try:
        new_run = replay_run(run, use_current_version=use_current)
    except RecipeVersion.DoesNotExist:
        raise HttpError(409, "That version of the recipe is no longer stored") from None
    return Status(201, Run.objects.select_related("recipe", "event").get(pk=new_run.pk))


def _detail(run_id: int) -> Run:
    return Run.objects.select_related("recipe", "event").get(pk=run_id)


@router.post("/runs/{run_id}/retry", response={200: RunDetailOut, 404: ErrorOut, 409: ErrorOut})
def retry(request: HttpRequest, run_id: int, payload: RetryIn):
    """Retry a failed run from its failed step; earlier steps' outputs are kept. With
    `"version": "current"` the failed step is rendered again from the recipe as it is now."""
    run = run_of(request, run_id)
    try:
        run_page.retry(run, payload.version)
    except (CannotRetry, RecipeVersion.DoesNotExist) as exc:
        raise HttpError(409, str(exc) or "That version of the recipe is no longer stored") from None
    return _detail(run.pk)


@router.post("/runs/{run_id}/retry-now", response={200: RunDetailOut, 404: ErrorOut, 409: ErrorOut})
def retry_now(request: HttpRequest, run_id: int):
    """A step that waits for its next retry is tried at once (409 with the reason when the
    run waits for something a retry cannot hurry: a delay, an open circuit, a reconnect)."""
    run = run_of(request, run_id)
    try:
        run_page.retry_now(run)
    except run_page.NotNow as exc:
        raise HttpError(409, str(exc)) from None
    return _detail(run.pk)


@router.post("/runs/{run_id}/cancel", response={200: RunDetailOut, 404: ErrorOut, 409: ErrorOut})
def cancel(request: HttpRequest, run_id: int):
    """Stop a waiting run (a delay, a retry later): nothing more of it runs."""
    run = run_of(request, run_id)
    try:
        run_page.cancel(run)
    except run_page.NotNow as exc:
        raise HttpError(409, str(exc)) from None
    return _detail(run.pk)
