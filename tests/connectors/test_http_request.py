"""The HTTP step ("Send to another system") against a real local receiver, allowed by the
HTTP_STEP_ALLOWED_HOSTS setting: what arrives, what comes back, and each failure in the engine's
error words."""

import hashlib
import hmac
import json
import time

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from automations.documents import create_recipe
from connectors import registry
from connectors.contract import check_sample
from connectors.convert import ConversionError, convert_inputs
from connectors.errors import Permanent, RateLimited, Transient, ValidationFailed
from connectors.http import signing
from connectors.http.client import MAX_ANSWER_BYTES, HttpClient
from connectors.http.request import SIGNATURE_HEADER
from tests.connectors.http_receiver import Answer, receiver  # noqa: F401 (the fixture)
from tests.personas import make_shop

ACTION = registry.get_action("http.request")
KEY = "run-12-step-3"
SIGNATURE_TOLERANCE_SECONDS = 300  # what docs/catalogue.md tells receivers to allow


def verify(secret: str, header: str, body: bytes, now: float) -> bool:
    """What a receiver does (docs/catalogue.md): recompute, compare in constant time, and
    refuse an old timestamp."""
    parts = dict(part.split("=", 1) for part in header.split(","))
    stamp = int(parts["t"])
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    fresh = abs(now - stamp) <= SIGNATURE_TOLERANCE_SECONDS
    return fresh and hmac.compare_digest(expected, parts["sha256"])


def rendered(url: str, **fields: str) -> dict:
    """The step's inputs as templates render them (text), typed like the runner types them."""
    return convert_inputs(ACTION.input_fields, {"url": url, **fields})


@pytest.fixture
def merchant(db):
    return get_user_model().objects.create_user("merchant", password="merchant-pass-123")


@pytest.fixture
def client(settings, merchant):
    """The merchant's client as the runner builds it, the receiver's host allowed."""
    settings.HTTP_STEP_ALLOWED_HOSTS = ["127.0.0.1"]
    signing.rotate(merchant)
    return signing.http_client_for(merchant)


def test_it_declares_the_step():
    assert (ACTION.label, ACTION.app) == ("Send to another system", "http")
    assert [f.key for f in ACTION.input_fields] == [
        "method",
        "url",
        "headers",
        "body_type",
        "body",
        "sign",
        "timeout_seconds",
    ]
    assert registry.get_action("cartly.create_discount").app == "cartly"
    check_sample(ACTION)
    sample = dict(ACTION.sample)
    for output in ACTION.output_fields:  # the builder's picker offers what the sample has
        value = sample
        for part in output.key.split("."):
            value = value[part]


def test_it_sends_the_mapped_request_signed(client, merchant, receiver):  # noqa: F811
    receiver.answer(
        Answer(
            201,
            b'{"id": "rcv_1", "ok": true}',
            {"Content-Type": "application/json", "X-Request-Id": "req_9"},
        )
    )
    body = '{"order": 1001, "email": "ann@example.com"}'
    values = rendered(
        receiver.url("/hooks/orders?src=cartly"),
        method="post",
        body=body,
        headers="X-Shop: demo\nAuthorization: Bearer t0k3n",
        sign="yes",
    )

    answer = ACTION.perform(client, values, KEY)

    [got] = receiver.received
    assert (got.method, got.path, got.body) == ("POST", "/hooks/orders?src=cartly", body.encode())
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["X-Shop"] == "demo" and got.headers["Authorization"] == "Bearer t0k3n"
    assert got.headers["Idempotency-Key"] == KEY
    assert got.headers["Host"] == f"127.0.0.1:{receiver.port}"
    secret = signing.current_secret(merchant)
    assert verify(secret, got.headers[SIGNATURE_HEADER], got.body, time.time())
    assert not verify(secret, got.headers[SIGNATURE_HEADER], got.body + b" ", time.time())
    assert answer["status"] == 201
    assert answer["body"] == {"id": "rcv_1", "ok": True}
    assert answer["headers"]["x_request_id"] == "req_9"


def test_it_sends_a_form_body(client, receiver):  # noqa: F811
    values = rendered(
        receiver.url(), method="PUT", body_type="form", body="name=Ann Sample\n\ntotal=19.90&more"
    )
    ACTION.perform(client, values, KEY)
    [got] = receiver.received
    assert got.body == b"name=Ann+Sample&total=19.90%26more"
    assert got.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert SIGNATURE_HEADER not in got.headers  # not asked to sign


def test_it_sends_a_get_without_a_body_and_keeps_a_text_answer(client, receiver):  # noqa: F811
    receiver.answer(Answer(200, b"pong", {"Content-Type": "text/plain"}))
    answer = ACTION.perform(
        client, rendered(receiver.url("/ping"), method="GET", body_type="none"), KEY
    )
    [got] = receiver.received
    assert (got.method, got.body) == ("GET", b"")
    assert answer["body"] == "pong"


def test_it_retries_a_5xx(client, receiver):  # noqa: F811
    receiver.answer(Answer(503, b"down for maintenance", {"Content-Type": "text/plain"}))
    with pytest.raises(Transient) as caught:
        ACTION.perform(client, rendered(receiver.url(), body='{"a": 1}'), KEY)
    assert "503 Service Unavailable" in caught.value.message
    assert "down for maintenance" in caught.value.message


