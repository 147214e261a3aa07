"""One event whose dispatch keeps raising must not hold back the events behind it."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from automations.models import Event, Recipe
from automations.sweeps import MAX_DISPATCH_ATTEMPTS, sweep_events
from connectors.models import Connection


@pytest.fixture
def connection(db):
    owner = User.objects.create_user("o")
    return Connection.objects.create(
        owner=owner, shop_id="shop_1", shop_name="S", shop_domain="s.mycartly.pro"
    )


def stored(connection, event_id: str, event_type: str) -> Event:
    return Event.objects.create(
        connection=connection,
        cartly_event_id=event_id,
        event_type=event_type,
        payload={"id": event_id},
        received_at=timezone.now() - timedelta(minutes=5),
    )


def test_a_poison_event_is_failed_at_the_cap_and_the_rest_go_on(connection):
    # An enabled recipe with no stored version: dispatching its event raises.
    Recipe.objects.create(
        owner=connection.owner,
        connection=connection,
        name="broken",
        trigger="cartly.order_created",
        event_type="order.created",
        enabled=True,
    )
    poison = stored(connection, "evt_POISON", "order.created")
    healthy = stored(connection, "evt_FINE", "customer.created")

    for _ in range(MAX_DISPATCH_ATTEMPTS):
        sweep_events()

    poison.refresh_from_db()
    healthy.refresh_from_db()
    assert healthy.status == Event.Status.DISPATCHED
    assert poison.status == Event.Status.FAILED
    assert poison.dispatch_attempts == MAX_DISPATCH_ATTEMPTS
