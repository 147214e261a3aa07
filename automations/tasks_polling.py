"""Celery shells of polling, reconciliation, sweeps and the resume after a reconnect.

Beat publishes the `*_all` and `sweep_*` tasks (settings.CELERY_BEAT_SCHEDULE); none of them
can double an effect: a poll holds its cursor under a lease and every polled change meets the
inbox's unique dedupe key; a reconciliation retires a vanished row with a conditional UPDATE
and registers through the subscriptions' own claims; the sweeps claim rows before they nudge
them and the engine's claims refuse a second copy of any message they send.
"""

from celery import shared_task
from django.utils.dateparse import parse_datetime

from automations import polling, reconcile, sweeps
from connectors.models import Connection


@shared_task(name="automations.poll_all")
def poll_all() -> int:
    """For beat: one poll_listing per (connection, resource, cursor kind) that is needed."""
    return len(polling.poll_all())


@shared_task(name=polling.POLL_LISTING)
def poll_listing(connection_id: int, resource: str, kind: str, since: dict[str, str]) -> int:
    """Read one listing once (a copy finds the cursor leased); how many events were new."""
    wanted = {event: parse_datetime(when) for event, when in since.items()}
    listing = polling.Listing(connection_id, resource, kind)
    return polling.poll_listing(listing, {k: v for k, v in wanted.items() if v is not None})


@shared_task(name="automations.reconcile_all")
def reconcile_all() -> int:
    """For beat: one reconcile_connection per active connection."""
    return len(reconcile.reconcile_all())


@shared_task(name=reconcile.RECONCILE_CONNECTION)
def reconcile_connection(connection_id: int) -> int:
    """Compare one connection's hooks at Cartly with ours and repair; how many repairs."""
    connection = Connection.objects.filter(pk=connection_id).first()
    if connection is None:
        return 0
    return len(reconcile.reconcile_connection(connection))


@shared_task(name="automations.sweep_events")
def sweep_events() -> int:
    """Dispatch events left `received` (their publish was lost); how many runs were made."""
    return len(sweeps.sweep_events())


@shared_task(name="automations.sweep_runs")
def sweep_runs() -> int:
    """Nudge runs that stopped moving, or fail them after a cap; how many were touched."""
    return len(sweeps.sweep_runs())


@shared_task(name="automations.sweep_waiting_steps")
def sweep_waiting_steps() -> int:
    """Publish steps whose retry, parked in the database, is due; how many were sent."""
    return len(sweeps.sweep_waiting_steps())
