"""Every email we sent a merchant, so we can keep to at most one per recipe (or shop) an hour."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Notification(models.Model):
    class Kind(models.TextChoices):
        RUN_FAILED = "run_failed", "A run failed"
        RECONNECT = "reconnect", "A shop needs reconnecting"
        TEST = "test", "Test notification"
        RECIPE_OFF = "recipe_off", "A recipe was switched off after failing"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # What the email was about; kept as NULL when the recipe, shop or run is deleted later.
    recipe = models.ForeignKey(
        "automations.Recipe", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    connection = models.ForeignKey(
        "connectors.Connection",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    run = models.ForeignKey(
        "automations.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recipient = models.EmailField()
    subject = models.CharField(max_length=300)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-sent_at", "-id"]
        indexes = [
            models.Index(fields=["kind", "recipe", "sent_at"], name="notification_recipe_idx"),
            models.Index(
                fields=["kind", "connection", "sent_at"], name="notification_connection_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.recipient} at {self.sent_at:%Y-%m-%d %H:%M}"


class ConfirmedAddress(models.Model):
    """An address its user proved to read by opening the link we emailed to it. Alerts go
    only to the user's email when it is confirmed: anyone can sign up and type any address,
    and the engine must not become a way to email strangers."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="confirmed_addresses"
    )
    email = models.EmailField()
    confirmed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "email"], name="one_confirmation_per_address")
        ]

    def __str__(self) -> str:
        return f"{self.email} (confirmed {self.confirmed_at:%Y-%m-%d})"
