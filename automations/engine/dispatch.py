"""Dispatch: turn one stored event into one run per matching recipe, exactly once.

The claim (a conditional UPDATE from `received`) makes a redelivered or swept copy of the
message a no-op, and Run's unique (recipe, event) makes a second run impossible even if two
dispatchers raced past it.
"""

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from automations.engine.match import matching_recipes
from automations.engine.runs import prepare_run
from automations.models import Event, Run


def claim_event(event_id: int) -> Event | None:
    claimed = Event.objects.filter(pk=event_id, status=Event.Status.RECEIVED).update(
        status=Event.Status.DISPATCHED,
        dispatched_at=timezone.now(),
        dispatch_attempts=F("dispatch_attempts") + 1,
    )
    if not claimed:
        return None
    return Event.objects.select_related("connection").get(pk=event_id)


@transaction.atomic
def dispatch_event(event_id: int) -> list[int]:
    """Create and start the runs of one event; returns the new runs' ids."""
    event = claim_event(event_id)
    if event is None:
        return []
    recipes = list(matching_recipes(event))
    if not recipes:
        return []
    Run.objects.bulk_create(
        [Run(recipe_id=rid, event=event, recipe_version=version) for rid, version in recipes],
        ignore_conflicts=True,  # the unique (recipe, event) constraint is the last guard
    )
    runs = list(
        Run.objects.filter(event=event, replay_of=None, status=Run.Status.QUEUED)
        .select_related("event")
    )
    for run in runs:
        prepare_run(run)
    return [run.pk for run in runs]
