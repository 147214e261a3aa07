"""The Cartly API client against a real sandbox over real HTTP (cartly-api.md)."""

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from connectors import errors
from connectors.cartly import CartlyClient, iter_pages
from connectors.cartly.constants import CARTLY_SCOPES
from tests.sandbox_server import SandboxServer, free_port

# Shorter than the injected latency below, so the client gives up first.
SHORT_TIMEOUT_SECONDS = 0.5
INJECTED_LATENCY_MS = 3000
UNREACHABLE_HOOK_URL = "http://127.0.0.1:9/hooks/cartly/test/"


def unique_email(label: str = "buyer") -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}@example.com"


@pytest.fixture(scope="module")
def token(sandbox: SandboxServer) -> str:
    return sandbox.authorize(CARTLY_SCOPES)["access_token"]


@pytest.fixture
def client(sandbox: SandboxServer, token: str) -> CartlyClient:
    return CartlyClient(token, base_url=sandbox.base_url)


@pytest.fixture
def faults(sandbox: SandboxServer) -> Iterator:
    """sandbox.set_faults, with every fault cleared again after the test."""
    yield sandbox.set_faults
    sandbox.reset_faults()


@pytest.fixture
def order(sandbox: SandboxServer, client: CartlyClient) -> dict:
    """A fresh order, placed in the shop as a buyer would."""
    [done] = sandbox.sandbox_event("order.created")
    order_id = done["ids"]["order_id"]
    return next(o for o in iter_pages(client.list_orders) if o["id"] == order_id)


# --- success shapes ------------------------------------------------------------------------


def test_it_reads_the_shop_behind_the_token(sandbox, cartly_settings, token):
    me = CartlyClient(token).me()  # base URL from settings.CARTLY_BASE_URL

    assert me["shop"]["id"] == sandbox.seed["shop"]["id"]
    assert me["shop"]["domain"] == sandbox.seed["shop"]["domain"]
    assert set(me["shop"]) >= {"id", "name", "domain", "currency"}
    assert me["app"]["name"]


def test_it_creates_finds_and_updates_a_customer(client):
    email = unique_email()

    created = client.create_customer({"email": email, "first_name": "Jane", "tags": ["vip"]})
    found = client.list_customers(email=email)
    updated = client.update_customer(created["id"], {"last_name": "Doe"})

    assert created["id"].startswith("cus_")
    assert created["email"] == email
    assert created["tags"] == ["vip"]
    assert [c["id"] for c in found] == [created["id"]]
    assert (updated["first_name"], updated["last_name"]) == ("Jane", "Doe")


def test_it_lists_finds_and_updates_orders(client, order):
    by_number = client.list_orders(number=order["number"])
    same_status = list(iter_pages(client.list_orders, status=order["status"]))
    noted = client.update_order(order["id"], {"note": "Gift wrap, please"})

    assert order["id"].startswith("ord_")
    assert [o["id"] for o in by_number] == [order["id"]]
    assert order["id"] in [o["id"] for o in same_status]
    assert {o["status"] for o in same_status} == {order["status"]}
    assert noted["note"] == "Gift wrap, please"
    assert set(noted) >= {"number", "status", "total_price", "line_items", "customer"}


def test_it_refuses_a_forbidden_order_status_change(client, order):
    client.update_order(order["id"], {"status": "canceled"})

    with pytest.raises(errors.ValidationFailed) as caught:
        client.update_order(order["id"], {"status": "fulfilled"})

    assert caught.value.permanent
    assert "status" in caught.value.fields


def test_it_lists_products_and_sets_inventory(client):
    product = client.list_products(limit=1)[0]  # the seeded catalogue
    variant_id = product["variants"][0]["id"]

    level = client.set_inventory(variant_id, available=7)
    adjusted = client.set_inventory(variant_id, adjustment=-2)

    assert product["id"].startswith("prd_")
    assert variant_id.startswith("var_")
    assert level["variant_id"] == variant_id
    assert level["available"] == 7
    assert adjusted["available"] == 5


def test_it_refuses_inventory_with_both_or_neither_amount_before_calling(client):
    with pytest.raises(errors.ValidationFailed):
        client.set_inventory("var_whatever", adjustment=1, available=1)
    with pytest.raises(errors.ValidationFailed):
        client.set_inventory("var_whatever")


