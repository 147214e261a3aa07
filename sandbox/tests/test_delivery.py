"""REST Hook deliveries: signed POSTs, retries, 410 Gone, faults and claims (cartly-api.md)."""

import hashlib
import hmac
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection

from sandbox import delivery
from sandbox import shop as shop_actions
from sandbox.models import Delivery, DeliveryAttempt, Webhook
from sandbox.tests.conftest import CLIENT_SECRET
from sandbox.worker import DeliveryWorker

SLOW = "slow"  # an answer that arrives after the sender has given up


class Receiver:
    """A tiny HTTP endpoint on loopback: records every request, answers a scripted sequence."""

    def __init__(self, answers=(), slow_seconds: float = 1.0) -> None:
        self.answers = list(answers)
        self.slow_seconds = slow_seconds
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hooks/cartly/abc/"

    def _next_answer(self):
        with self.lock:
            return self.answers.pop(0) if self.answers else 200

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body}
                    )
                answer = receiver._next_answer()
                if answer == SLOW:
                    time.sleep(receiver.slow_seconds)
                    answer = 200
                self.send_response(answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        return Handler


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(*answers, slow_seconds: float = 1.0) -> Receiver:
        r = Receiver(answers, slow_seconds)
        r.thread.start()
        made.append(r)
        return r

    yield make
    for r in made:
        r.server.shutdown()
        r.server.server_close()


@pytest.fixture(autouse=True)
def fast_schedule(settings):
    settings.SANDBOX_DELIVERY_RETRY_SECONDS = [0, 0]
    settings.SANDBOX_DELIVERY_TIMEOUT_SECONDS = 2.0
    settings.SANDBOX_FAULT_DELIVERY_FAIL_RATE = 0.0
    settings.SANDBOX_FAULT_DELIVERY_DUPLICATE_RATE = 0.0


def subscribe(shop, app, url: str, events=("customer.created",)) -> Webhook:
    return Webhook.objects.create(shop=shop, application=app, url=url, events=list(events))


def register(shop, email: str = "jane@example.com"):
    return shop_actions.create_customer(shop, {"email": email, "first_name": "Jane"})


def drain(limit: int = 100) -> int:
    """Send until nothing is due (the retry schedule is all zeros here)."""
    sent = 0
    while (n := delivery.deliver_due(limit)) > 0:
        sent += n
    return sent


def test_it_signs_the_raw_body_with_the_client_secret(shop, app, receiver):
    hook_receiver = receiver(200)
    hook = subscribe(shop, app, hook_receiver.url)
    register(shop)

    assert delivery.deliver_due() == 1

    [request] = hook_receiver.requests
    expected = hmac.new(CLIENT_SECRET.encode(), request["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request["headers"]["X-Cartly-Hmac-Sha256"], f"sha256={expected}")
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["X-Cartly-Shop-Domain"] == "test.mycartly.pro"
    assert request["headers"]["X-Cartly-Webhook-Id"] == hook.id
    assert request["path"] == "/hooks/cartly/abc/"


def test_it_posts_the_event_envelope(shop, app, receiver):
    hook_receiver = receiver(200)
    subscribe(shop, app, hook_receiver.url)
    customer = register(shop)

    delivery.deliver_due()

    body = json.loads(hook_receiver.requests[0]["body"])
    assert set(body) == {"id", "event", "created_at", "shop_id", "data"}
    assert body["id"].startswith("evt_")
    assert body["event"] == "customer.created"
    assert body["shop_id"] == shop.id
    assert body["data"]["id"] == customer.id
    assert body["data"]["email"] == "jane@example.com"
    sent = Delivery.objects.get()
    assert sent.status == Delivery.Status.DELIVERED
    assert list(sent.attempt_log.values_list("status_code", flat=True)) == [200]


def test_it_sends_only_to_hooks_subscribed_to_the_event(shop, app, receiver):
    hook_receiver = receiver()
    subscribe(shop, app, hook_receiver.url, events=["order.created"])
    register(shop)

    assert delivery.deliver_due() == 0
    assert hook_receiver.requests == []


def test_it_retries_after_a_500_with_the_same_body_and_id(shop, app, receiver):
    hook_receiver = receiver(500, 200)
    subscribe(shop, app, hook_receiver.url)
    register(shop)

    assert drain() == 2

    first, second = hook_receiver.requests
    assert first["body"] == second["body"]
    assert first["headers"]["X-Cartly-Hmac-Sha256"] == second["headers"]["X-Cartly-Hmac-Sha256"]
    sent = Delivery.objects.get()
    assert json.loads(first["body"])["id"] == sent.event_id
    assert sent.status == Delivery.Status.DELIVERED
    assert sent.attempts == 2
    codes = sent.attempt_log.order_by("id").values_list("status_code", flat=True)
    assert list(codes) == [500, 200]


def test_it_waits_the_schedule_before_a_retry(shop, app, receiver, settings):
    settings.SANDBOX_DELIVERY_RETRY_SECONDS = [60]
    hook_receiver = receiver(500)
    subscribe(shop, app, hook_receiver.url)
    register(shop)

    assert delivery.deliver_due() == 1
    assert delivery.deliver_due() == 0

    sent = Delivery.objects.get()
    assert sent.status == Delivery.Status.PENDING
    assert 55 < (sent.next_attempt_at - sent.attempt_log.get().attempted_at).total_seconds() < 65
    assert len(hook_receiver.requests) == 1


def test_it_fails_when_the_retries_run_out(shop, app, receiver):
    hook_receiver = receiver(500, 502, 503, 200)
    subscribe(shop, app, hook_receiver.url)
    register(shop)

    assert drain() == 3  # the first try and the two retries of the schedule

    sent = Delivery.objects.get()
    assert sent.status == Delivery.Status.FAILED
    assert sent.next_attempt_at is None
    assert list(sent.attempt_log.order_by("id").values_list("status_code", flat=True)) == [
        500,
        502,
        503,
    ]
    assert len(hook_receiver.requests) == 3


def test_it_deletes_the_webhook_on_410(shop, app, receiver):
    hook_receiver = receiver(410)
    hook = subscribe(shop, app, hook_receiver.url)
    register(shop, "first@example.com")
    register(shop, "second@example.com")

    assert delivery.deliver_due(limit=1) == 1

    assert not Webhook.objects.filter(pk=hook.pk).exists()
    statuses = set(Delivery.objects.values_list("status", flat=True))
    assert statuses == {Delivery.Status.GONE}
    assert delivery.deliver_due() == 0
    assert len(hook_receiver.requests) == 1
    register(shop, "third@example.com")
    assert Delivery.objects.count() == 2  # no subscription, nothing new queued


def test_it_records_a_timeout_and_retries(shop, app, receiver, settings):
    settings.SANDBOX_DELIVERY_TIMEOUT_SECONDS = 0.2
    hook_receiver = receiver(SLOW, 200, slow_seconds=1.0)
    subscribe(shop, app, hook_receiver.url)
    register(shop)

    assert drain() == 2

    first, second = DeliveryAttempt.objects.order_by("id")
    assert first.status_code is None
    assert "timeout" in first.error
    assert second.status_code == 200
    assert Delivery.objects.get().status == Delivery.Status.DELIVERED


def test_it_records_a_refused_connection(shop, app):
    with socket.socket() as probe:  # a port nobody listens on once this closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    subscribe(shop, app, f"http://127.0.0.1:{port}/hooks/")
    register(shop)

    assert delivery.deliver_due() == 1

    attempt = DeliveryAttempt.objects.get()
    assert attempt.status_code is None
    assert attempt.error.startswith("connection error")
    assert len(attempt.error) <= delivery.ERROR_MAX_LENGTH
    assert Delivery.objects.get().status == Delivery.Status.PENDING


def test_it_injects_failures_without_sending(shop, app, receiver):
    hook_receiver = receiver(200)
    subscribe(shop, app, hook_receiver.url)
    shop.fault_delivery_fail_rate = 1.0
    shop.save()
    register(shop)

    assert delivery.deliver_due() == 1
    assert hook_receiver.requests == []
    assert DeliveryAttempt.objects.get().error == "injected failure"

    shop.fault_delivery_fail_rate = 0.0
    shop.save()
    assert delivery.deliver_due() == 1
    assert len(hook_receiver.requests) == 1
    assert Delivery.objects.get().status == Delivery.Status.DELIVERED


def test_it_takes_the_fault_rate_from_settings_if_the_shop_has_none(shop, app, receiver, settings):
    settings.SANDBOX_FAULT_DELIVERY_FAIL_RATE = 1.0
    hook_receiver = receiver(200)
    subscribe(shop, app, hook_receiver.url)
    register(shop)

    drain()

    assert hook_receiver.requests == []
    assert Delivery.objects.get().status == Delivery.Status.FAILED


def test_it_sends_an_injected_duplicate_with_identical_bytes(shop, app, receiver):
    hook_receiver = receiver(200, 200)
    subscribe(shop, app, hook_receiver.url)
    shop.fault_delivery_duplicate_rate = 1.0
    shop.save()
    register(shop)

    assert delivery.deliver_due() == 1

    first, second = hook_receiver.requests
    assert first["body"] == second["body"]
    assert first["headers"]["X-Cartly-Hmac-Sha256"] == second["headers"]["X-Cartly-Hmac-Sha256"]
    assert DeliveryAttempt.objects.count() == 2
    assert Delivery.objects.get().status == Delivery.Status.DELIVERED


def test_a_second_claim_of_one_attempt_loses(shop, app, receiver):
    subscribe(shop, app, receiver().url)
    register(shop)
    pending = Delivery.objects.get()
    now = pending.next_attempt_at

    assert delivery.claim(pending.pk, now) is True
    assert delivery.claim(pending.pk, now) is False
    pending.refresh_from_db()
    assert pending.attempts == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_senders_never_double_an_attempt(shop, app, receiver):
    hook_receiver = receiver()
    subscribe(shop, app, hook_receiver.url)
    for n in range(20):
        register(shop, f"buyer-{n}@example.com")
    start = threading.Barrier(2)

    def sender():
        start.wait()
        try:
            drain(limit=5)
        finally:
            connection.close()

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    ids = [json.loads(r["body"])["id"] for r in hook_receiver.requests]
    assert len(ids) == 20
    assert len(set(ids)) == 20
    assert DeliveryAttempt.objects.count() == 20
    assert set(Delivery.objects.values_list("status", flat=True)) == {Delivery.Status.DELIVERED}


def wait_for(predicate, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.mark.django_db(transaction=True)
def test_the_worker_thread_delivers_in_the_background(shop, app, receiver):
    hook_receiver = receiver(500, 200)
    subscribe(shop, app, hook_receiver.url)
    worker = DeliveryWorker(workers=2, poll_seconds=0.02)
    worker.start()
    try:
        register(shop)
        assert wait_for(lambda: Delivery.objects.filter(status=Delivery.Status.DELIVERED).exists())
    finally:
        worker.stop(timeout=10)

    assert len(hook_receiver.requests) == 2
    assert not worker._thread.is_alive()


@pytest.mark.django_db(transaction=True)
def test_stopping_the_worker_hands_back_claims_it_never_sent(shop, app, receiver):
    hook_receiver = receiver(SLOW, slow_seconds=0.5)  # answers 200 once the sender is stopping
    subscribe(shop, app, hook_receiver.url)
    for n in range(3):
        register(shop, f"buyer-{n}@example.com")
    worker = DeliveryWorker(workers=1, poll_seconds=0.02)  # one sending, one queued behind it
    worker.start()
    try:
        assert wait_for(lambda: len(hook_receiver.requests) == 1)
    finally:
        worker.stop(timeout=10)

    sent, *unsent = Delivery.objects.order_by("id")
    assert sent.status == Delivery.Status.DELIVERED
    for left in unsent:
        assert left.status == Delivery.Status.PENDING
        assert left.attempts == 0
        assert not left.attempt_log.exists()
    assert delivery.deliver_due() == 2  # due at once, not after a lease
