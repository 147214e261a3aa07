"""The HTTP step's client: one request to a merchant's own system, in the engine's error words.

`HttpClient(signing_secret, allowed_hosts).perform(values, idempotency_key)` checks the step's
inputs (request.py), sends the request through a pooled session whose adapter connects only to
checked public addresses (guard.py), and answers `{"status", "headers", "body"}`.

Outcomes, as connectors/errors.py names them: 5xx, 408, timeouts and connection failures are
Transient (the engine retries them, with the same Idempotency-Key, like Cartly steps); 429 is
RateLimited with the receiver's Retry-After; any other 4xx is Permanent with the receiver's own
message, shortened; so is a redirect (not followed: the checked address is the one called) and
an answer larger than MAX_ANSWER_BYTES.
"""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import http.cookiejar
import json
import math
import os
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import requests

from connectors import errors
from connectors.http import request as outgoing
from connectors.http.guard import GuardedAdapter

USER_AGENT = "cartly-automations/0.1 (+http-step)"
# The answer is kept with the run as the step's output: later steps need its fields, not files.
MAX_ANSWER_BYTES = 256 * 1024
CHUNK_BYTES = 16 * 1024
MAX_QUOTED_CHARS = 200  # how much of a receiver's refusal a run's message quotes
# Sessions pool connections per host; a worker's threads share one per allowed-host setting.
POOL_CONNECTIONS, POOL_MAXSIZE = 32, 16
DEFAULT_RETRY_AFTER_SECONDS, MAX_RETRY_AFTER_SECONDS = 5.0, 86400.0
TRANSIENT_4XX = {HTTPStatus.REQUEST_TIMEOUT, HTTPStatus.TOO_EARLY}
MESSAGE_KEYS = ("message", "error_description", "detail", "error", "title")
HIDDEN_ANSWER_HEADERS = {"set-cookie"}  # a receiver's session is not ours to keep in history

_sessions: dict[tuple[int, frozenset[str]], requests.Session] = {}
_sessions_lock = threading.Lock()


