"""The REST Hook receiver stores what Cartly signs (DESIGN.md, "The way an event travels",
step 2; cartly-api.md, "Deliveries"): one row per event, deduplicated, through Django.

Refusals are in test_receiver_refusals.py, the edges of issue 10 in test_receiver_edges.py,
real HTTP and the sandbox in test_receiver_http.py, faults with private servers in
test_receiver_faults.py.
"""

import pytest
from django.test import Client

from automations.models import Event, Subscription
from connectors import registry
from connectors.base import Trigger
from tests.automations import receiver_helpers as hooks
from tests.automations.receiver_helpers import (
    CREATED_AT,
    NOW,
    WEBHOOK_ID,
    deliver,
    encode,
    envelope,
    headers,
    url_of,
)

signing_secret = hooks.signing_secret
fresh_lookups = hooks.fresh_lookups
shop = hooks.shop
subscription = hooks.subscription

# The hot path's statements: the subscription lookup, the Event INSERT, the last_delivery_at
# UPDATE, and the savepoint pair the test's own transaction wraps the INSERT in.
QUERY_BUDGET = 5


def test_it_stores_a_signed_delivery_and_answers_200(subscription):
    answer = deliver(subscription, envelope(note="gift"))

    assert answer.status_code == 200
    assert answer.json() == {"ok": True}
    event = Event.objects.get()
    assert event.connection == subscription.connection
    assert event.subscription == subscription
    assert event.source == Event.Source.WEBHOOK
    assert (event.cartly_event_id, event.event_type, event.object_id) == (
        "evt_01A",
        "order.created",
        "ord_01A",
    )
    assert event.payload["note"] == "gift"
    assert event.dedupe_key == "order.created|ord_01A"
    assert event.status == Event.Status.RECEIVED
    assert event.occurred_at.isoformat() == NOW.isoformat()
    subscription.refresh_from_db()
    assert subscription.last_delivery_at is not None


def test_it_reads_a_time_without_offset_as_utc(subscription):
    answer = deliver(subscription, {**envelope(), "created_at": CREATED_AT.removesuffix("Z")})

    assert answer.status_code == 200
    assert Event.objects.get().occurred_at.isoformat() == NOW.isoformat()


def test_it_keys_updates_by_their_time(shop):
    updates = Subscription.objects.create(
        connection=shop, event_type="order.updated", remote_id=WEBHOOK_ID, status="active"
    )

    first = deliver(updates, envelope("evt_1", "order.updated", status="paid"))
    second = deliver(
        updates,
        envelope("evt_2", "order.updated", status="fulfilled", updated_at="2026-11-28T11:00:00Z"),
    )

    assert (first.status_code, second.status_code) == (200, 200)
    assert sorted(Event.objects.values_list("dedupe_key", flat=True)) == [
        "order.updated|ord_01A|2026-11-28T10:00:00Z",
        "order.updated|ord_01A|2026-11-28T11:00:00Z",
    ]


def test_it_answers_200_to_a_repeated_delivery_and_stores_it_once(subscription):
    answers = [deliver(subscription).status_code for _ in range(3)]

    assert answers == [200, 200, 200]
    assert Event.objects.count() == 1


def test_it_keeps_a_change_already_seen_by_polling_as_a_duplicate(subscription):
    polled = Event.objects.create(
        connection=subscription.connection,
        source=Event.Source.POLL,
        cartly_event_id="poll-ord_01A",
        event_type="order.created",
        object_id="ord_01A",
        dedupe_key="order.created|ord_01A",
        payload={"id": "ord_01A"},
    )

    answer = deliver(subscription)

    assert answer.status_code == 200
    hooked = Event.objects.exclude(pk=polled.pk).get()
    assert hooked.status == Event.Status.DUPLICATE
    assert hooked.dedupe_key is None
    assert hooked.cartly_event_id == "evt_01A"
    assert deliver(subscription).status_code == 200  # and its retry is a plain repeat
    assert Event.objects.count() == 2


