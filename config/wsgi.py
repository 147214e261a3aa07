import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# gunicorn runs no system checks: a missing or wrong FIELD_ENCRYPTION_KEYS stops the worker
# here, before it serves a request it could not complete.
from connectors.checks import stop_unless_keys_work  # noqa: E402 (needs the apps loaded)

stop_unless_keys_work()
