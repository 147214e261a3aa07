"""A merchant's own settings: for now, the time zone every page shows times in."""

from __future__ import annotations

import zoneinfo
from functools import cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

# Long enough for any IANA name ("America/Argentina/ComodRivadavia" is 32).
TIME_ZONE_LENGTH = 64


@cache
def time_zone_names() -> tuple[str, ...]:
    """Every IANA time zone this machine knows, sorted, for the profile's select."""
    return tuple(sorted(zoneinfo.available_timezones()))


def validate_time_zone(name: str) -> None:
    if name not in time_zone_names():
        raise ValidationError(f"{name!r} is not a time zone we know, e.g. Europe/Paris")


class Profile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    time_zone = models.CharField(
        max_length=TIME_ZONE_LENGTH,
        default="UTC",
        validators=[validate_time_zone],
        help_text="Every date and time on these pages is shown in this zone.",
    )

    def __str__(self) -> str:
        return f"{self.user} ({self.time_zone})"


def time_zone_of(user) -> str:
    """The user's time zone name; the site's default (settings.TIME_ZONE) until they choose."""
    name = Profile.objects.filter(user=user).values_list("time_zone", flat=True).first()
    return name or settings.TIME_ZONE