def test_it_creates_a_discount(client):
    code = f"SAVE-{uuid.uuid4().hex[:8]}"

    discount = client.create_discount({"code": code, "kind": "percentage", "value": "15.00"})

    assert discount["id"].startswith("dsc_")
    assert (discount["code"], discount["kind"], discount["value"]) == (code, "percentage", "15.00")


def test_it_subscribes_lists_and_unsubscribes_a_webhook(client):
    hook = client.create_webhook(UNREACHABLE_HOOK_URL, ["order.created", "order.updated"])
    listed = client.list_webhooks()
    client.delete_webhook(hook["id"])

    assert hook["id"].startswith("wh_")
    assert hook["events"] == ["order.created", "order.updated"]
    assert hook["id"] in [h["id"] for h in listed]
    assert hook["id"] not in [h["id"] for h in client.list_webhooks()]
    with pytest.raises(errors.NotFound):
        client.delete_webhook(hook["id"])


# --- Cartly's refusals -------------------------------------------------------------------------


def test_it_carries_cartlys_field_messages_for_a_taken_email(client):
    email = unique_email()
    client.create_customer({"email": email})

    with pytest.raises(errors.ValidationFailed) as caught:
        client.create_customer({"email": email})

    assert caught.value.permanent
    assert caught.value.fields == {"email": ["already taken"]}
    assert "already taken" in str(caught.value)


def test_it_carries_cartlys_field_messages_for_a_bad_discount(client):
    with pytest.raises(errors.ValidationFailed) as caught:
        client.create_discount({"code": "TOO-MUCH", "kind": "percentage", "value": "150"})

    assert list(caught.value.fields) == ["value"]
    assert caught.value.fields["value"][0] in str(caught.value)


def test_it_refuses_an_unknown_webhook_event(client):
    with pytest.raises(errors.ValidationFailed) as caught:
        client.create_webhook(UNREACHABLE_HOOK_URL, ["order.exploded"])

    assert "events" in caught.value.fields


def test_it_reports_an_unknown_customer_as_not_found(client):
    with pytest.raises(errors.NotFound) as caught:
        client.update_customer("cus_00000000000000000000000000", {"note": "hello"})

    assert caught.value.permanent


def test_it_reports_a_bogus_token_as_expired_auth_without_showing_it(sandbox):
    bogus = "bogus-" + uuid.uuid4().hex

    with pytest.raises(errors.AuthExpired) as caught:
        CartlyClient(bogus, base_url=sandbox.base_url).me()

    assert not caught.value.permanent
    assert bogus not in str(caught.value)
    assert bogus not in repr(caught.value)


def test_it_reports_a_missing_scope_as_insufficient_scope(sandbox):
    narrow = sandbox.authorize(["read_shop"])["access_token"]
    client = CartlyClient(narrow, base_url=sandbox.base_url)

    assert client.me()["shop"]["id"] == sandbox.seed["shop"]["id"]
    with pytest.raises(errors.InsufficientScope) as caught:
        client.list_customers()

    assert caught.value.permanent
    assert "read_customers" in str(caught.value)


# --- the shop misbehaving ----------------------------------------------------------------------


def test_it_reports_a_rate_limit_with_the_wait_cartly_asks_for(client, faults):
    faults(fault_rate_limit_rate=1)

    with pytest.raises(errors.RateLimited) as caught:
        client.me()

    assert not caught.value.permanent
    assert caught.value.retry_after >= 1


def test_it_reports_a_server_error_as_transient(client, faults):
    faults(fault_error_rate=1)

    with pytest.raises(errors.Transient) as caught:
        client.list_customers()

    assert not caught.value.permanent
    assert caught.value.message  # Cartly's own words, not a stack trace


def test_it_reports_a_timeout_as_transient(sandbox, token, faults):
    faults(fault_latency_ms=INJECTED_LATENCY_MS)
    client = CartlyClient(token, base_url=sandbox.base_url, timeout=SHORT_TIMEOUT_SECONDS)

    with pytest.raises(errors.Transient) as caught:
        client.me()

    assert "did not answer" in str(caught.value)


