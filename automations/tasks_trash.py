"""Celery shell of the trash's purge (automations/trash.py)."""

from celery import shared_task

from automations import trash


@shared_task(name="automations.purge_trash")
def purge_trash() -> int:
    """For beat: delete recipes in the trash past the retention. Deleting twice is harmless."""
    return trash.purge_expired()
