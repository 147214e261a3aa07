"""`make run`: seed the sandbox, make the local logins, start every process (Procfile), and
print the logins last, once the engine and the sandbox answer. Ctrl-C stops everything and
ends cleanly (exit 0), so make reports no error.

    python -m config.devrun --engine-url http://127.0.0.1:8000 --sandbox-url http://127.0.0.1:8001
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR = BASE_DIR / "var"
PYTHON = sys.executable
MANAGE = [PYTHON, str(BASE_DIR / "manage.py")]
SANDBOX_SETTINGS = "--settings=sandbox.settings"
# Seconds to wait for the engine and the sandbox to answer after start (a cold start on a slow
# machine migrates nothing here, so a few seconds is usual; a minute means something is wrong).
READY_TIMEOUT = 60.0
READY_POLL = 0.5
# After Ctrl-C, honcho stops its processes; give them this long before insisting.
STOP_TIMEOUT = 20.0
# What the Celery worker and beat write once they are running (their INFO log lines).
READY_LINES = {
    "worker": re.compile(r"celery@\S+ ready\."),
    "beat": re.compile(r"beat: Starting\.\.\."),
}
PRINT_LOCK = threading.Lock()  # the banner never lands inside a line of the processes' log


def write_private(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data))
    path.chmod(0o600)


def seed_sandbox(engine_url: str) -> dict:
    """Seed the sandbox (idempotent), hand the engine its OAuth app; the merchant login."""
    answer = subprocess.run(
        [
            *MANAGE,
            "sandbox_seed",
            SANDBOX_SETTINGS,
            "--redirect-uri",
            f"{engine_url}/connections/cartly/callback/",
            "--env-file",
            str(VAR / "run.env"),
            "--json",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    merchant = json.loads(answer.stdout)["merchant"]  # the client secret is not kept here
    login = {"username": merchant["username"], "password": merchant["password"]}
    write_private(VAR / "merchant-login.json", login)
    return login


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own loopback
            return response.status < 500
    except (urllib.error.URLError, OSError):
        return False


class Echo(threading.Thread):
    """Passes honcho's output through and notes when the worker and beat say they are up."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream = stream
        self.started = {name: threading.Event() for name in READY_LINES}

    def run(self) -> None:
        for line in self.stream:
            with PRINT_LOCK:
                sys.stdout.write(line)
                sys.stdout.flush()
            for name, pattern in READY_LINES.items():
                if pattern.search(line):
                    self.started[name].set()

    def all_started(self) -> bool:
        return all(event.is_set() for event in self.started.values())


def wait_until_up(urls: list[str], processes: subprocess.Popen, echo: Echo) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if processes.poll() is not None:
            return False
        if echo.all_started() and all(answers(url) for url in urls):
            return True
        time.sleep(READY_POLL)
    return False


def banner(engine_url: str, sandbox_url: str, merchant: dict) -> str:
    demo = json.loads((VAR / "demo-login.json").read_text())
    admin = json.loads((VAR / "admin-login.json").read_text())
    rule = "=" * 72
    return "\n".join(
        [
            "",
            rule,
            "  Cartly Automations is running. Log in with:",
            "",
            f"  Engine (merchant pages)  {engine_url}/",
            f"      {demo['username']} / {demo['password']}",
            f"  Engine admin             {engine_url}/admin/",
            f"      {admin['username']} / {admin['password']}",
            f"  Sandbox shop (Cartly)    {sandbox_url}/",
            f"      {merchant['username']} / {merchant['password']}",
            "",
            "  The logins are kept in var/demo-login.json, var/admin-login.json and",
            "  var/merchant-login.json. Stop everything with Ctrl-C.",
            rule,
            "",
        ]
    )


def stop(processes: subprocess.Popen) -> None:
    try:
        processes.wait(timeout=STOP_TIMEOUT)  # honcho got the Ctrl-C too and is stopping
    except (subprocess.TimeoutExpired, KeyboardInterrupt):  # slow, or a second Ctrl-C
        processes.terminate()
        processes.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine-url", default="http://127.0.0.1:8000")
    parser.add_argument("--sandbox-url", default="http://127.0.0.1:8001")
    args = parser.parse_args()
    processes, echo = None, None
    try:
        merchant = seed_sandbox(args.engine_url)
        subprocess.run([*MANAGE, "demo_user"], check=True, capture_output=True)
        bin_dir = Path(PYTHON).parent  # the Procfile's `python` and `celery` are the venv's
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
        processes = subprocess.Popen(
            [
                str(bin_dir / "honcho"),
                "--env",
                str(VAR / "run.env"),
                "--procfile",
                str(BASE_DIR / "Procfile"),
                "start",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        echo = Echo(processes.stdout)
        echo.start()
        urls = [f"{args.engine_url}/login/", f"{args.sandbox_url}/login/"]
        if wait_until_up(urls, processes, echo):
            with PRINT_LOCK:
                print(banner(args.engine_url, args.sandbox_url, merchant), flush=True)
        elif processes.poll() is None:
            print(f"Not up after {READY_TIMEOUT:.0f} s: see the log above.", flush=True)
        code = processes.wait()
        echo.join()
        return code
    except KeyboardInterrupt:
        if processes is not None:
            stop(processes)
        if echo is not None:
            echo.join(timeout=STOP_TIMEOUT)
        print("\nStopped.", flush=True)
        return 0
    except subprocess.CalledProcessError as exc:
        output = exc.stderr or ""
        sys.stderr.write(output if isinstance(output, str) else output.decode())
        return exc.returncode


if __name__ == "__main__":
    sys.exit(main())
