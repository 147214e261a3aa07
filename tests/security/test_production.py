"""Production settings by default: with DEBUG unset and only the required settings, Django's
deploy check is silent, the token keys are checked before anything starts, and the web app
serves pages, static files and offline API docs under gunicorn."""

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from cryptography.fernet import Fernet

from automations.admin import RecipeAdminForm
from automations.engine.render_limits import PREVIEW_DEADLINE_SECONDS
from tests.personas import make_recipe, make_shop, make_user

REPO = Path(__file__).resolve().parents[2]
START_SECONDS = 60.0  # gunicorn importing Django on a slow CI machine
HTTP_TIMEOUT = 30.0
SECURE = {"X-Forwarded-Proto": "https"}  # what a TLS-terminating proxy adds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Only what a deployment must set (README, "Production"), nothing from the test run."""
    env = {
        "PATH": os.environ["PATH"],
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'engine.sqlite3'}",
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/1"),
        "CARTLY_CLIENT_ID": "app-id",
        "CARTLY_CLIENT_SECRET": "app-secret",
        "VAR_DIR": str(tmp_path / "var"),
        "STATIC_ROOT": str(tmp_path / "static"),
    }
    return {**env, **extra}


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_deploy_check_is_silent_with_only_the_required_settings(tmp_path):
    done = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


@pytest.mark.parametrize(
    ("keys", "said"),
    [
        (None, "FIELD_ENCRYPTION_KEYS is not set"),
        ("not-a-key", "FIELD_ENCRYPTION_KEYS: key 1 of 1 is not a Fernet key"),
    ],
)
def test_a_missing_or_malformed_key_stops_the_check(tmp_path, keys, said):
    env = production_env(tmp_path)
    env.pop("FIELD_ENCRYPTION_KEYS")
    if keys is not None:
        env["FIELD_ENCRYPTION_KEYS"] = keys
    done = manage(env, "check")
    assert done.returncode != 0 and said in done.stderr


def test_only_debug_derives_a_key_from_the_secret_key(tmp_path):
    env = production_env(tmp_path, DEBUG="1")
    env.pop("FIELD_ENCRYPTION_KEYS")
    assert manage(env, "check").returncode == 0


STORE_A_TOKEN = (
    "from django.contrib.auth.models import User;"
    "from connectors.models import Connection;"
    "u = User.objects.create_user('o');"
    "Connection.objects.create(owner=u, shop_id='s', shop_name='S', shop_domain='s.test',"
    " access_token='secret-token')"
)


def test_a_key_that_cannot_open_the_stored_tokens_stops_the_check_and_gunicorn(tmp_path):
    env = production_env(tmp_path)
    assert manage(env, "migrate", "--no-input").returncode == 0
    assert manage(env, "shell", "-c", STORE_A_TOKEN).returncode == 0
    assert manage(env, "check").returncode == 0
    wrong = {**env, "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    done = manage(wrong, "check")
    assert done.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS cannot decrypt the shop tokens already stored" in done.stderr
    rotated = {
        **env,
        "FIELD_ENCRYPTION_KEYS": f"{wrong['FIELD_ENCRYPTION_KEYS']},{env['FIELD_ENCRYPTION_KEYS']}",
    }
    assert manage(rotated, "check").returncode == 0  # the old key kept behind the new one
    gunicorn = subprocess.run(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{free_port()}",
        ],
        cwd=REPO,
        env=wrong,
        capture_output=True,
        text=True,
        timeout=START_SECONDS,
    )
    assert gunicorn.returncode != 0 and "FIELD_ENCRYPTION_KEYS" in gunicorn.stderr


@pytest.mark.django_db
def test_the_admin_refuses_a_recipe_on_another_owners_connection():
    owner, other = make_user("owner"), make_user("other")
    recipe = make_recipe(owner, make_shop(owner))
    data = {"owner": owner.pk, "connection": make_shop(other).pk}
    form = RecipeAdminForm(data, instance=recipe)
    assert not form.is_valid()
    assert "connected by another user" in str(form.errors["connection"])


