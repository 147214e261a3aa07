"""Rotating the engine app's client secret, as a developer does in Cartly's app settings.

The client secret is both the OAuth client's password and the key deliveries are signed with
(cartly-api.md, "Signing secret"): from the rotation on, every delivery is signed with the new
one, retries of earlier events included, since a delivery is signed when it is sent
(sandbox/delivery.py). The engine accepts the previous secret for a while
(CARTLY_CLIENT_SECRET_PREVIOUS) so that a rotation loses nothing.
"""

from dataclasses import dataclass

from django.db import transaction
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import Application

from sandbox.seed import APP_NAME


@dataclass(frozen=True)
class Rotation:
    client_id: str
    client_secret: str  # the new one
    previous_secret: str

    def as_dict(self) -> dict[str, str]:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "previous_secret": self.previous_secret,
        }


class NoApplication(LookupError):
    """The engine's app does not exist yet: run sandbox_seed first."""


@transaction.atomic
def rotate_client_secret(new_secret: str | None = None) -> Rotation:
    """Give the engine's app a new client secret (a random one unless `new_secret` is given)."""
    app = Application.objects.select_for_update().filter(name=APP_NAME).order_by("pk").first()
    if app is None:
        raise NoApplication(f"no application named {APP_NAME!r}: run sandbox_seed first")
    if app.hash_client_secret:
        raise NoApplication(f"{APP_NAME!r} keeps a hashed secret and cannot sign deliveries")
    previous = app.client_secret
    app.client_secret = new_secret or generate_client_secret()
    app.save(update_fields=["client_secret", "updated"])
    return Rotation(app.client_id, app.client_secret, previous)
