"""A database blip heals by itself: a real prefork worker whose PostgreSQL sessions the server
terminated (as a restart or a failover does) runs the next events without being restarted."""

import pytest
from django.db import connection as database

from tests.automations.conftest import wait_for
from tests.automations.faults import all_succeeded, recipe_of, restock, stock, store_events
from tests.automations.faults import variants as some_variants

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def postgresql(db):
    if database.vendor != "postgresql":
        pytest.skip(
            "pg_terminate_backend needs PostgreSQL: run with DATABASE_URL=postgres://… (CI does)"
        )


def sessions_of(application_name: str) -> list[int]:
    """The server's pids of every session the worker opened (its own application_name)."""
    with database.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [application_name]
        )
        return sorted(pid for (pid,) in cursor.fetchall())


def terminate(pids: list[int]) -> None:
    with database.cursor() as cursor:
        for pid in pids:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_a_worker_whose_sessions_were_terminated_runs_new_events_without_a_restart(
    postgresql, connection, celery_processes
):
    variant = some_variants(connection, 1)[0]
    recipe_of(connection, restock(variant))
    worker = celery_processes.worker()
    before = stock(connection)[variant]
    first = store_events(connection, 1)
    wait_for(lambda: all_succeeded(first), "the first run (the worker's sessions are open)")
    pool = worker.children()
    # The clock's thread and the task's thread each hold one, kept between tasks.
    old = wait_for(lambda: sessions_of(celery_processes.application_name), "its sessions")

    terminate(old)
    wait_for(
        lambda: not set(old) & set(sessions_of(celery_processes.application_name)),
        "the terminated sessions to be gone",
    )
    after = store_events(connection, 3)

    wait_for(lambda: all_succeeded(after), "the runs of the events stored after the blip")
    assert stock(connection)[variant] == before + 4
    assert worker.process.poll() is None and worker.children() == pool  # never restarted
    assert "database error" in worker.log_text()  # the clock met the blip and backed off