# -- the web app under gunicorn, DEBUG off --------------------------------------------------


class Browser:
    """requests with cookies sent by hand: the app's cookies are Secure, and this plain-HTTP
    hop stands behind a TLS-terminating proxy (the X-Forwarded-Proto header)."""

    def __init__(self, base: str) -> None:
        self.base, self.cookies = base, {}

    def go(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {
            **SECURE,
            "Referer": f"https://{urlsplit(self.base).netloc}{path}",
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
            **kwargs.pop("headers", {}),
        }
        response = requests.request(
            method,
            self.base + path,
            headers=headers,
            allow_redirects=False,
            timeout=HTTP_TIMEOUT,
            **kwargs,
        )
        self.cookies.update(response.cookies.get_dict())
        return response

    def log_in(self, username: str, password: str) -> None:
        self.go("GET", "/login/")
        answer = self.go(
            "POST",
            "/login/",
            data={
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": self.cookies["engine_csrftoken"],
            },
        )
        assert answer.status_code == 302, answer.text[:500]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """A migrated database, collected static files and a user, as an operator would set up."""
    tmp_path = tmp_path_factory.mktemp("deployment")
    env = production_env(tmp_path, SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https")
    for command in (["migrate", "--no-input"], ["collectstatic", "--no-input"]):
        done = manage(env, *command)
        assert done.returncode == 0, done.stderr
    make = (
        "from django.contrib.auth.models import User; User.objects.create_user('op', "
        "password='op-pass-2031-long')"
    )
    assert manage(env, "shell", "-c", make).returncode == 0
    return env


@pytest.fixture(params=["sync", "gthread"])
def gunicorn(request, deployment):
    port = free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--worker-class",
            request.param,
            "--threads",
            "2",
            "--timeout",
            "60",
        ],
        cwd=REPO,
        env=deployment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            requests.get(base + "/login/", headers=SECURE, timeout=HTTP_TIMEOUT)
            break
        except requests.ConnectionError:
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
    yield base
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def test_it_serves_pages_static_files_and_offline_api_docs(gunicorn):
    plain = requests.get(gunicorn + "/login/", allow_redirects=False, timeout=HTTP_TIMEOUT)
    assert plain.status_code == 301 and plain.headers["Location"].startswith("https://")
    browser = Browser(gunicorn)
    page = browser.go("GET", "/login/")
    assert page.status_code == 200 and "Log in" in page.text
    assert "max-age=31536000" in page.headers["Strict-Transport-Security"]
    assert "Secure" in page.headers["Set-Cookie"]
    css = browser.go("GET", "/static/automations/builder.css")
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    docs = browser.go("GET", "/api/docs/")
    assert docs.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert assets and all(a.startswith("/") and not a.startswith("//") for a in assets), assets
    for asset in assets:
        assert browser.go("GET", asset).status_code == 200, asset
    assert "https://" not in docs.text and "http://" not in docs.text


def test_templates_render_in_a_child_of_each_worker_kind(gunicorn):
    browser = Browser(gunicorn)
    browser.log_in("op", "op-pass-2031-long")
    document = {
        "trigger": "cartly.order_created",
        "steps": [
            {
                "key": "a",
                "operation": "cartly.update_order",
                "fields": {
                    "order_id": "{{ trigger.id }}",
                    "note": "{{ (('x' * 60000).encode() * 100000)|length }}",
                },
            }
        ],
    }
    answer = browser.go(
        "POST",
        "/recipes/preview/",
        json={"document": document},
        headers={"X-CSRFToken": browser.cookies["engine_csrftoken"]},
    )
    assert answer.status_code == 200, answer.text[:500]
    fields = answer.json()["fields"]
    assert fields["steps[0].fields.note"] == {"error": '"Note": the template needs too much memory'}
    assert fields["steps[0].fields.order_id"]["value"].startswith("ord_")
    assert answer.elapsed.total_seconds() < PREVIEW_DEADLINE_SECONDS * 6  # a hang check
