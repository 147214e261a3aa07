"""The per-shop call budget, on both stores: Redis when REDIS_URL is set, the database if not."""

import uuid

import pytest
import redis

from connectors import ratelimit, tokens
from connectors.errors import RateLimited
from tests.automations.conftest import wait_for

TEST_REDIS_URL = "redis://127.0.0.1:6379/12"


def redis_is_up() -> bool:
    try:
        return bool(redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(params=["database", "redis"])
def budget(request, settings, db):
    """A small budget (3 at once, 2 a second) on the store the test is parametrized with."""
    if request.param == "redis":
        if not redis_is_up():
            pytest.skip("no Redis at " + TEST_REDIS_URL)
        settings.REDIS_URL = TEST_REDIS_URL
    else:
        settings.REDIS_URL = ""
    settings.CARTLY_SHOP_RATE_PER_SECOND = 2.0
    settings.CARTLY_SHOP_BURST = 3
    return settings


def a_shop() -> str:
    return ratelimit.shop_key(f"shop_{uuid.uuid4().hex}")


def test_it_lets_a_burst_through_and_then_says_how_long_to_wait(budget):
    shop = a_shop()
    for _ in range(3):
        ratelimit.take(shop)

    with pytest.raises(RateLimited) as refused:
        ratelimit.take(shop)

    assert 0 < refused.value.retry_after <= 1 / budget.CARTLY_SHOP_RATE_PER_SECOND
    assert not refused.value.permanent  # the runner waits, like for Cartly's 429


def test_it_keeps_one_budget_per_shop(budget):
    busy, quiet = a_shop(), a_shop()
    for _ in range(3):
        ratelimit.take(busy)
    with pytest.raises(RateLimited):
        ratelimit.take(busy)
    ratelimit.take(quiet)


def test_it_refills_over_time(budget):
    shop = a_shop()
    for _ in range(3):
        ratelimit.take(shop)

    def taken() -> bool:
        try:
            ratelimit.take(shop)
        except RateLimited:
            return False
        return True

    wait_for(taken, "the budget to refill", timeout=10)


def test_it_is_off_at_rate_zero(budget):
    budget.CARTLY_SHOP_RATE_PER_SECOND = 0
    shop = a_shop()
    for _ in range(10):
        ratelimit.take(shop)


@pytest.fixture
def connection(cartly_settings, sandbox, django_user_model, db):
    from connectors import connections
    from connectors.cartly.constants import CARTLY_SCOPES

    owner = django_user_model.objects.create_user("ratelimited", password="rate-limit-pass-1")
    return connections.connect(owner, sandbox.authorize(" ".join(CARTLY_SCOPES)))


def test_every_request_to_the_shop_spends_from_its_budget(budget, connection):
    calls = 0
    with pytest.raises(RateLimited):
        while calls < 10:
            tokens.call(connection, lambda client: client.me())
            calls += 1
    assert calls == budget.CARTLY_SHOP_BURST  # connecting itself went around tokens.call
