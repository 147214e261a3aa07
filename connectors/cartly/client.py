"""The Cartly Apps API client: one method per endpoint of /work/shared/cartly-api.md.

Boring on purpose: every call has a timeout, sends JSON and a bearer token, unwraps the answer's
envelope and turns every failure into connectors.errors. It retries nothing (the caller decides)
and knows nothing of users, recipes or the database; it is given a token and a base URL.
"""

from __future__ import annotations

import email.utils
import json
import math
import os
import threading
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter

from connectors import errors
from connectors.cartly import constants as c
from connectors.cartly.pooled import PooledSession

JSON = dict[str, Any]
USER_AGENT = "cartly-automations/0.1 (+requests)"

# One pooled session per process, shared by every client: a worker that makes thousands of calls
# reuses its TCP/TLS connections (DESIGN.md, "Speed"). Keyed by pid because a socket inherited
# across fork() would be shared by two processes.
_session_lock = threading.Lock()
_session: tuple[int, requests.Session | PooledSession] | None = None


def shared_session() -> requests.Session | PooledSession:
    """The process-wide pooled session, created on first use in each process: urllib3's pool
    (pooled.py), or a requests session when a proxy is configured (it honours no_proxy)."""
    global _session
    with _session_lock:
        if _session is None or _session[0] != os.getpid():
            session: requests.Session | PooledSession
            if urllib.request.getproxies():
                session = requests.Session()
                adapter = HTTPAdapter(
                    pool_connections=c.POOL_CONNECTIONS, pool_maxsize=c.POOL_MAXSIZE
                )
                session.mount("http://", adapter)
                session.mount("https://", adapter)
            else:
                session = PooledSession(c.POOL_MAXSIZE, c.POOL_CONNECTIONS)
            _session = (os.getpid(), session)
        return _session[1]


