"""The login lockout as an authentication backend (django-axes), first in the list."""

from axes.backends import AxesStandaloneBackend


class LockoutBackend(AxesStandaloneBackend):
    """Refuses a login while its account or its client is locked out.

    Every login a person makes comes with a request (the login page, the admin's). One without
    a request (a shell, Django's test `Client.login`) has no client to count: there is nothing
    to lock, so the decision is left to the password backend instead of failing.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)
