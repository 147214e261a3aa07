"""Settings of the Celery processes fault tests start: the engine's own, plus one test-only
operation (crash_operation.py) so a test can make a step that kills its worker every time."""

from config.settings import *  # noqa: F403
from tests.automations import crash_operation

crash_operation.register()
