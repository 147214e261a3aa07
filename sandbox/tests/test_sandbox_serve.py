"""`sandbox_serve` as the Makefile and Procfile start it: a real process on a real port."""

import os
import re
import selectors
import signal
import subprocess
import sys
from pathlib import Path

import requests

from sandbox.management.commands.sandbox_serve import parse_addrport

ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"listening on (http://\S+)")


def manage(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "manage.py"), *args, "--settings=sandbox.settings"]


def read_line(proc: subprocess.Popen, seconds: float) -> str:
    """The first line the process prints, waiting at most `seconds`."""
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=seconds):
            return ""
    return proc.stdout.readline()


def test_it_reads_the_address_forms_runserver_takes():
    assert parse_addrport("8001") == ("127.0.0.1", 8001, False)
    assert parse_addrport("0.0.0.0:9000") == ("0.0.0.0", 9000, False)
    assert parse_addrport("[::1]:9000") == ("::1", 9000, True)


def test_it_serves_http_and_stops_on_sigterm(tmp_path):
    env = {
        **os.environ,
        "SANDBOX_DATABASE_URL": f"sqlite:///{tmp_path / 'sandbox.sqlite3'}",
        "VAR_DIR": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
    }
    subprocess.run(manage("migrate", "--no-input", "-v", "0"), env=env, check=True, timeout=60)
    proc = subprocess.Popen(
        manage("sandbox_serve", "127.0.0.1:0"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        match = LISTENING.search(read_line(proc, seconds=15))
        assert match, proc.stderr.read() if proc.poll() is not None else "no listening line"
        http = requests.Session()
        http.trust_env = False  # straight to loopback, whatever proxy the environment names
        login = http.get(match[1] + "admin/login/", timeout=5)
        css = http.get(match[1] + "static/admin/css/base.css", timeout=5)

        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)  # raises, failing the test, if SIGTERM is not obeyed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert login.status_code == 200
    assert css.status_code == 200
    assert code == 0
    assert "stopped" in proc.stdout.read()
