"""Fixtures shared by the engine's tests: a real sandbox Cartly, served over real HTTP."""

from collections.abc import Iterator

import pytest

from tests.sandbox_server import SandboxServer

# Personas and the page tests' shared fixtures (tests/personas.py).
pytest_plugins = ["tests.personas"]


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    """A seeded sandbox process on a free loopback port, with its own database, for the session.

    Offers `base_url`, `seed`, `merchant_session()`, `authorize(scopes, redirect_uri=...)`,
    `set_faults(**fields)`, `reset_faults()` and `sandbox_event(event, count=1)`.
    """
    server = SandboxServer(tmp_path_factory.mktemp("sandbox"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def cartly_settings(settings, sandbox: SandboxServer):
    """Django settings pointing the engine's Cartly connector at the sandbox."""
    settings.CARTLY_BASE_URL = sandbox.base_url
    settings.CARTLY_CLIENT_ID = sandbox.seed["oauth"]["client_id"]
    settings.CARTLY_CLIENT_SECRET = sandbox.seed["oauth"]["client_secret"]
    return settings


@pytest.fixture(scope="session", autouse=True)
def close_connections_after_each_request(django_db_setup, django_db_blocker):
    """Live-server request threads then close their connection when the request ends (the
    settings dict is shared by every thread), so none is left open when the test database
    is dropped."""
    from django.db import DEFAULT_DB_ALIAS, connections

    connections[DEFAULT_DB_ALIAS].settings_dict["CONN_MAX_AGE"] = 0


@pytest.fixture(autouse=True)
def fresh_throttles():
    """Each test starts with no throttle counted (accounts/throttles.py). In Redis only our
    keys go: the broker may share the database, so never FLUSHDB."""
    from django.core.cache import cache
    from django.core.cache.backends.redis import RedisCache

    if isinstance(cache, RedisCache):
        client = cache._cache.get_client(None, write=True)
        keys = list(client.scan_iter(match=f"{cache.key_prefix}:*"))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()