class CartlyClient:
    """Calls the Apps API of one shop with one access token."""

    def __init__(
        self,
        access_token: str,
        *,
        base_url: str | None = None,
        timeout: float | None = None,
        session: requests.Session | None = None,
    ):
        self._token = access_token
        self.base_url = (base_url or settings.CARTLY_BASE_URL).rstrip("/")
        configured = getattr(settings, "CARTLY_TIMEOUT_SECONDS", None)
        self.timeout: float = timeout or configured or c.DEFAULT_TIMEOUT_SECONDS
        self._session = session

    def __repr__(self) -> str:  # never shows the token
        return f"CartlyClient(base_url={self.base_url!r})"

    # --- the shop ------------------------------------------------------------------------

    def me(self) -> JSON:
        """GET /apps/api/me [page]: the whole answer, {"shop": {...}, "app": {"name"}}."""
        return self._call("GET", c.ME_PATH, envelope=None)

    # --- customers -----------------------------------------------------------------------

    def list_customers(
        self,
        *,
        email: str | None = None,
        since_id: str | None = None,
        updated_since: datetime | str | None = None,
        limit: int | None = None,
    ) -> list[JSON]:
        """GET /apps/api/customers [page] ?email= [page] &since_id=&updated_since=&limit=."""
        params = _list_params(since_id, updated_since, limit, email=email)
        return self._call("GET", c.CUSTOMERS_PATH, params=params, envelope=c.CUSTOMERS_KEY)

    def create_customer(self, data: JSON, *, idempotency_key: str | None = None) -> JSON:
        """POST /apps/api/customers [page]: 201 {"customer"}; 422 bad or taken email."""
        return self._send("POST", c.CUSTOMERS_PATH, data, idempotency_key, c.CUSTOMER_KEY)

    def update_customer(
        self, customer_id: str, data: JSON, *, idempotency_key: str | None = None
    ) -> JSON:
        """PUT /apps/api/customers/:id [page]: updates the given fields, {"customer"}."""
        return self._send(
            "PUT", _path(c.CUSTOMER_PATH, customer_id), data, idempotency_key, c.CUSTOMER_KEY
        )

    # --- orders --------------------------------------------------------------------------

    def list_orders(
        self,
        *,
        number: int | str | None = None,
        status: str | None = None,
        since_id: str | None = None,
        updated_since: datetime | str | None = None,
        limit: int | None = None,
    ) -> list[JSON]:
        """GET /apps/api/orders ?number=&status=&since_id=&updated_since=&limit= [assumed]."""
        params = _list_params(since_id, updated_since, limit, number=number, status=status)
        return self._call("GET", c.ORDERS_PATH, params=params, envelope=c.ORDERS_KEY)

    def update_order(
        self, order_id: str, data: JSON, *, idempotency_key: str | None = None
    ) -> JSON:
        """PUT /apps/api/orders/:id [page]: {"status"?, "note"?}; 422 on a forbidden move."""
        return self._send("PUT", _path(c.ORDER_PATH, order_id), data, idempotency_key, c.ORDER_KEY)

    # --- products and inventory ----------------------------------------------------------

    def list_products(
        self,
        *,
        since_id: str | None = None,
        updated_since: datetime | str | None = None,
        limit: int | None = None,
    ) -> list[JSON]:
        """GET /apps/api/products ?since_id=&updated_since=&limit= [assumed]."""
        params = _list_params(since_id, updated_since, limit)
        return self._call("GET", c.PRODUCTS_PATH, params=params, envelope=c.PRODUCTS_KEY)

    def set_inventory(
        self,
        variant_id: str,
        *,
        adjustment: int | None = None,
        available: int | None = None,
        idempotency_key: str | None = None,
    ) -> JSON:
        """PUT /apps/api/inventory/:variant_id [page]: a delta or a level, exactly one."""
        if (adjustment is None) == (available is None):
            # Refused here, before any call: the merchant's step asked for both or neither.
            raise errors.ValidationFailed(
                "Give either an adjustment or an available quantity, not both or neither.",
                fields={"adjustment": ["give exactly one of adjustment or available"]},
            )
        body = {"adjustment": adjustment} if adjustment is not None else {"available": available}
        return self._send(
            "PUT", _path(c.INVENTORY_PATH, variant_id), body, idempotency_key, c.INVENTORY_LEVEL_KEY
        )

    # --- discounts -----------------------------------------------------------------------

    def create_discount(self, data: JSON, *, idempotency_key: str | None = None) -> JSON:
        """POST /apps/api/discounts [page]: 201 {"discount"}; 422 code taken or bad value."""
        return self._send("POST", c.DISCOUNTS_PATH, data, idempotency_key, c.DISCOUNT_KEY)

    # --- REST Hooks ----------------------------------------------------------------------

    def list_webhooks(self, *, since_id: str | None = None, limit: int | None = None) -> list[JSON]:
        """GET /apps/api/webhooks [page]: this app's subscriptions, paged like every list."""
        params = _list_params(since_id, None, limit)
        return self._call("GET", c.WEBHOOKS_PATH, params=params, envelope=c.WEBHOOKS_KEY)

    def create_webhook(
        self, url: str, events: list[str], *, idempotency_key: str | None = None
    ) -> JSON:
        """POST /apps/api/webhooks [page] {"url","events"}: 201 {"webhook"}; 422 bad url/event."""
        body = {"url": url, "events": list(events)}
        return self._send("POST", c.WEBHOOKS_PATH, body, idempotency_key, c.WEBHOOK_KEY)

    def delete_webhook(self, webhook_id: str) -> None:
        """DELETE /apps/api/webhooks/:id [page]: 204; an unknown id raises NotFound."""
        self._call("DELETE", _path(c.WEBHOOK_PATH, webhook_id), envelope=None)

    # --- one HTTP exchange -----------------------------------------------------------------

    def _send(
        self, method: str, path: str, body: JSON, idempotency_key: str | None, envelope: str
    ) -> Any:
        """A POST or PUT of a JSON object; Idempotency-Key only when the caller gives one."""
        return self._call(
            method, path, body=body, idempotency_key=idempotency_key, envelope=envelope
        )

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: JSON | None = None,
        idempotency_key: str | None = None,
        envelope: str | None,
    ) -> Any:
        headers = {
            "Authorization": f"Bearer {self._token}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body, default=_json_default).encode()
        if idempotency_key:
            headers[c.IDEMPOTENCY_HEADER] = idempotency_key
        session = self._session or shared_session()
        try:
            response = session.request(
                method,
                self.base_url + path,
                params=params,
                data=data,
                headers=headers,
                timeout=self.timeout,
                # A redirect would carry the bearer token somewhere the contract never names.
                allow_redirects=False,
            )
        except requests.Timeout as exc:  # before ConnectionError: ConnectTimeout is both
            raise errors.Transient(
                f"Cartly did not answer within {self.timeout:g} seconds."
            ) from exc
        except requests.ConnectionError as exc:
            raise errors.Transient(f"Could not reach Cartly at {_host(self.base_url)}.") from exc
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema) as exc:
            raise errors.Permanent(f"The Cartly address {self.base_url!r} is not valid.") from exc
        except requests.RequestException as exc:
            raise errors.Transient(f"The call to Cartly failed: {type(exc).__name__}.") from exc
        return _unwrap(response, envelope)


