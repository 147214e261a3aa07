"""Signed Cartly deliveries of the n8n anchor's order, made before the clock starts.

The body of every delivery is ../shared/bench-n8n/order.json (what n8n's webhook receives)
as the `data` of Cartly's delivery envelope (cartly-api.md, "Deliveries": `id`, `event`,
`created_at`, `shop_id`, `data`), signed with HMAC-SHA256 under the client secret, with the
X-Cartly-Webhook-Id and X-Cartly-Shop-Domain headers, as Cartly and the sandbox send them.
Each delivery has its own event id and its own order id: the receiver dedupes on both (the
inbox is unique on the event id and on the change key, i.e. event type and order id), so a
repeated one would be answered 200 and do no work.

Bodies are built from one template by concatenation, so wrk's Lua script can rebuild exactly
the signed bytes from (event id, order id) without holding thousands of full bodies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from bench.procs import REPO_DIR

EVENT_MARK = "@@EVENT_ID@@"
ORDER_MARK = "@@ORDER_ID@@"
FIRST_ORDER_ID = 450_000_000  # order.json's id is 450789469; ours are unique per delivery


def n8n_dir() -> Path:
    """../shared/bench-n8n beside the project (BENCH_N8N_DIR overrides)."""
    configured = os.environ.get("BENCH_N8N_DIR")
    candidates = (
        [Path(configured)]
        if configured
        else [
            REPO_DIR.parent / "shared" / "bench-n8n",
            REPO_DIR.parent.parent / "shared" / "bench-n8n",
        ]
    )
    for candidate in candidates:
        if (candidate / "order.json").is_file():
            return candidate
    raise SystemExit(
        f"order.json of the n8n anchor not found in {candidates}; "
        "set BENCH_N8N_DIR to the bench-n8n directory"
    )


@dataclass(frozen=True)
class Delivery:
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Signer:
    """What a delivery needs besides its ids: the shop, the hook and the signing secret."""

    secret: str
    shop_id: str
    shop_domain: str
    webhook_id: str

    def template(self) -> tuple[str, str, str]:
        """The body in three parts: body = part0 + event id + part1 + order id + part2."""
        order = json.loads((n8n_dir() / "order.json").read_text())
        order["id"] = ORDER_MARK
        envelope = {
            "id": EVENT_MARK,
            "event": "order.created",
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "shop_id": self.shop_id,
            "data": order,
        }
        text = json.dumps(envelope, separators=(",", ":"))
        head, rest = text.split(EVENT_MARK)
        middle, tail = rest.split(f'"{ORDER_MARK}"')  # the order id stays a JSON number
        return head, middle, tail

    def signature(self, body: bytes) -> str:
        return "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()

    def headers(self, signature: str) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "X-Cartly-Hmac-Sha256": signature,
            "X-Cartly-Webhook-Id": self.webhook_id,
            "X-Cartly-Shop-Domain": self.shop_domain,
        }


class Sequence:
    """Distinct ids for every delivery of one harness run (phases never repeat an id)."""

    def __init__(self, tag: str):
        self.tag = tag
        self.next = 0

    def take(self, count: int) -> range:
        start = self.next
        self.next += count
        return range(start, start + count)


def event_id(tag: str, index: int) -> str:
    return f"evt_B{tag}{index:09d}"


def make(signer: Signer, ids: range, tag: str) -> list[Delivery]:
    """Full deliveries, for the Python client (bench/receiver.py, bench/stages.py)."""
    head, middle, tail = signer.template()
    out = []
    for index in ids:
        body = f"{head}{event_id(tag, index)}{middle}{FIRST_ORDER_ID + index}{tail}".encode()
        out.append(Delivery(body, signer.headers(signer.signature(body))))
    return out


def write_for_wrk(signer: Signer, ids: range, tag: str, path: Path) -> int:
    """The file bench/deliveries.lua reads: the template's three parts on the first three
    lines, then one `event_id order_id signature` line per delivery. Returns the count."""
    head, middle, tail = signer.template()
    with open(path, "w") as out:
        out.write(f"{head}\n{middle}\n{tail}\n")
        for index in ids:
            evt, oid = event_id(tag, index), FIRST_ORDER_ID + index
            body = f"{head}{evt}{middle}{oid}{tail}".encode()
            out.write(f"{evt} {oid} {signer.signature(body)}\n")
    return len(ids)