def session_for(allowed_hosts: Iterable[str]) -> requests.Session:
    """The process's pooled, guarded session for this allow list (made once per process)."""
    key = (os.getpid(), frozenset(host.lower() for host in allowed_hosts))
    with _sessions_lock:
        if key not in _sessions:
            session = requests.Session()
            session.trust_env = False  # no proxy (it would resolve names itself), no .netrc
            # Never carry one receiver's cookie to the next request, whoever's recipe it is.
            session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
            adapter = GuardedAdapter(
                key[1], pool_connections=POOL_CONNECTIONS, pool_maxsize=POOL_MAXSIZE
            )
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            _sessions[key] = session
        return _sessions[key]


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix>,sha256=<hex>`: HMAC-SHA256 of `<unix>.` followed by the body's bytes."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},sha256={digest.hexdigest()}"


class HttpClient:
    """Sends HTTP step requests for one merchant, signing with their secret when asked."""

    def __init__(self, signing_secret: str | None, allowed_hosts: set[str]):
        self._secret = signing_secret or None
        self.allowed_hosts = frozenset(allowed_hosts)

    def __repr__(self) -> str:  # never shows the secret
        return f"HttpClient(allowed_hosts={sorted(self.allowed_hosts)!r})"

    def perform(self, values: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        """Send the request the step's inputs describe; its answer, or a ConnectorError."""
        request = outgoing.build(values)
        headers = {"User-Agent": USER_AGENT, **request.headers}
        headers[outgoing.IDEMPOTENCY_HEADER] = idempotency_key
        if request.sign:
            if not self._secret:
                raise errors.Permanent(
                    "This step signs its request, but you have no signing secret yet: "
                    "create one on the Signing secret page."
                )
            stamp = int(time.time())
            headers[outgoing.SIGNATURE_HEADER] = signature(self._secret, stamp, request.body)
        response = self._send(request, headers)
        try:
            return _answer(request, response)
        finally:
            response.close()

    def _send(self, request: outgoing.OutgoingRequest, headers: dict) -> requests.Response:
        try:
            return session_for(self.allowed_hosts).request(
                request.method,
                request.url,
                data=request.body or None,
                headers=headers,
                timeout=request.timeout,
                allow_redirects=False,
                stream=True,
            )
        except requests.Timeout as exc:  # before ConnectionError: ConnectTimeout is both
            raise errors.Transient(
                f"{request.host} did not answer within {_seconds(request.timeout)}."
            ) from exc
        except requests.ConnectionError as exc:
            raise errors.Transient(f"Could not connect to {request.host}.") from exc
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidHeader) as exc:
            raise errors.Permanent(f"The request to {request.host} is not valid: {exc}") from exc
        except requests.RequestException as exc:
            raise errors.Transient(
                f"The call to {request.host} failed: {type(exc).__name__}."
            ) from exc


def _read(request: outgoing.OutgoingRequest, response: requests.Response) -> bytes:
    """The whole answer, within MAX_ANSWER_BYTES and the step's timeout (a slow drip too)."""
    deadline = time.monotonic() + request.timeout
    chunks, size = [], 0
    try:
        for chunk in response.iter_content(CHUNK_BYTES):  # decompressed: the size we keep
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise errors.Permanent(
                    f"The answer from {request.host} is too large: more than "
                    f"{MAX_ANSWER_BYTES // 1024} KiB.",
                    status_code=response.status_code,
                )
            if time.monotonic() > deadline:
                raise errors.Transient(
                    f"{request.host} did not finish answering within {_seconds(request.timeout)}."
                )
            chunks.append(chunk)
    except requests.RequestException as exc:
        raise errors.Transient(f"{request.host} broke off its answer.") from exc
    return b"".join(chunks)


def _decode(response: requests.Response, raw: bytes) -> Any:
    """Parsed JSON when the answer says it is JSON and is; otherwise its text."""
    text = raw.decode(response.encoding or "utf-8", errors="replace")
    media_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _answer(request: outgoing.OutgoingRequest, response: requests.Response) -> dict[str, Any]:
    status = response.status_code
    body = _decode(response, _read(request, response))
    if 200 <= status < 300:
        # content-type → content_type: a dotted path (steps.call.headers.content_type) reaches it.
        headers = {
            name.lower().replace("-", "_"): value
            for name, value in response.headers.items()
            if name.lower() not in HIDDEN_ANSWER_HEADERS
        }
        return {"status": status, "headers": headers, "body": body}
    raise _error(request, response, body)


def _error(
    request: outgoing.OutgoingRequest, response: requests.Response, body: Any
) -> errors.ConnectorError:
    status, host = response.status_code, request.host
    said = _their_message(body)
    quoted = f": {said}" if said else "."
    if status == HTTPStatus.TOO_MANY_REQUESTS:
        return errors.RateLimited(
            f"{host} asks us to slow down ({_status_text(status)}){quoted}",
            retry_after=_retry_after(response.headers.get("Retry-After")),
            status_code=status,
            body=said,
        )
    if status >= 500 or status in TRANSIENT_4XX:
        return errors.Transient(
            f"{host} is having trouble ({_status_text(status)}){quoted}",
            status_code=status,
            body=said,
        )
    if 300 <= status < 400:
        where = response.headers.get("Location", "elsewhere")[:MAX_QUOTED_CHARS]
        return errors.Permanent(
            f"{host} answered {_status_text(status)}, a redirect to {where}. Redirects are "
            "not followed: put the final address in the step.",
            status_code=status,
        )
    return errors.Permanent(
        f"{host} refused the request ({_status_text(status)}){quoted}",
        status_code=status,
        body=said,
    )


def _their_message(body: Any) -> str:
    """The receiver's own words: a JSON message field, or the text (not an HTML page)."""
    if isinstance(body, dict):
        for key in MESSAGE_KEYS:
            if isinstance(body.get(key), str) and body[key].strip():
                return _shorten(body[key])
        return ""
    text = body.strip() if isinstance(body, str) else ""
    if text.startswith("<"):
        return ""  # an HTML error page says nothing a merchant can read in one line
    return _shorten(text)


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_QUOTED_CHARS else text[: MAX_QUOTED_CHARS - 1] + "…"


def _seconds(count: float) -> str:
    return f"{count:g} second" + ("" if count == 1 else "s")


def _status_text(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def _retry_after(raw: str | None) -> float:
    """Seconds from Retry-After, a number or an HTTP date (RFC 9110, 10.2.3), bounded."""
    raw = (raw or "").strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return DEFAULT_RETRY_AFTER_SECONDS
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if math.isnan(seconds):
        return DEFAULT_RETRY_AFTER_SECONDS
    return min(max(0.0, seconds), MAX_RETRY_AFTER_SECONDS)
