"""`manage.py sandbox_serve [ADDR:PORT] --settings=sandbox.settings`: the sandbox, one process.

It serves the sandbox (API, OAuth, shop UI, admin with its static files) with a threaded WSGI
server and runs the delivery worker beside it, so `make sandbox`, `make run` and the engine's
test fixtures each start one process, and SIGTERM or SIGINT stop it cleanly.
"""

import signal
import socketserver
import threading

from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.management.base import BaseCommand, CommandError
from django.core.management.commands.runserver import naiveip_re
from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer
from django.core.wsgi import get_wsgi_application

from sandbox.worker import DeliveryWorker

DEFAULT_ADDR = "127.0.0.1"
DEFAULT_PORT = 8001  # cartly-api.md: the sandbox serves Cartly's paths on loopback :8001
WORKER_STOP_SECONDS = 15.0  # in-flight sends are bounded by the delivery timeout


class SandboxServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a slow client never holds up a shutdown
    request_queue_size = 128  # Django's 10 drops connections under benchmark load


def parse_addrport(value: str) -> tuple[str, int, bool]:
    """`PORT`, `ADDR:PORT` or `[IPV6]:PORT`, as runserver takes them; port 0 picks a free one."""
    match = naiveip_re.match(value)
    if match is None:
        raise CommandError(f"{value!r} is not a port or an address:port pair")
    addr, ipv6 = match["addr"] or DEFAULT_ADDR, bool(match["ipv6"])
    if ipv6:
        addr = addr[1:-1]
    return addr, int(match["port"]), ipv6


class NoDelayHandler(WSGIRequestHandler):
    # The status line and headers go out as separate small writes; with Nagle on, a kept-alive
    # client waits ~40 ms for each answer (measured in bench/README.md).
    disable_nagle_algorithm = True


class Command(BaseCommand):
    help = "Serve the Cartly sandbox and send its REST Hook deliveries, in one process."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "addrport",
            nargs="?",
            default=f"{DEFAULT_ADDR}:{DEFAULT_PORT}",
            help=f"where to listen (default {DEFAULT_ADDR}:{DEFAULT_PORT}; port 0: any free)",
        )
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help="serve only: send no deliveries and abandon no carts",
        )

    def handle(self, *args, addrport: str, no_worker: bool, **options) -> None:
        addr, port, ipv6 = parse_addrport(addrport)
        try:
            httpd = SandboxServer((addr, port), NoDelayHandler, ipv6=ipv6)
        except OSError as exc:
            raise CommandError(f"cannot listen on {addr}:{port}: {exc.strerror}") from None
        httpd.set_app(StaticFilesHandler(get_wsgi_application()))
        worker = None if no_worker else DeliveryWorker()
        self._stop_on_signals(httpd)
        if worker is not None:
            worker.start()
        host = f"[{addr}]" if ipv6 else addr
        self.stdout.write(
            f"Cartly sandbox listening on http://{host}:{httpd.server_port}/ "
            f"(delivery worker {'off' if worker is None else 'on'})"
        )
        self.stdout.flush()
        try:
            httpd.serve_forever(poll_interval=0.2)
        finally:
            if worker is not None:
                worker.stop(WORKER_STOP_SECONDS)
            httpd.server_close()
        self.stdout.write("Cartly sandbox stopped")

    def _stop_on_signals(self, httpd: SandboxServer) -> None:
        def stop(signum, frame) -> None:
            # A second signal kills at once, should stopping ever hang.
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            # shutdown() waits for serve_forever, which runs in this very thread: ask from another.
            threading.Thread(target=httpd.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
