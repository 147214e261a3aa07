from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # Connects the receivers of the engine's and the connectors' signals.
        from notifications import receivers  # noqa: F401