def test_it_fails_a_4xx_with_the_receivers_words(client, receiver):  # noqa: F811
    receiver.answer(Answer(422, json.dumps({"message": "email is not a customer " * 20}).encode()))
    with pytest.raises(Permanent) as caught:
        ACTION.perform(client, rendered(receiver.url(), body='{"a": 1}'), KEY)
    assert not isinstance(caught.value, Transient)
    assert caught.value.status_code == 422
    assert "refused the request (422 Unprocessable Entity): email is not a customer" in str(
        caught.value
    )
    assert len(caught.value.message) < 300  # shortened


def test_it_waits_when_asked_to_slow_down(client, receiver):  # noqa: F811
    receiver.answer(Answer(429, b"", {"Retry-After": "7"}))
    with pytest.raises(RateLimited) as caught:
        ACTION.perform(client, rendered(receiver.url(), body='{"a": 1}'), KEY)
    assert caught.value.retry_after == 7


def test_it_retries_a_receiver_that_does_not_answer_in_time(client, receiver):  # noqa: F811
    receiver.answer(Answer(200, delay=2.5))
    with pytest.raises(Transient, match="did not answer within 1 second"):
        ACTION.perform(client, rendered(receiver.url(), body="{}", timeout_seconds="1"), KEY)


def test_it_refuses_an_answer_that_is_too_large(client, receiver):  # noqa: F811
    receiver.answer(Answer(200, b"x" * (MAX_ANSWER_BYTES + 1), {"Content-Type": "text/plain"}))
    with pytest.raises(Permanent, match="is too large: more than 256 KiB"):
        ACTION.perform(client, rendered(receiver.url(), body="{}"), KEY)


def test_it_does_not_follow_a_redirect(client, receiver):  # noqa: F811
    receiver.answer(Answer(302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"}))
    with pytest.raises(Permanent, match="a redirect to http://169.254.169.254/latest"):
        ACTION.perform(client, rendered(receiver.url(), method="GET", body_type="none"), KEY)
    assert len(receiver.received) == 1


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"body": '{"order": 1001,}'}, "body", "not valid JSON"),
        ({"body_type": "form", "body": "just text"}, "body", "must read `key=value`"),
        ({"headers": "Host: evil.example"}, "headers", "Host is set by the step itself"),
        ({"headers": "Idempotency-Key: mine"}, "headers", "set by the step itself"),
        ({"headers": "no colon here"}, "headers", "Line 1 must read `Name: value`"),
        ({"method": "GET", "body": '{"a": 1}'}, "body", "A GET request sends no body"),
        ({"timeout_seconds": "31"}, "timeout_seconds", "1 to 30 seconds"),
    ],
)
def test_it_refuses_wrong_inputs_before_sending(client, receiver, fields, field, message):  # noqa: F811
    with pytest.raises(ValidationFailed) as caught:
        ACTION.perform(client, rendered(receiver.url(), **fields), KEY)
    assert message in caught.value.fields[field][0]
    assert receiver.connections == 0


@pytest.mark.parametrize(
    "url, message",
    [
        ("ftp://127.0.0.1/file", "must start with http:// or https://"),
        ("http://user:pass@127.0.0.1/", "must not hold a user name or password"),
        ("http://127.0.0.1:99999/", "not a valid address"),
    ],
)
def test_it_refuses_urls_it_will_not_call(client, url, message):
    with pytest.raises(ValidationFailed, match=message):
        ACTION.perform(client, rendered(url), KEY)


def test_it_will_not_sign_without_a_secret(settings, receiver):  # noqa: F811
    client = HttpClient(None, {"127.0.0.1"})
    with pytest.raises(Permanent, match="no signing secret yet"):
        ACTION.perform(client, rendered(receiver.url(), sign="yes"), KEY)
    assert receiver.connections == 0


def test_the_builders_choices_are_typed_by_the_runner():
    with pytest.raises(ConversionError, match="must be one of GET, POST, PUT, PATCH, DELETE"):
        rendered("https://example.com/", method="TRACE")


def test_the_builders_live_test_sends_it(settings, merchant, receiver):  # noqa: F811
    settings.HTTP_STEP_ALLOWED_HOSTS = ["127.0.0.1"]
    step = {
        "key": "tell",
        "operation": "http.request",
        "fields": {"url": receiver.url("/orders"), "body": '{"order": {{ trigger.number }}}'},
    }
    recipe = create_recipe(merchant, make_shop(merchant), {
        "format": "cartly-automations/recipe@1", "name": "Tell my system",
        "trigger": "cartly.order_created", "mode": "instant", "steps": [step],
    })  # fmt: skip
    browser = Client()
    browser.force_login(merchant)

    report = browser.post(f"/recipes/{recipe.pk}/test/", {"source": "sample", "live": "on"})
    [item] = report.context["report"].steps

    assert (item.status, item.message) == ("sent", "Sent.")
    assert item.output["body"] == {"ok": True}
    assert receiver.received[0].body == b'{"order": 1001}'
