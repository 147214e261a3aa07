"""A real sandbox Cartly in a child process, driven the way a merchant and a browser would.

The engine's tests meet the sandbox only over HTTP (DESIGN.md): this module runs its
management commands with their own settings and database, serves it on a free loopback port,
and walks its HTML pages (login, consent, faults) by reading their forms, not by hard-coding them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

REPO_DIR = Path(__file__).resolve().parent.parent
SANDBOX_SETTINGS = "--settings=sandbox.settings"
# The engine's OAuth callback as the seed registers it: local `make run` and Django's test client.
REDIRECT_URIS = (
    "http://127.0.0.1:8000/connections/cartly/callback/",
    "http://testserver/connections/cartly/callback/",
)
# Deliveries retry fast so a test sees retries in seconds (a real Cartly waits hours).
DELIVERY_RETRY_SECONDS = "0.2,0.5,1"
# No test should ever meet the rate limiter unless it asks for a 429 through the faults page.
RATE_LIMIT_BURST = "1000000"
RATE_LIMIT_PER_SECOND = "1000000"
STARTUP_TIMEOUT_SECONDS = 60.0  # a cold start imports Django and migrates nothing: seconds
STARTUP_POLL_SECONDS = 0.1
COMMAND_TIMEOUT_SECONDS = 120.0  # migrate on a fresh SQLite file is the slow one
STOP_TIMEOUT_SECONDS = 20.0  # sandbox_serve lets its delivery worker finish in-flight sends
HTTP_TIMEOUT_SECONDS = 30.0
# Fields of the sandbox's faults form that make its API misbehave (the Shop model's names).
FAULT_FIELDS = (
    "fault_error_rate",
    "fault_rate_limit_rate",
    "fault_latency_ms",
    "fault_delivery_fail_rate",
    "fault_delivery_duplicate_rate",
)
APPROVE_WORDS = ("allow", "approve", "authorize", "authorise")
DENY_WORDS = ("deny", "cancel", "don't", "do not", "reject", "decline")
LOG_TAIL_CHARS = 4000


class SandboxError(RuntimeError):
    """The sandbox did not do what a test setup needed; the message says what and where."""


# --- reading HTML forms ----------------------------------------------------------------------


@dataclass
class Form:
    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    # Submit buttons as (name, value, visible text); a form posts only the one clicked.
    buttons: list[tuple[str, str, str]] = field(default_factory=list)

    def values(self) -> dict[str, str]:
        return dict(self.fields)


class _FormParser(HTMLParser):
    """Collects every <form> with its successful controls (HTML's "form data set")."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: str | None = None
        self._select_first: str | None = None
        self._select_chosen = False
        self._textarea: str | None = None
        self._button: list[str] | None = None  # [name, value, text]
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "form":
            self._form = Form(action=a.get("action", ""), method=a.get("method", "get").lower())
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input":
            self._input(a)
        elif tag == "button":
            self._button = [a.get("name", ""), a.get("value", ""), ""]
            if a.get("type", "submit").lower() != "submit":
                self._button = None
        elif tag == "select" and "name" in a:
            self._select, self._select_first, self._select_chosen = a["name"], None, False
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            if self._select_first is None:
                self._select_first = value
            if "selected" in a and not self._select_chosen:
                self._form.fields.append((self._select, value))
                self._select_chosen = True
        elif tag == "textarea" and "name" in a:
            self._textarea, self._text = a["name"], []

    def _input(self, a: dict[str, str]) -> None:
        assert self._form is not None
        kind = a.get("type", "text").lower()
        if kind in ("submit", "image"):
            self._form.buttons.append((a.get("name", ""), a.get("value", ""), a.get("value", "")))
        elif kind in ("checkbox", "radio"):
            if "checked" in a and a.get("name"):
                self._form.fields.append((a["name"], a.get("value", "on")))
        elif kind not in ("button", "reset", "file") and a.get("name"):
            self._form.fields.append((a["name"], a.get("value", "")))

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button[2] += data
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._form is None:
            return
        if tag == "button" and self._button is not None:
            name, value, text = self._button
            self._form.buttons.append((name, value, text.strip()))
            self._button = None
        elif tag == "select" and self._select is not None:
            if not self._select_chosen and self._select_first is not None:
                self._form.fields.append((self._select, self._select_first))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self._form.fields.append((self._textarea, "".join(self._text).lstrip("\n")))
            self._textarea = None
        elif tag == "form":
            self._form = None


def parse_forms(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return parser.forms


def post_form(
    session: requests.Session, page: requests.Response, form: Form, data: dict | list
) -> requests.Response:
    """Submit `form` from `page` as a browser would: to its action, with a Referer."""
    target = urljoin(page.url, form.action or page.url)
    return session.post(
        target,
        data=data,
        headers={"Referer": page.url},
        allow_redirects=False,
        timeout=HTTP_TIMEOUT_SECONDS,
    )


def _pkce_pair() -> tuple[str, str]:
    """A code verifier and its S256 challenge (RFC 7636, 4.1 and 4.2)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return verifier, challenge


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the sandbox process ---------------------------------------------------------------------


class SandboxServer:
    """One sandbox: its database and var dir under `workdir`, served on a free port."""

    def __init__(self, workdir: Path, port: int | None = None):
        self.workdir = workdir
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.seed: dict = {}
        self.log_path = workdir / "sandbox-serve.log"
        self._process: subprocess.Popen | None = None
        self._log = None
        self.env = self._child_env()

    def _child_env(self) -> dict[str, str]:
        # Nothing of the engine's environment or a developer's SANDBOX_* tuning leaks in.
        inherited = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("SANDBOX_")
            and key not in ("DJANGO_SETTINGS_MODULE", "VAR_DIR", "DATABASE_URL")
        }
        return {
            **inherited,
            "VAR_DIR": str(self.workdir),
            "SANDBOX_DATABASE_URL": f"sqlite:///{self.workdir / 'sandbox.sqlite3'}",
            "SANDBOX_BASE_URL": self.base_url,
            "SANDBOX_DELIVERY_RETRY_SECONDS": DELIVERY_RETRY_SECONDS,
            "SANDBOX_RATE_LIMIT_BURST": RATE_LIMIT_BURST,
            "SANDBOX_RATE_LIMIT_PER_SECOND": RATE_LIMIT_PER_SECOND,
            "PYTHONUNBUFFERED": "1",
        }

    def manage(self, *args: str, timeout: float = COMMAND_TIMEOUT_SECONDS) -> str:
        """Run `manage.py ARGS --settings=sandbox.settings` in the sandbox's env; its stdout."""
        command = [sys.executable, "manage.py", *args, SANDBOX_SETTINGS]
        result = subprocess.run(
            command,
            cwd=REPO_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise SandboxError(
                f"`manage.py {' '.join(args)}` exited {result.returncode}:\n"
                f"{result.stdout[-LOG_TAIL_CHARS:]}\n{result.stderr[-LOG_TAIL_CHARS:]}"
            )
        return result.stdout

    def start(self) -> None:
        self.manage("migrate", "--no-input")
        redirects = [arg for uri in REDIRECT_URIS for arg in ("--redirect-uri", uri)]
        self.seed = json.loads(self.manage("sandbox_seed", "--json", *redirects))
        self._log = open(self.log_path, "wb")  # closed in stop()
        self._process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "sandbox_serve",
                f"127.0.0.1:{self.port}",
                SANDBOX_SETTINGS,
            ],
            cwd=REPO_DIR,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Its own process group, so stop() reaches the server's helpers too.
            start_new_session=True,
        )
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise SandboxError(
                    f"sandbox_serve exited {self._process.returncode}:\n{self.log_tail()}"
                )
            try:
                requests.get(f"{self.base_url}/login/", timeout=1)
                return
            except requests.RequestException:
                time.sleep(STARTUP_POLL_SECONDS)
        self.stop()
        raise SandboxError(
            f"sandbox_serve did not answer within {STARTUP_TIMEOUT_SECONDS:g}s:\n{self.log_tail()}"
        )

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-LOG_TAIL_CHARS:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    # --- as the merchant -------------------------------------------------------------------

    def merchant_session(self) -> requests.Session:
        """A fresh session logged into the sandbox's UI as the seeded merchant."""
        session = requests.Session()
        page = session.get(f"{self.base_url}/login/", timeout=HTTP_TIMEOUT_SECONDS)
        page.raise_for_status()
        form = _only_form(page, "login")
        data = {
            **form.values(),
            "username": self.seed["merchant"]["username"],
            "password": self.seed["merchant"]["password"],
        }
        answer = post_form(session, page, form, data)
        if answer.status_code != 302 or "sandbox_sessionid" not in session.cookies:
            raise SandboxError(f"login to the sandbox failed: {answer.status_code}")
        return session

    def authorize(
        self,
        scopes: str | Iterable[str],
        redirect_uri: str = REDIRECT_URIS[0],
        *,
        session: requests.Session | None = None,
    ) -> dict:
        """The authorization-code + PKCE S256 flow, approved by the merchant; the token JSON."""
        scope = scopes if isinstance(scopes, str) else " ".join(scopes)
        browser = session or self.merchant_session()
        verifier, challenge = _pkce_pair()
        state = secrets.token_urlsafe(16)
        oauth = self.seed["oauth"]
        page = browser.get(
            f"{self.base_url}/oauth/authorize/",
            params={
                "response_type": "code",
                "client_id": oauth["client_id"],
                "redirect_uri": redirect_uri,
                "scope": scope,
                "state": state,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
            allow_redirects=False,
            timeout=HTTP_TIMEOUT_SECONDS,
        )
        if page.status_code != 200:
            raise SandboxError(f"the consent page answered {page.status_code}: {page.text[:500]}")
        form, button = _approve_button(page)
        data = form.fields + ([button] if button[0] else [])
        answer = post_form(browser, page, form, data)
        query = parse_qs(urlsplit(answer.headers.get("Location", "")).query)
        if answer.status_code != 302 or "code" not in query:
            raise SandboxError(
                f"approving consent answered {answer.status_code} "
                f"to {answer.headers.get('Location')!r}: {answer.text[:500]}"
            )
        if query.get("state") != [state]:
            raise SandboxError("the consent redirect carried another state")
        return self.exchange_code(query["code"][0], redirect_uri, verifier)

    def exchange_code(self, code: str, redirect_uri: str, verifier: str) -> dict:
        """POST /oauth/token/ with HTTP Basic client auth (cartly-api.md, "OAuth 2.0")."""
        oauth = self.seed["oauth"]
        answer = requests.post(
            f"{self.base_url}/oauth/token/",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
            auth=(oauth["client_id"], oauth["client_secret"]),
            timeout=HTTP_TIMEOUT_SECONDS,
        )
        if answer.status_code != 200:
            raise SandboxError(f"the token endpoint answered {answer.status_code}: {answer.text}")
        return answer.json()

    def set_faults(self, **fields: float | int | None) -> None:
        """Save the faults page with these values (None = blank = the sandbox's default)."""
        session = self.merchant_session()
        page = session.get(f"{self.base_url}/faults/", timeout=HTTP_TIMEOUT_SECONDS)
        page.raise_for_status()
        form = _only_form(page, "faults", required=set(fields))
        data = form.values()
        for name, value in fields.items():
            data[name] = "" if value is None else str(value)
        answer = post_form(session, page, form, data)
        if answer.status_code != 302:
            raise SandboxError(f"the faults form was refused ({answer.status_code}): {fields}")

    def reset_faults(self) -> None:
        self.set_faults(**dict.fromkeys(FAULT_FIELDS))

    def sandbox_event(self, event: str, count: int = 1) -> list[dict]:
        """`manage.py sandbox_event EVENT --count N`: something happens in the shop, for real.

        One {"event", "steps", "ids"} per time, e.g. ids {"order_id": "ord_…"}; the running
        server's worker sends the deliveries.
        """
        return json.loads(self.manage("sandbox_event", event, "--count", str(count), "--json"))


def _only_form(page: requests.Response, what: str, required: set[str] | None = None) -> Form:
    """The page's form that posts (and holds `required` fields), or a SandboxError."""
    required = required or set()
    for form in parse_forms(page.text):
        if form.method == "post" and required <= set(form.values()):
            return form
    raise SandboxError(f"no {what} form with {sorted(required)} at {page.url}")


def _approve_button(page: requests.Response) -> tuple[Form, tuple[str, str]]:
    """The consent form and its Approve button, found by the button's words."""
    for form in parse_forms(page.text):
        for name, value, text in form.buttons:
            words = f"{name} {value} {text}".lower()
            approves = any(word in words for word in APPROVE_WORDS)
            if form.method == "post" and approves and not any(w in words for w in DENY_WORDS):
                return form, (name, value)
    raise SandboxError(f"no Approve button on the consent page: {page.text[:1000]}")
