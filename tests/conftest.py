"""Fixtures shared by the engine's tests: a real sandbox Cartly, served over real HTTP."""

from collections.abc import Iterator

import pytest

from tests.sandbox_server import SandboxServer


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