@pytest.mark.parametrize("event_type", ["order.exploded", "order.updated"])
def test_it_stores_an_event_it_will_not_run_as_ignored(subscription, event_type):
    # Not in the catalogue, or not the event this subscription is for.
    answer = deliver(subscription, envelope(event=event_type))

    assert answer.status_code == 200
    event = Event.objects.get()
    assert event.status == Event.Status.IGNORED
    assert event.dedupe_key is None


def test_it_stores_an_unknown_event_without_an_id_as_ignored(subscription):
    # A new Cartly event no trigger reads yet: kept for the record, never refused.
    document = {**envelope(event="order.exploded"), "data": {"crater": "large"}}

    answer = deliver(subscription, document)

    assert answer.status_code == 200
    event = Event.objects.get()
    assert (event.status, event.object_id, event.payload) == ("ignored", "", {"crater": "large"})


def test_it_stays_within_its_query_budget(subscription, django_assert_max_num_queries):
    body = encode(envelope())
    client = Client()

    with django_assert_max_num_queries(QUERY_BUDGET):
        answer = client.post(url_of(subscription), body, **headers(body))

    assert answer.status_code == 200


def test_it_needs_no_lookup_for_a_busy_hooks_next_delivery(subscription, django_assert_num_queries):
    deliver(subscription, envelope("evt_first"))  # reads the subscription, notes the delivery
    deliver(subscription, envelope("evt_second"))  # reads it again: the note changed it
    body = encode(envelope("evt_third", id="ord_03"))

    # The INSERT and the savepoint pair of the test's transaction: no SELECT, no UPDATE.
    with django_assert_num_queries(3):
        answer = Client().post(url_of(subscription), body, **headers(body))

    assert answer.status_code == 200
    assert Event.objects.filter(cartly_event_id="evt_third", object_id="ord_03").exists()


# --- the object's id comes from the trigger's declaration -------------------------------------


@pytest.fixture
def level_trigger(monkeypatch):
    """A trigger whose objects have no `id` of their own, like Inventory Changed
    (cartly-api.md, "Changelog events"), registered for this test only."""
    trigger = Trigger(
        key="cartly.test_level_changed",
        noun="Inventory level",
        label="Test Level Changed",
        description="A test trigger keyed by variant.",
        event="test_level.updated",
        resource=None,
        poll_filter=None,
        dedupe_on_updated_at=True,
        id_field="variant_id",
        sample={"variant_id": "var_SAMPLE", "available": 1, "updated_at": CREATED_AT},
    )
    registry._ensure_loaded()
    monkeypatch.setitem(registry._operations, trigger.key, trigger)
    return trigger


def test_it_takes_the_object_id_from_the_triggers_declaration(shop, level_trigger):
    levels = Subscription.objects.create(
        connection=shop, event_type=level_trigger.event, remote_id=WEBHOOK_ID, status="active"
    )
    level = {"variant_id": "var_01A", "available": 3, "updated_at": "2026-11-28T10:00:00Z"}
    document = {**envelope(event=level_trigger.event), "data": level}

    answer = deliver(levels, document)

    assert answer.status_code == 200
    event = Event.objects.get()
    assert (event.object_id, event.status) == ("var_01A", Event.Status.RECEIVED)
    assert event.dedupe_key == "test_level.updated|var_01A|2026-11-28T10:00:00Z"


def test_it_names_the_declared_id_field_when_it_is_missing(shop, level_trigger):
    levels = Subscription.objects.create(
        connection=shop, event_type=level_trigger.event, remote_id=WEBHOOK_ID, status="active"
    )
    document = {**envelope(event=level_trigger.event), "data": {"id": "not-the-key"}}

    answer = deliver(levels, document)

    assert answer.status_code == 400
    assert "`data.variant_id`" in answer.json()["message"]
    assert not Event.objects.exists()
