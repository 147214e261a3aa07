"""A merchant's secret for signing the HTTP step's requests, encrypted at rest.

Part of the `connectors` app (imported by connectors/models.py), so its migration lives there.
"""

from django.conf import settings
from django.db import models

from connectors.crypto import EncryptedTextField


class SigningSecret(models.Model):
    """One per merchant: the key of the HMAC their receivers check (docs/catalogue.md)."""

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="http_signing_secret"
    )
    secret = EncryptedTextField()
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:  # never the secret
        return f"HTTP signing secret of {self.owner}"
