"""A merchant's connection to a Cartly shop, with its OAuth tokens encrypted at rest."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from connectors.crypto import EncryptedTextField


class Connection(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        NEEDS_RECONNECT = "needs_reconnect", "Needs reconnecting"
        DISCONNECTED = "disconnected", "Disconnected"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="connections"
    )
    provider = models.CharField(max_length=20, default="cartly")
    shop_id = models.CharField(max_length=64)
    shop_name = models.CharField(max_length=200)
    shop_domain = models.CharField(max_length=200)
    currency = models.CharField(max_length=3, blank=True)
    scopes = models.CharField(max_length=500, blank=True)
    access_token = EncryptedTextField(blank=True)
    refresh_token = EncryptedTextField(blank=True)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    # Why the connection is not active, in words a merchant understands.
    status_reason = models.CharField(max_length=500, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    connected_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "provider", "shop_id"], name="one_connection_per_shop_and_owner"
            )
        ]
        ordering = ["shop_name", "id"]

    def __str__(self) -> str:
        return f"{self.shop_name} ({self.shop_domain})"

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    def token_expires_within(self, seconds: float) -> bool:
        if self.token_expires_at is None:
            return False
        return self.token_expires_at <= timezone.now() + timedelta(seconds=seconds)

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


# The HTTP step's signing secrets (connectors/http/models.py), the per-shop call budget
# without Redis and the per-shop circuit (connectors/ratelimit.py, connectors/circuit.py).
from connectors.http.models import SigningSecret  # noqa: E402,F401
from connectors.models_ratelimit import ShopBudget, ShopCircuit  # noqa: E402,F401
