"""A task that does nothing: the throughput benchmark's measure of what the broker and the
worker pool alone can do on this machine (bench/settings.py imports it into the worker)."""

from celery import shared_task

NOOP = "bench.noop"


@shared_task(name=NOOP)
def noop(index: int) -> None:
    return None
