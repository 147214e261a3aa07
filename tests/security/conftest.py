"""Hostile users: fixtures shared by the security tests (the engine's own, reused)."""

from tests.automations.conftest import (  # noqa: F401  (fixtures are found by name)
    celery_worker,
    connection,
    owner,
    public_server,
)