# --- answers -------------------------------------------------------------------------------

# Statuses that a later attempt can outlive, besides every 5xx.
TRANSIENT_4XX = {HTTPStatus.REQUEST_TIMEOUT}
ERROR_CLASSES: dict[int, type[errors.ConnectorError]] = {
    HTTPStatus.UNAUTHORIZED: errors.AuthExpired,
    HTTPStatus.FORBIDDEN: errors.InsufficientScope,
    HTTPStatus.NOT_FOUND: errors.NotFound,
    HTTPStatus.CONFLICT: errors.Conflict,
}


def _unwrap(response: requests.Response, envelope: str | None) -> Any:
    """The answer's payload on 2xx (inside its envelope), else the matching ConnectorError."""
    status = response.status_code
    if not 200 <= status < 300:
        raise _error(response)
    if status == HTTPStatus.NO_CONTENT or not response.content:
        return None
    try:
        payload = response.json()
    except ValueError:
        # A 2xx that is not JSON is not Cartly answering (a captive portal, a proxy page).
        raise errors.Transient(
            f"Cartly answered {_status_text(status)} with something that is not JSON.",
            status_code=status,
            body=_quote(response.text),
        ) from None
    if envelope is None:
        return payload
    if not isinstance(payload, dict) or envelope not in payload:
        raise errors.Permanent(
            f"Cartly's answer lacks the expected {envelope!r}.", status_code=status, body=payload
        )
    return payload[envelope]


def _error(response: requests.Response) -> errors.ConnectorError:
    """Classify a non-2xx answer by its status; the message is Cartly's own when it sends one."""
    status = response.status_code
    body: Any
    try:
        body = response.json()
    except ValueError:
        body = None
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, str) or not message.strip():
        message = _fallback_message(status)
    if body is None:
        body = _quote(response.text)

    if status == HTTPStatus.UNPROCESSABLE_ENTITY:
        fields = body.get("fields") if isinstance(body, dict) else None
        return errors.ValidationFailed(
            message, fields=_clean_fields(fields), status_code=status, body=body
        )
    if status == HTTPStatus.TOO_MANY_REQUESTS:
        return errors.RateLimited(
            message, retry_after=_retry_after(response), status_code=status, body=body
        )
    if status >= 500 or status in TRANSIENT_4XX:
        return errors.Transient(message, status_code=status, body=body)
    error_class = ERROR_CLASSES.get(status, errors.Permanent)
    return error_class(message, status_code=status, body=body)


