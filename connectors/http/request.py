"""From the HTTP step's converted inputs to the request it sends, checked before anything is sent.

Every refusal is a ValidationFailed naming the input, in the builder's words: the merchant fixes
the recipe, and retrying would not help.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from connectors.errors import ValidationFailed

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
BODY_NONE, BODY_JSON, BODY_FORM = "none", "json", "form"
BODY_TYPES = (BODY_NONE, BODY_JSON, BODY_FORM)
CONTENT_TYPES = {BODY_JSON: "application/json", BODY_FORM: "application/x-www-form-urlencoded"}
# A worker waits at most this long on one call; 30 s stays well inside the task's time limit.
MIN_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS, DEFAULT_TIMEOUT_SECONDS = 1, 30, 10
# What a step sends is a notification, not a file: a MiB is plenty, and bounds our memory.
MAX_BODY_BYTES = 1024 * 1024
MAX_URL_LENGTH = 2048  # what browsers and most servers accept
MAX_HEADERS = 50
MAX_HEADER_VALUE_LENGTH = 8 * 1024  # a common server limit for one header line
# RFC 9110 5.1: a header name is a token.
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # tab is allowed in values
SIGNATURE_HEADER = "X-Cartly-Automations-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
# Set by us or by the connection itself: a merchant's value would break the request or the
# guarantees it carries (idempotency, signature, the checked Host).
RESERVED_HEADERS = frozenset(
    name.lower()
    for name in (
        "Host", "Content-Length", "Transfer-Encoding", "Connection", "Upgrade", "TE",
        "Trailer", "Keep-Alive", "Proxy-Connection", IDEMPOTENCY_HEADER, SIGNATURE_HEADER,
    )
)  # fmt: skip


@dataclass(frozen=True)
class OutgoingRequest:
    method: str
    url: str
    host: str  # for messages
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    sign: bool = False


def _refuse(key: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={key: [message]})


def clean_url(raw: Any) -> tuple[str, str]:
    """An absolute http(s) URL without credentials, and its host."""
    url = str(raw or "").strip()
    if not url:
        raise _refuse("url", "The URL is required.")
    if len(url) > MAX_URL_LENGTH or any(c.isspace() for c in url):
        raise _refuse("url", f"The URL must be one line of at most {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port  # .port raises ValueError for a bad port
    except ValueError:
        raise _refuse("url", "The URL is not a valid address.") from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise _refuse("url", "The URL must start with http:// or https:// and name a host.")
    if parts.username is not None or parts.password is not None:
        raise _refuse(
            "url", "The URL must not hold a user name or password: send them in a header."
        )
    return url, host


def parse_headers(text: Any) -> dict[str, str]:
    """`Name: value` lines (blank lines skipped) as a dict; repeated names are refused."""
    headers: dict[str, str] = {}
    lines = [line for line in str(text or "").splitlines() if line.strip()]
    if len(lines) > MAX_HEADERS:
        raise _refuse("headers", f"At most {MAX_HEADERS} headers.")
    for number, line in enumerate(lines, start=1):
        name, colon, value = line.partition(":")
        name, value = name.strip(), value.strip()
        if not colon or not HEADER_NAME.match(name):
            raise _refuse("headers", f"Line {number} must read `Name: value`.")
        if name.lower() in RESERVED_HEADERS:
            raise _refuse("headers", f"{name} is set by the step itself; leave it out.")
        if name.lower() in {n.lower() for n in headers}:
            raise _refuse("headers", f"{name} is given twice.")
        if CONTROL_CHARACTERS.search(value) or len(value) > MAX_HEADER_VALUE_LENGTH:
            raise _refuse(
                "headers",
                f"The value of {name} holds a control character or is "
                f"longer than {MAX_HEADER_VALUE_LENGTH} characters.",
            )
        headers[name] = value
    return headers


def _form_body(text: str) -> bytes:
    pairs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, equals, value = line.partition("=")
        if not equals or not key.strip():
            raise _refuse("body", f"Line {number} of a form body must read `key=value`.")
        pairs.append((key.strip(), value.strip()))
    return urlencode(pairs).encode("utf-8")


def encode_body(body_type: str, text: Any) -> bytes:
    """The body's bytes: JSON as rendered once it parses, or the form's key=value lines."""
    text = str(text or "")
    if body_type == BODY_NONE:
        return b""
    if body_type == BODY_JSON:
        if not text.strip():
            return b""
        try:
            json.loads(text)
        except ValueError as exc:
            raise _refuse(
                "body",
                f"The body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).",
            ) from None
        return text.encode("utf-8")
    return _form_body(text)


def clean_timeout(raw: Any) -> int:
    timeout = DEFAULT_TIMEOUT_SECONDS if raw is None else raw
    if not isinstance(timeout, int) or not MIN_TIMEOUT_SECONDS <= timeout <= MAX_TIMEOUT_SECONDS:
        raise _refuse(
            "timeout_seconds",
            f"The timeout must be {MIN_TIMEOUT_SECONDS} to {MAX_TIMEOUT_SECONDS} seconds.",
        )
    return timeout


def build(values: dict[str, Any]) -> OutgoingRequest:
    """The request the step's inputs describe; ValidationFailed names the first wrong input."""
    method = str(values.get("method") or "").upper()
    if method not in METHODS:
        raise _refuse("method", f"The method must be one of {', '.join(METHODS)}.")
    url, host = clean_url(values.get("url"))
    headers = parse_headers(values.get("headers"))
    body_type = values.get("body_type") or BODY_NONE
    if body_type not in BODY_TYPES:
        raise _refuse("body_type", f"The body type must be one of {', '.join(BODY_TYPES)}.")
    body = encode_body(body_type, values.get("body"))
    if len(body) > MAX_BODY_BYTES:
        raise _refuse("body", f"The body is larger than {MAX_BODY_BYTES // 1024} KiB.")
    if body and method == "GET":
        raise _refuse("body", "A GET request sends no body: choose POST or body type none.")
    if body and not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = CONTENT_TYPES[body_type]
    return OutgoingRequest(
        method=method,
        url=url,
        host=host,
        headers=headers,
        body=body,
        timeout=clean_timeout(values.get("timeout_seconds")),
        sign=bool(values.get("sign")),
    )
