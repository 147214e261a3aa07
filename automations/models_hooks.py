"""Signed REST Hook deliveries the receiver refused, kept for a person to inspect.

Imported by automations/models.py so Django registers the model with the app.
"""

from django.db import models
from django.utils import timezone

from connectors.models import Connection


class RejectedDelivery(models.Model):
    """One distinct body Cartly signed and we still refused (a 4xx after a valid signature).

    Such a refusal means Cartly and we disagree about the contract (a new field shape, a
    header we did not expect), not an attack: only Cartly holds the signing secret. Cartly
    retries a refused delivery, so rows are keyed by the body's SHA-256 and count repeats.
    """

    connection = models.ForeignKey(
        Connection,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="rejected_deliveries",
    )
    # The token's subscription; null when the token matched none (a 404).
    subscription = models.ForeignKey(
        "automations.Subscription", null=True, blank=True, on_delete=models.SET_NULL
    )
    body_sha256 = models.CharField(max_length=64, unique=True)
    status_code = models.PositiveSmallIntegerField()
    error = models.CharField(max_length=40)  # the code we answered, e.g. "bad_request"
    message = models.CharField(max_length=300)  # the words we answered with
    # What the delivery said about itself, best effort (the body may not even be JSON).
    cartly_event_id = models.CharField(max_length=64, blank=True)
    event_type = models.CharField(max_length=40, blank=True)
    # Unsigned headers as they came, cut to the column's size.
    webhook_id = models.CharField(max_length=64, blank=True)
    shop_domain = models.CharField(max_length=200, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    # The raw body as text: bytes that are not UTF-8 are kept as \x.. escapes.
    body = models.TextField()
    times_seen = models.PositiveIntegerField(default=1)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "rejected deliveries"
        indexes = [models.Index(fields=["connection", "-last_seen_at"], name="rejected_recent_idx")]

    def __str__(self) -> str:
        return f"{self.status_code} {self.error} ({self.body_sha256[:12]})"
