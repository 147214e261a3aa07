"""The sandbox's background loop: sends due deliveries and abandons idle carts.

One thread polls every SANDBOX_DELIVERY_POLL_SECONDS (at once again while busy), claims about
as many due deliveries as it has free senders, and hands them to a pool of
SANDBOX_DELIVERY_WORKERS threads; so one slow receiver (up to the timeout) never holds the others
up.
"""

import logging
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from django.conf import settings
from django.db import close_old_connections, connection

from sandbox import delivery, shop

log = logging.getLogger(__name__)

CART_CHECK_SECONDS = 1.0  # carts idle for seconds to minutes: a check a second is plenty
# Claimed deliveries per sender: one sending, one queued (delivery.lease_seconds covers both).
BACKLOG_PER_SENDER = 2


def _in_own_connection(func, *args):
    """Run `func` in a pool thread with a fresh, then released, database connection."""
    close_old_connections()
    try:
        return func(*args)
    except Exception:
        log.exception("%s%r failed", getattr(func, "__name__", func), args)
        return None
    finally:
        connection.close()


class DeliveryWorker:
    def __init__(self, workers: int | None = None, poll_seconds: float | None = None) -> None:
        self.workers = workers or settings.SANDBOX_DELIVERY_WORKERS
        self.poll_seconds = poll_seconds or settings.SANDBOX_DELIVERY_POLL_SECONDS
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._in_flight: dict[Future, int] = {}  # future → the delivery id it sends
        self._last_cart_check = 0.0

    def start(self) -> None:
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="sandbox-delivery")
        self._thread = threading.Thread(target=self._run, name="sandbox-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop polling, let in-flight sends finish (each is bounded by the timeout)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        # Claims still queued were never attempted: hand them back rather than let their lease
        # delay them past a restart.
        for future, delivery_id in list(self._in_flight.items()):
            if future.cancelled():
                delivery.release(delivery_id)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if self.tick():
                    # Busy: go again as soon as a sender frees up, not a whole poll later.
                    wait(self._in_flight, self.poll_seconds, return_when=FIRST_COMPLETED)
                else:
                    self._stop.wait(self.poll_seconds)
        finally:
            connection.close()

    def tick(self) -> bool:
        """One pass; True if it handed out work. An error (a locked database, say) never ends
        the thread: the next pass tries again."""
        try:
            close_old_connections()
            self._check_carts()
            return self._dispatch() > 0
        except Exception:
            log.exception("sandbox worker pass failed; trying again")
            connection.close()
            return False

    def _check_carts(self) -> None:
        now = time.monotonic()
        if now - self._last_cart_check < CART_CHECK_SECONDS:
            return
        self._last_cart_check = now
        fired = shop.abandon_due_carts()
        if fired:
            log.info("%d cart(s) abandoned", fired)

    def _dispatch(self) -> int:
        """Claim what the senders can take now, plus one queued each so none waits for us."""
        self._in_flight = {f: pk for f, pk in self._in_flight.items() if not f.done()}
        free = BACKLOG_PER_SENDER * self.workers - len(self._in_flight)
        if free <= 0 or self._pool is None:
            return 0
        claimed = delivery.claim_due(free)
        for delivery_id in claimed:
            future = self._pool.submit(_in_own_connection, delivery.send, delivery_id)
            self._in_flight[future] = delivery_id
        return len(claimed)
