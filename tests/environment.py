"""What a test run needs from the environment, set before Django reads its settings.

Loaded by pytest before anything else (`-p tests.environment` in pyproject.toml), so
`make test`, `.ci/run` and a plain `.venv/bin/pytest tests/...` all run the same way. Tests run
with the production defaults (DEBUG off, FIELD_ENCRYPTION_KEYS required, sign-up closed)
except where a plain-HTTP test server cannot follow them: no HTTPS redirect and no secure-only
cookies. Keys are made fresh for each run; a value already in the environment wins.
"""

import os
import secrets
import tempfile

from cryptography.fernet import Fernet

TEST_ENVIRONMENT = {
    "SECRET_KEY": "test-" + secrets.token_urlsafe(48),
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    # The test servers (live_server, the sandbox) speak plain HTTP on loopback.
    "SECURE_SSL_REDIRECT": "0",
    "SESSION_COOKIE_SECURE": "0",
    "CSRF_COOKIE_SECURE": "0",
    "SECURE_HSTS_SECONDS": "0",
    # Most tests store deliveries that no clock dispatches: with backpressure on, each answer
    # would wait for an engine that is not running. tests/automations/test_backpressure.py
    # turns it on where it is the subject.
    "ENGINE_BACKPRESSURE_MAX_SECONDS": "0",
    # A collectstatic someone ran in var/ must not leave a stale manifest for the tests.
    "STATIC_ROOT": tempfile.mkdtemp(prefix="engine-test-static-"),
}

for name, value in TEST_ENVIRONMENT.items():
    os.environ.setdefault(name, value)
