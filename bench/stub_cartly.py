"""A stub Cartly that answers at once: the stand-in for Cartly in the end-to-end benchmark.

    python -m bench.stub_cartly --port N --token T [--max-seconds S]

Not the sandbox: no database, no OAuth server, no rate limit, no validation beyond the bearer
token. It answers only what the benchmark's recipe and the engine's connect / enable path call
(cartly-api.md, "Endpoints"), the same way ../shared/bench-n8n/sink.py answers n8n: a stdlib
threading server, HTTP/1.1 keep-alive, Nagle off. Standard library only, so its CPU is the cost
of answering and nothing else; `GET /stats` reports what it was asked.

    GET  /apps/api/me              the shop
    GET  /apps/api/webhooks        the hooks registered here (since_id, limit)
    POST /apps/api/webhooks        201 {"webhook"}
    DELETE /apps/api/webhooks/:id  204
    POST /apps/api/customers       201 {"customer"} echoing the body, with a new id
    GET  /stats                    {"customers", "distinct_idempotency_keys", "requests"}
"""

from __future__ import annotations

import argparse
import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

SHOP = {
    "id": "shop_BENCH0000000000000000000001",
    "name": "Bench shop",
    "domain": "bench.mycartly.pro",
    "currency": "EUR",
}
MAX_BODY_BYTES = 1024 * 1024  # the engine sends a few hundred bytes; refuse anything absurd
PAGE_LIMIT_MAX = 250  # cartly-api.md, "Conventions"
CHECK_SECONDS = 1.0


class State:
    """What the stub was asked, under one lock (the server is threaded)."""

    def __init__(self, token: str):
        self.token = token
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        self.webhooks: list[dict] = []
        self.customers = 0
        self.keys: set[str] = set()
        self.requests = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the engine's pooled session reuses sockets
    disable_nagle_algorithm = True  # headers and body are two writes; Nagle would hold the body
    state: State  # set on the subclass main() makes

    def log_message(self, *args) -> None:  # one line per request would cost more than the answer
        pass

    def _reply(self, status: int, payload: dict | None) -> None:
        body = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _read_json(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(min(length, MAX_BODY_BYTES)) if length else b""
        try:
            value = json.loads(raw or b"{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def _authorized(self) -> bool:
        with self.state.lock:
            self.state.requests += 1
        if self.headers.get("Authorization") == f"Bearer {self.state.token}":
            return True
        self._reply(401, {"error": "invalid_token", "message": "The access token is invalid."})
        return False

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/stats":
            with self.state.lock:
                stats = {
                    "customers": self.state.customers,
                    "requests": self.state.requests,
                    "distinct_idempotency_keys": len(self.state.keys),
                }
            return self._reply(200, stats)
        if not self._authorized():
            return None
        if url.path == "/apps/api/me":
            return self._reply(200, {"shop": SHOP, "app": {"name": "Cartly Automations"}})
        if url.path == "/apps/api/webhooks":
            query = parse_qs(url.query)
            since = query.get("since_id", [""])[0]
            limit = min(int(query.get("limit", ["50"])[0] or 50), PAGE_LIMIT_MAX)
            with self.state.lock:
                page = [h for h in self.state.webhooks if h["id"] > since][:limit]
            return self._reply(200, {"webhooks": page})
        return self._reply(404, {"error": "not_found", "message": "Not served by the stub."})

    def do_POST(self) -> None:
        body = self._read_json()  # first: an unread body would be parsed as the next request
        if not self._authorized():
            return None
        path = urlsplit(self.path).path
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with self.state.lock:
            number = next(self.state.ids)
        if path == "/apps/api/customers":
            key = self.headers.get("Idempotency-Key") or ""
            with self.state.lock:
                self.state.customers += 1
                self.state.keys.add(key)
            customer = {
                **body,
                "id": f"cus_BENCH{number:021d}",
                "created_at": now,
                "updated_at": now,
            }
            return self._reply(201, {"customer": customer})
        if path == "/apps/api/webhooks":
            hook = {
                "id": f"wh_BENCH{number:022d}",
                "url": body.get("url", ""),
                "events": body.get("events", []),
                "created_at": now,
            }
            with self.state.lock:
                self.state.webhooks.append(hook)
            return self._reply(201, {"webhook": hook})
        return self._reply(404, {"error": "not_found", "message": "Not served by the stub."})

    def do_DELETE(self) -> None:
        if not self._authorized():
            return None
        hook_id = urlsplit(self.path).path.rsplit("/", 1)[-1]
        with self.state.lock:
            kept = [h for h in self.state.webhooks if h["id"] != hook_id]
            found = len(kept) != len(self.state.webhooks)
            self.state.webhooks = kept
        return self._reply(204, None) if found else self._reply(404, {"error": "not_found"})


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # a client closing its keep-alive socket (wrk stopping) is not worth a traceback


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True, help="the access token it accepts")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=3600,
        help="stops by itself after this long, so it never outlives a run",
    )
    args = parser.parse_args()
    handler = type("StubHandler", (Handler,), {"state": State(args.token)})
    server = Server(("127.0.0.1", args.port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    deadline = time.monotonic() + args.max_seconds
    try:
        while time.monotonic() < deadline:
            time.sleep(CHECK_SECONDS)
    except KeyboardInterrupt:
        pass
    server.shutdown()


if __name__ == "__main__":
    main()
