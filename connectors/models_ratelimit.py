"""The per-shop call budget when there is no Redis (connectors/ratelimit.py)."""

from django.db import models


class ShopBudget(models.Model):
    """A token bucket: `tokens` as they were at `refilled_at`; refill is computed on use."""

    shop_key = models.CharField(max_length=100, unique=True)
    tokens = models.FloatField()
    refilled_at = models.FloatField()  # seconds since the epoch, as time.time() gives it

    def __str__(self) -> str:
        return f"{self.shop_key}: {self.tokens:.1f}"


class ShopCircuit(models.Model):
    """A shop's circuit breaker (connectors/circuit.py): closed while Cartly answers; open
    after it kept failing, so runs wait instead of spending attempts; one probe at a time."""

    class State(models.TextChoices):
        CLOSED = "closed", "Cartly answers"
        OPEN = "open", "Cartly keeps failing"

    shop_key = models.CharField(max_length=100, unique=True)
    state = models.CharField(max_length=6, choices=State.choices, default=State.CLOSED)
    # Transient failures in a row (reset by any answer that is not one).
    failures = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(null=True, blank=True)
    # While open: no call before this; the caller that moves it on is the one probe.
    probe_at = models.DateTimeField(null=True, blank=True)
    probes = models.PositiveIntegerField(default=0)  # failed probes since it opened
    last_error = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"{self.shop_key}: {self.state}"
