"""Who is asking: the client's address, as the throttles and the login lockout count it."""

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The address that reached our outermost trusted proxy (or us, without one).

    With TRUSTED_PROXY_COUNT proxies, each appends the address it saw to X-Forwarded-For, so
    the client is that many entries from the right; anything further left is what the client
    itself sent and could be anything.
    """
    count = settings.TRUSTED_PROXY_COUNT
    if count > 0:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= count:
            return hops[-count]
    return request.META.get("REMOTE_ADDR") or "0.0.0.0"
