"""The process's HTTP session for Cartly calls: urllib3's connection pool, answering like requests.

Why not a `requests.Session` on the hot path: per call, requests merges the environment's
settings, runs its hooks and cookie jar and rebuilds the prepared request, which is about half
of the CPU of a Cartly call (bench/README.md); a step batch makes dozens of calls under one
GIL. urllib3 is the pool requests itself uses, so connections, TLS and timeouts behave the
same; this module only keeps the client's contract: `request()` takes requests' arguments and
returns an object with requests' answer attributes, and failures are requests' exceptions, so
the client (client.py) classifies them exactly as before. The environment (a CA bundle) is
read once when the session is made; with a proxy configured, client.py keeps a requests
session, which honours `no_proxy` per host.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import urlencode, urlsplit

import certifi
import requests
import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    LocationValueError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

# The CA bundle requests would use: its environment variables, else certifi's.
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


class Answer:
    """What client.py reads of an answer: status, headers, body, JSON."""

    __slots__ = ("status_code", "headers", "content", "url")

    def __init__(self, status_code: int, headers: Any, content: bytes, url: str):
        self.status_code = status_code
        self.headers = headers  # urllib3's HTTPHeaderDict: case-insensitive, like requests'
        self.content = content
        self.url = url

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)  # ValueError (JSONDecodeError) when it is not JSON


def _ca_bundle() -> str:
    found = [os.environ[name] for name in CA_BUNDLE_VARIABLES if os.environ.get(name)]
    return found[0] if found else certifi.where()


class PooledSession:
    """`request()` with the subset of requests' signature the Cartly client uses."""

    def __init__(self, maxsize: int, hosts: int):
        # retries=False: a failure is raised as it happens (not wrapped in MaxRetryError), and
        # retrying is the engine's business (its schedule, its Idempotency-Keys).
        self._pool = urllib3.PoolManager(
            num_pools=hosts, maxsize=maxsize, retries=False, ca_certs=_ca_bundle()
        )

    def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Answer:
        if not urlsplit(url).scheme:
            raise requests.exceptions.MissingSchema(f"No scheme in {url!r}")
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        try:
            answer = self._pool.request(
                method,
                url,
                body=data,
                headers=headers,
                timeout=urllib3.Timeout(connect=timeout, read=timeout),
                redirect=allow_redirects,
            )
        except (HTTPError, OSError) as exc:
            raise _as_requests_error(exc) from exc
        return Answer(answer.status, answer.headers, answer.data, url)


def _as_requests_error(exc: Exception) -> requests.RequestException:
    """The requests exception for a urllib3 failure (a refused connection is a subclass of a
    connect timeout in urllib3, so it is tested first)."""
    if isinstance(exc, NewConnectionError):
        return requests.ConnectionError(str(exc))
    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError):
        return requests.Timeout(str(exc))
    if isinstance(exc, SSLError):
        return requests.exceptions.SSLError(str(exc))
    if isinstance(exc, LocationValueError):
        return requests.exceptions.InvalidURL(str(exc))
    if isinstance(exc, ProtocolError | OSError):
        return requests.ConnectionError(str(exc))
    return requests.RequestException(str(exc))
