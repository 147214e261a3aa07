from django.apps import AppConfig


class AutomationsConfig(AppConfig):
    name = "automations"

    def ready(self) -> None:
        # The receivers of the connectors' signals, and the REST Hook lifecycle's tasks (Celery's
        # autodiscovery imports only `<app>.tasks`, and those live beside it).
        from automations import signal_handlers, tasks_subscriptions  # noqa: F401
