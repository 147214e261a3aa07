"""The engine's Celery app: Redis when REDIS_URL is set, kombu's filesystem transport otherwise."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("cartly_automations")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
