"""Show every page in the merchant's time zone (their Profile), without a query per request."""

from __future__ import annotations

import zoneinfo

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.utils import timezone

from accounts.models_profile import time_zone_of

SESSION_KEY = "time_zone"
AUTH_SESSION_KEY = "_auth_user_id"  # django.contrib.auth's: set while someone is logged in


def remember_time_zone(session, name: str) -> None:
    session[SESSION_KEY] = name


@receiver(user_logged_in, dispatch_uid="accounts.remember_time_zone")
def on_login(sender, request, user, **kwargs) -> None:
    # Read once at login and kept in the session: pages then need no extra query.
    remember_time_zone(request.session, time_zone_of(user))


class TimeZoneMiddleware:
    """Activates the session's time zone; a session from before this existed looks it up once.

    Reads only the session, never `request.user`: requests without a session cookie (Cartly's
    hooks, the API) cost nothing here.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = request.session
        name = session.get(SESSION_KEY)
        if name is None and AUTH_SESSION_KEY in session:
            name = time_zone_of(request.user)
            remember_time_zone(session, name)
        timezone.deactivate()
        if name:
            try:
                timezone.activate(zoneinfo.ZoneInfo(name))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                pass  # a zone gone from the system: the site's default, settings.TIME_ZONE
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
