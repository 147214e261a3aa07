"""Start the engine's clock (automations/engine/clock.py) inside Celery worker processes.

With the prefork pool the clock runs in each pool child, started by `worker_process_init`:
never in the parent, which forks children while it runs, and a child would inherit (and on
exit close) the parent's database socket. With the threads or solo pool the worker is one
process, and a bootstep starts the clock there. ENGINE_CLOCK_IN_WORKER=0 turns both off (for
a deployment that runs `manage.py engine_clock` on its own instead, or none).
"""

from __future__ import annotations

from celery import bootsteps
from celery.signals import worker_process_init, worker_process_shutdown

_clock = None


def _enabled() -> bool:
    from django.conf import settings

    return bool(settings.ENGINE_CLOCK_IN_WORKER)


def start_clock() -> None:
    global _clock
    from automations.engine.clock import Clock

    if _clock is None or not _clock.is_alive():
        _clock = Clock()
        _clock.start()


def stop_clock() -> None:
    global _clock
    if _clock is not None:
        _clock.stop()
        _clock = None


class EngineClockStep(bootsteps.StartStopStep):
    """The clock of a worker whose tasks run in its own process (threads or solo pool)."""

    requires = {"celery.worker.components:Pool"}

    def start(self, worker) -> None:
        if _enabled() and "prefork" not in type(worker.pool).__module__:
            start_clock()

    def stop(self, worker) -> None:
        stop_clock()

    def terminate(self, worker) -> None:  # a cold shutdown stops the clock all the same
        stop_clock()


@worker_process_init.connect(dispatch_uid="automations.clock_in_pool_child")
def _start_in_child(**kwargs) -> None:
    if _enabled():
        start_clock()


@worker_process_shutdown.connect(dispatch_uid="automations.clock_stop_in_pool_child")
def _stop_in_child(**kwargs) -> None:
    stop_clock()