def test_it_reports_a_refused_connection_as_transient(token):
    client = CartlyClient(token, base_url=f"http://127.0.0.1:{free_port()}")

    with pytest.raises(errors.Transient) as caught:
        client.me()

    assert "Could not reach Cartly" in str(caught.value)


def test_it_reports_a_proxys_html_502_as_transient_in_plain_words(token, proxy_page):
    client = CartlyClient(token, base_url=proxy_page)

    with pytest.raises(errors.Transient) as caught:
        client.me()

    assert caught.value.status_code == 502
    assert "502 Bad Gateway" in str(caught.value)
    assert "<html" not in str(caught.value)


# --- idempotency -------------------------------------------------------------------------------


def test_it_replays_an_idempotent_create(client):
    email, key = unique_email(), str(uuid.uuid4())

    first = client.create_customer({"email": email}, idempotency_key=key)
    again = client.create_customer({"email": email}, idempotency_key=key)

    assert again == first
    assert len(client.list_customers(email=email)) == 1


def test_it_reports_a_reused_key_with_another_body_as_conflict(client):
    key = str(uuid.uuid4())
    client.create_customer({"email": unique_email()}, idempotency_key=key)

    with pytest.raises(errors.Conflict) as caught:
        client.create_customer({"email": unique_email()}, idempotency_key=key)

    assert caught.value.permanent


def test_it_sends_the_idempotency_key_only_when_given(token, proxy_page, recorded):
    client = CartlyClient(token, base_url=proxy_page)

    for key in (None, "run-1-step-2"):
        with pytest.raises(errors.Transient):
            client.create_customer({"email": "x@example.com"}, idempotency_key=key)

    assert [r.get("Idempotency-Key") for r in recorded] == [None, "run-1-step-2"]
    assert all(r["Authorization"] == f"Bearer {token}" for r in recorded)
    assert all(r["Content-Type"] == "application/json" for r in recorded)


# --- paging ------------------------------------------------------------------------------------


def test_it_pages_through_a_list_by_since_id(sandbox, client, token):
    marker = client.create_customer({"email": unique_email("marker")})
    created = [client.create_customer({"email": unique_email()})["id"] for _ in range(5)]
    calls: list[str] = []
    session = requests.Session()
    session.hooks["response"].append(lambda response, **_: calls.append(response.url))
    counted = CartlyClient(token, base_url=sandbox.base_url, session=session)

    seen = [c["id"] for c in iter_pages(counted.list_customers, since_id=marker["id"], page_size=2)]

    assert seen == created
    assert len(calls) == 3  # 2 + 2 + a short page of 1


# --- a stand-in for a broken proxy in front of Cartly ------------------------------------------

PROXY_PAGE = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


@pytest.fixture
def recorded() -> list:
    return []


@pytest.fixture
def proxy_page(recorded: list) -> Iterator[str]:
    """A real HTTP server answering every call with a proxy's HTML 502, recording headers."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            recorded.append(dict(self.headers))
            self.send_response(502)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(PROXY_PAGE)))
            self.end_headers()
            self.wfile.write(PROXY_PAGE)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, *args) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_an_address_without_a_scheme_is_a_permanent_error(token):
    client = CartlyClient(token, base_url="cartly.example/apps")

    with pytest.raises(errors.Permanent, match="is not valid"):
        client.me()


def test_the_pooled_session_sends_the_bearer_token_and_accept_headers(token, proxy_page, recorded):
    client = CartlyClient(token, base_url=proxy_page)

    with pytest.raises(errors.Transient):
        client.list_customers(email="buyer@example.com")

    assert recorded[-1]["Authorization"] == f"Bearer {token}"
    assert recorded[-1]["Accept"] == "application/json"


def test_a_configured_proxy_keeps_a_requests_session_for_no_proxy(monkeypatch):
    from connectors.cartly import client as module

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setattr(module, "_session", None)
    assert isinstance(module.shared_session(), requests.Session)
    monkeypatch.setattr(module, "_session", None)
    monkeypatch.delenv("HTTPS_PROXY")
    monkeypatch.delenv("https_proxy", raising=False)
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.delenv("http_proxy", raising=False)
    assert isinstance(module.shared_session(), module.PooledSession)
