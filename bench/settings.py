"""The engine's settings plus what only a benchmark needs: a bare endpoint and a no-op task.

Selected with DJANGO_SETTINGS_MODULE=bench.settings in the processes bench/ starts (gunicorn,
Celery workers, the harness itself); every engine setting still comes from config.settings.
"""

import os

from config.env import env_int
from config.settings import *  # noqa: F403

# The engine's URLs, plus /bench/bare/ for the "bare Django endpoint" denominator.
ROOT_URLCONF = "bench.urls"

# The no-op task the throughput benchmark measures as the broker's ceiling.
CELERY_IMPORTS = ["bench.tasks"]

# Celery's Django fixup closes the database connection before and after every task unless
# this Celery setting (read from app.conf, i.e. from Django settings: an environment variable
# of that name is ignored by Celery itself) is set. config.settings reads it too (default
# 100); it is repeated here so the benchmark controls it whatever config does.
# CELERY_DB_REUSE_MAX=0 measures the reconnect-per-task behaviour.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 100) or None

# The harness's own queries are told apart from the engine's in the CPU accounting by their
# application_name (bench/stack.py sets this variable in the harness process only).
if os.environ.get("BENCH_APPLICATION_NAME") and DATABASES["default"]["ENGINE"].endswith(  # noqa: F405
    "postgresql"
):
    DATABASES["default"].setdefault("OPTIONS", {})["application_name"] = os.environ[  # noqa: F405
        "BENCH_APPLICATION_NAME"
    ]
