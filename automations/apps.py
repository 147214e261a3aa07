from django.apps import AppConfig


class AutomationsConfig(AppConfig):
    name = "automations"

    def ready(self) -> None:
        # The receivers of the connectors' signals, and the REST Hook lifecycle's tasks (Celery's
        # autodiscovery imports only `<app>.tasks`, and those live beside it).
        from automations import (  # noqa: F401
            signal_handlers,
            tasks_polling,
            tasks_subscriptions,
            tasks_trash,
        )
