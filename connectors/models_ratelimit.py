"""The per-shop call budget when there is no Redis (connectors/ratelimit.py)."""

from django.db import models


class ShopBudget(models.Model):
    """A token bucket: `tokens` as they were at `refilled_at`; refill is computed on use."""

    shop_key = models.CharField(max_length=100, unique=True)
    tokens = models.FloatField()
    refilled_at = models.FloatField()  # seconds since the epoch, as time.time() gives it

    def __str__(self) -> str:
        return f"{self.shop_key}: {self.tokens:.1f}"
