from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        # The login receiver that keeps the merchant's time zone in the session.
        from accounts import middleware  # noqa: F401
