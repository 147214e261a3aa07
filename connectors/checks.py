"""System checks run when any process starts (manage.py, runserver, gunicorn through
config/wsgi.py, Celery through config/celery.py): tokens must be readable before anything
depends on them, or every call to Cartly would fail later, one shop at a time."""

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection

from connectors import crypto

ENCRYPTION = "encryption"  # the tag: `manage.py check --tag encryption`


def _stored_sample() -> str | None:
    """The newest stored token, still encrypted; None if there is none or no table yet.

    Read with plain SQL: the model field would decrypt it, which is what is being checked.
    """
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT access_token FROM connectors_connection "
                "WHERE access_token <> '' ORDER BY id DESC LIMIT 1"
            )
            row = cursor.fetchone()
    except DatabaseError:
        return None  # no database yet, or not migrated: nothing stored to check against
    return row[0] if row else None


@checks.register(ENCRYPTION)
def check_encryption_keys(app_configs, **kwargs) -> list[checks.CheckMessage]:
    try:
        keys = crypto.keys_from_settings()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="connectors.E001")]
    sample = _stored_sample()
    if sample is None:
        return []
    try:
        keys.decrypt(sample.encode())
    except crypto.InvalidToken:
        return [
            checks.Error(
                "FIELD_ENCRYPTION_KEYS cannot decrypt the shop tokens already stored: a key "
                "in use was changed or dropped.",
                hint="Put the key that encrypted them back in the list (newest first), then "
                "run `manage.py rotate_encryption_keys` before dropping it.",
                id="connectors.E002",
            )
        ]
    return []


def stop_unless_keys_work() -> None:
    """For processes that run no checks of their own (gunicorn, Celery): refuse to start."""
    errors = [m for m in checks.run_checks(tags=[ENCRYPTION]) if m.is_serious()]
    if not connection.in_atomic_block:
        connection.close()  # opened for the check; never hand it on to forked workers
    if errors:
        raise ImproperlyConfigured("; ".join(f"{e.msg} {e.hint or ''}".strip() for e in errors))
