"""Fixtures for engine tests that need the whole path: a connected shop, our server reachable
by the sandbox, and a real Celery worker consuming from the real broker."""

import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.contrib.auth.models import User

from config.celery import app as celery_app
from connectors import connections
from connectors.cartly.constants import CARTLY_SCOPES
from connectors.models import Connection
from tests.automations.worker_process import celery_processes  # noqa: F401 (a fixture)

if celery_app.conf.broker_url.startswith("filesystem"):
    # Tests never share a queue folder with a `make run` on the same checkout. The layout is
    # config/settings.py's, so a worker process given CELERY_FILESYSTEM_DIR=<folder> consumes
    # what this process publishes (tests/automations/worker_process.py).
    _folder = Path(tempfile.mkdtemp(prefix="engine-test-broker-"))
    for _sub in ("queue", "processed", "control"):
        (_folder / _sub).mkdir()
    celery_app.conf.broker_transport_options = {
        "data_folder_in": str(_folder / "queue"),
        "data_folder_out": str(_folder / "queue"),
        "processed_folder": str(_folder / "processed"),
        "store_processed": False,
        "control_folder": str(_folder / "control"),
    }

# Worker threads close their database connection after every task (no reuse), so none is
# left open when the test database is dropped; production keeps CELERY_DB_REUSE_MAX.
celery_app.conf["CELERY_DB_REUSE_MAX"] = None

WAIT_SECONDS = 60.0  # generous: CI machines are slow; the loop returns as soon as it can
POLL_SECONDS = 0.1


def wait_for(condition: Callable[[], object], what: str, timeout: float = WAIT_SECONDS):
    """Poll until `condition()` is truthy and return it; fail naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def owner(db) -> User:
    return User.objects.create_user("shopowner", password="shopowner-pass-123")


@pytest.fixture
def connection(cartly_settings, sandbox, owner) -> Connection:
    """The seeded sandbox shop, connected through the real OAuth flow."""
    return connections.connect(owner, sandbox.authorize(" ".join(CARTLY_SCOPES)))


@pytest.fixture
def public_server(live_server, settings):
    """Our receiver, reachable by the sandbox: hooks are registered at this base URL."""
    settings.PUBLIC_BASE_URL = live_server.url
    return live_server


@pytest.fixture
def celery_worker_without_clock(transactional_db, settings):
    """A worker whose engine clock is off: a test can then be the one that dispatches a stored
    event (as beat's sweep does when no clock is alive), with no race against the clock."""
    settings.ENGINE_CLOCK_IN_WORKER = False
    with _worker(settings) as worker:
        yield worker


@pytest.fixture
def celery_worker(transactional_db, settings):
    """A real Celery worker (threads in this process) on the configured broker.

    Not eager mode: tasks travel through the broker (Redis in CI, the filesystem transport
    locally, in a folder of this test's own) and are claimed like in production.
    """
    with _worker(settings) as worker:
        yield worker


@contextmanager
def _worker(settings):
    # Retries and the clock sped up: a test sees a retry in a second, not a minute.
    settings.ENGINE_RETRY_SCHEDULE = [0.2, 0.4, 0.8, 1.6]
    settings.ENGINE_CLOCK_STEPS_SECONDS = 0.2
    celery_app.control.purge()  # messages other tests published name rows that are gone
    with start_worker(
        celery_app,
        pool="threads",
        concurrency=4,
        perform_ping_check=False,
        loglevel="WARNING",
        shutdown_timeout=20,
    ) as worker:
        yield worker


def finished_runs(recipe) -> list:
    from automations.models import Run

    return list(Run.objects.filter(recipe=recipe).exclude(status__in=Run.UNFINISHED))


def start_run(recipe, connection, payload: dict, event_id: str | None = None):
    """A run of a stored event, exactly as dispatch makes it (the receiver is tested apart)."""
    from automations.engine.runs import prepare_run
    from automations.models import Event, Run

    event = Event.objects.create(
        connection=connection,
        cartly_event_id=event_id or f"evt_{payload['id']}",
        event_type=recipe.event_type,
        object_id=payload["id"],
        payload=payload,
        status=Event.Status.DISPATCHED,
    )
    run = Run.objects.create(recipe=recipe, event=event, recipe_version=recipe.version)
    prepare_run(run)
    return run


def one_step_document(trigger: str, *steps: dict, **extra) -> dict:
    return {
        "format": "cartly-automations/recipe@1",
        "name": "Test recipe",
        "trigger": trigger,
        "mode": "instant",
        "steps": list(steps),
        **extra,
    }
