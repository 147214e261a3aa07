"""The engine's Celery app: Redis when REDIS_URL is set, kombu's filesystem transport otherwise."""

import os

from celery import Celery
from celery.signals import beat_init, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("cartly_automations")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def check_encryption_keys(**kwargs) -> None:
    """A missing or wrong FIELD_ENCRYPTION_KEYS stops the worker (or beat) at start."""
    from connectors.checks import stop_unless_keys_work

    stop_unless_keys_work()
