"""The engine's Celery app: Redis when REDIS_URL is set, kombu's filesystem transport otherwise."""

import os

from celery import Celery
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    beat_init,
    task_postrun,
    task_prerun,
    worker_init,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("cartly_automations")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _add_engine_clock() -> None:
    from automations.worker_clock import EngineClockStep  # imports nothing of Django's models

    app.steps["worker"].add(EngineClockStep)


_add_engine_clock()


@task_prerun.connect(dispatch_uid="config.drop_broken_db_connections_before")
@task_postrun.connect(dispatch_uid="config.drop_broken_db_connections_after")
def _drop_broken_connections(**kwargs) -> None:
    # Celery's Django fixup keeps connections for CELERY_DB_REUSE_MAX tasks without looking at
    # them; a connection the server dropped (a restart, pg_terminate_backend) would then fail
    # every task. Django's own check closes it (errors seen, or CONN_HEALTH_CHECKS), and the
    # next query reconnects.
    from django.db import close_old_connections

    close_old_connections()


@worker_init.connect
@beat_init.connect
def check_encryption_keys(**kwargs) -> None:
    """A missing or wrong FIELD_ENCRYPTION_KEYS stops the worker (or beat) at start."""
    from connectors.checks import stop_unless_keys_work

    stop_unless_keys_work()


@after_setup_logger.connect(dispatch_uid="config.hide_hook_tokens")
@after_setup_task_logger.connect(dispatch_uid="config.hide_hook_tokens_in_tasks")
def _hide_hook_tokens(logger, **kwargs) -> None:
    """Celery replaces the root logger's handlers in its processes: they hide tokens too."""
    from config.log_filters import HideHookTokens

    for handler in logger.handlers:
        handler.addFilter(HideHookTokens())
