"""Hostile users: shared fixtures and the measures the security tests take of this process.

The test client runs views in this process and the `celery_worker` fixture runs tasks on
threads of it, so this process stands for the serving process: its resident memory and the
time a request takes are what a hostile request would cost a real server.
"""

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from automations.engine.render_limits import rss_bytes
from tests.automations.conftest import (  # noqa: F401  (fixtures are found by name)
    celery_worker,
    connection,
    owner,
    public_server,
)
from tests.personas import make_shop

MiB = 1024 * 1024
# "Within tens of MiB of its baseline, whatever a template does": the budget a hostile request
# may add to this process's resident memory (the render child is where the memory goes).
MEMORY_BUDGET_BYTES = 40 * MiB
# Not a speed test: a hang check. Minutes before the fix; seconds after (deadlines of 1-5 s).
HANG_SECONDS = 30.0


@dataclass
class Cost:
    seconds: float = 0.0
    rss_growth: int = 0


@contextmanager
def measured() -> Iterator[Cost]:
    """Wall time and resident-memory growth of this process across the block."""
    cost = Cost()
    rss_before, started = rss_bytes(), time.monotonic()
    yield cost
    cost.seconds = time.monotonic() - started
    cost.rss_growth = rss_bytes() - rss_before


def assert_contained(cost: Cost) -> None:
    assert cost.seconds < HANG_SECONDS, f"took {cost.seconds:.1f} s"
    assert cost.rss_growth < MEMORY_BUDGET_BYTES, f"RSS grew {cost.rss_growth / MiB:.0f} MiB"


def post_json(client: Client, url: str, body) -> dict:
    response = client.post(url, json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content[:300]
    return response.json()


@pytest.fixture
def mallory(db):
    """A hostile user who signed up like anyone, with a shop of her own."""
    user = get_user_model().objects.create_user("mallory", password="mallory-pass-123")
    make_shop(user)
    client = Client()
    client.force_login(user)
    return client