def _fallback_message(status: int) -> str:
    """Words for an answer without Cartly's JSON message, e.g. a proxy's HTML 502 page."""
    if 300 <= status < 400:
        return f"Cartly answered with an unexpected redirect ({_status_text(status)})."
    if status >= 500:
        return f"Cartly is having trouble right now ({_status_text(status)}); try again later."
    return f"Cartly refused the request ({_status_text(status)})."


def _retry_after(response: requests.Response) -> float:
    """Seconds from Retry-After, given as a number or an HTTP date (RFC 9110, 10.2.3)."""
    raw = (response.headers.get(c.RETRY_AFTER_HEADER) or "").strip()
    try:
        seconds = float(raw)
    except ValueError:
        pass
    else:
        if math.isfinite(seconds):
            return min(max(0.0, seconds), c.MAX_RETRY_AFTER_SECONDS)
        return c.MAX_RETRY_AFTER_SECONDS if seconds > 0 else c.DEFAULT_RETRY_AFTER_SECONDS
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return c.DEFAULT_RETRY_AFTER_SECONDS
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(0.0, seconds), c.MAX_RETRY_AFTER_SECONDS)


def _clean_fields(fields: Any) -> dict[str, list[str]]:
    """Cartly's {"field": ["complaint"]}, tolerating a bare string where a list belongs."""
    if not isinstance(fields, dict):
        return {}
    cleaned: dict[str, list[str]] = {}
    for key, value in fields.items():
        items = value if isinstance(value, list) else [value]
        cleaned[str(key)] = [str(item) for item in items]
    return cleaned


# --- small helpers -------------------------------------------------------------------------


def _list_params(
    since_id: str | None, updated_since: datetime | str | None, limit: int | None, **filters: Any
) -> dict[str, str]:
    """Query parameters of a list call, leaving out what was not given."""
    if limit is not None and not c.PAGE_SIZE_MIN <= limit <= c.PAGE_SIZE_MAX:
        raise ValueError(f"limit must be {c.PAGE_SIZE_MIN}–{c.PAGE_SIZE_MAX}, not {limit}")
    if isinstance(updated_since, datetime):
        updated_since = _iso_utc(updated_since)
    params = {"since_id": since_id, "updated_since": updated_since, "limit": limit, **filters}
    return {key: str(value) for key, value in params.items() if value is not None}


def _iso_utc(value: datetime) -> str:
    """ISO 8601 in UTC with a Z, as the contract writes times ("2026-11-28T10:00:00Z")."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _json_default(value: Any) -> Any:
    """Money as a decimal string and times as ISO 8601, the contract's encodings."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return _iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot be sent to Cartly as JSON")


def _path(template: str, object_id: str) -> str:
    # Quoted so an id taken from a merchant's template can't reach another path.
    return template.format(id=quote(str(object_id), safe=""))


def _host(base_url: str) -> str:
    return urlsplit(base_url).netloc or base_url


def _status_text(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def _quote(text: str) -> str:
    return text[: c.MAX_QUOTED_BODY_CHARS]


# --- paging ----------------------------------------------------------------------------------


def iter_pages(
    list_method: Callable[..., list[JSON]],
    *,
    since_id: str | None = None,
    page_size: int = c.PAGE_SIZE_MAX,
    **filters: Any,
) -> Iterator[JSON]:
    """Every object after `since_id`, oldest first, following since_id until a short page.

    `list_method` is a bound list call such as `client.list_orders`; stop consuming the
    generator to stop fetching. Ids ascend (cartly-api.md, "Conventions").
    """
    while True:
        page = list_method(since_id=since_id, limit=page_size, **filters)
        yield from page
        if len(page) < page_size:
            return
        last_id = page[-1]["id"]
        if since_id is not None and last_id <= since_id:
            # Ids must grow page to page; a server that repeats itself would loop us forever.
            raise errors.Permanent("Cartly returned the same page twice while paging.")
        since_id = last_id
