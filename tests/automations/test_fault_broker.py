"""The broker goes away and comes back empty: every stored event still runs exactly once.

A private redis-server is the broker of a real prefork worker. It is stopped while step messages
wait in it (they are lost: nothing is saved) and while events keep arriving, then started again
on the same port. The engine's clock needs no broker to dispatch stored events; the step
messages that were lost are sent again by the clock once their rows pass their "lost after"
time (shortened here from 30 to 5 seconds).
"""

import pytest

from automations.models import StepRun
from tests.automations.conftest import wait_for
from tests.automations.faults import all_succeeded, recipe_of, restock, stock, store_events
from tests.automations.faults import variants as some_variants
from tests.automations.receiver_servers import PrivateRedis

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# One step per message and a slow shop, so that messages queue up in the broker to be lost.
QUEUEING = {"ENGINE_STEP_BATCH_SIZE": 1, "ENGINE_DISPATCH_BATCH_SIZE": 1}
# A published step not taken within this is sent again (production: 30 s).
LOST_AFTER = {"ENGINE_STEP_LOST_AFTER_SECONDS": 5}
SLOW_CALL_MS = 700
QUEUED_TO_LOSE = 3


@pytest.fixture
def private_redis(tmp_path):
    """The test's own redis-server (never the shared one): stopping it loses what it held."""
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_every_event_runs_once_across_a_broker_crash_and_restart(
    sandbox, connection, private_redis, celery_processes
):
    variant = some_variants(connection, 1)[0]
    recipe_of(connection, restock(variant))
    worker = celery_processes.worker(REDIS_URL=private_redis.url, **QUEUEING, **LOST_AFTER)
    before = stock(connection)[variant]
    sandbox.set_faults(fault_latency_ms=SLOW_CALL_MS)
    try:
        early = store_events(connection, 8)
        wait_for(lambda: private_redis.queued() >= QUEUED_TO_LOSE, "messages queued")
        private_redis.stop()  # the queued messages (and the one in hand) are gone
        during = store_events(connection, 4)  # the receiver stores them without the broker
        wait_for(lambda: all_dispatched(during), "the clock to dispatch without a broker")
    finally:
        sandbox.reset_faults()
    private_redis.start()

    events = early + during
    wait_for(lambda: all_succeeded(events), "every event's run after the broker came back")
    assert stock(connection)[variant] == before + len(events)
    assert set(StepRun.objects.filter(run__event__in=events).values_list("status", flat=True)) == {
        StepRun.Status.SUCCEEDED
    }
    assert "could not publish" in worker.log_text()  # the outage was met, not avoided
    assert worker.process.poll() is None  # and lived through without a restart


def all_dispatched(events) -> bool:
    return StepRun.objects.filter(run__event__in=events, key="restock").count() == len(events)
