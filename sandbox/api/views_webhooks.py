"""REST Hook subscriptions (cartly-api.md): list, create, delete.

A subscription belongs to one (app, shop): an app sees and deletes only its own.
"""

from urllib.parse import urlsplit

from sandbox.api import listing
from sandbox.api.endpoint import Answer, Call, Route, endpoint
from sandbox.errors import NotFound, ValidationFailed
from sandbox.events import EVENT_TYPES
from sandbox.models import Webhook
from sandbox.serializers import webhook_dict

MAX_URL_LENGTH = 1000  # Webhook.url's size


def clean_url(value) -> str:
    """An absolute http(s) URL with a host: deliveries POST to it as is."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed({"url": ["is required"]})
    url = value.strip()
    if len(url) > MAX_URL_LENGTH:
        raise ValidationFailed({"url": [f"is longer than {MAX_URL_LENGTH} characters"]})
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:
        host = None
    if parts.scheme not in ("http", "https") or not host or any(c.isspace() for c in url):
        raise ValidationFailed({"url": ["must be an absolute http or https URL"]})
    return url


def clean_events(value) -> list[str]:
    if not isinstance(value, list) or not value:
        raise ValidationFailed({"events": ["must be a non-empty list of event names"]})
    unknown = [str(e) for e in value if not isinstance(e, str) or e not in EVENT_TYPES]
    if unknown:
        raise ValidationFailed(
            {"events": [f"unknown event {e!r}; known: {', '.join(EVENT_TYPES)}" for e in unknown]}
        )
    return list(dict.fromkeys(value))  # without repeats, in the order given


def _own(call: Call):
    return Webhook.objects.filter(shop=call.shop, application=call.caller.application)


def list_webhooks(call: Call) -> Answer:
    hooks = listing.page(_own(call), call.query, by_updated=False)
    return Answer(200, {"webhooks": [webhook_dict(w) for w in hooks]})


def create_webhook(call: Call) -> Answer:
    url, events = clean_url(call.data.get("url")), clean_events(call.data.get("events"))
    hook = Webhook.objects.create(
        shop=call.shop, application=call.caller.application, url=url, events=events
    )
    return Answer(201, {"webhook": webhook_dict(hook)})


def delete_webhook(call: Call, webhook_id: str) -> Answer:
    deleted, _ = _own(call).filter(pk=webhook_id).delete()
    if not deleted:
        raise NotFound(f"No webhook {webhook_id} of this app in this shop.")
    return Answer(204, None)


webhooks = endpoint(GET=Route("webhooks", list_webhooks), POST=Route("webhooks", create_webhook))
webhook = endpoint(DELETE=Route("webhooks", delete_webhook))
