"""Run the engine's clock on its own (automations/engine/clock.py), in the foreground.

Every Celery worker process runs a clock by default; a deployment that sets
ENGINE_CLOCK_IN_WORKER=0 runs this command instead, once or several times (their claims share
the work). Stops on SIGTERM or Ctrl-C after the tick in progress.
"""

import signal
import threading

from django.core.management.base import BaseCommand

from automations.engine.clock import Clock


class Command(BaseCommand):
    help = "Dispatch stored events and start due steps until stopped (the engine's clock)."

    def handle(self, *args, **options):
        clock = Clock()
        stopped = threading.Event()

        def stop(signum, frame):
            stopped.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        clock.start()
        self.stdout.write("Engine clock running; stop with Ctrl-C.")
        while not stopped.wait(1.0):
            if not clock.is_alive():
                raise SystemExit("The engine clock stopped unexpectedly; see the log.")
        clock.stop()
        self.stdout.write("Engine clock stopped.")
