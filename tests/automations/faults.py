"""What the fault tests share: a restock recipe, events stored as the receiver stores them, and
the stock of a variant read back from the sandbox (the effect we count)."""

from __future__ import annotations

import uuid

from django.utils import timezone

from automations.documents import create_recipe
from automations.models import Event, Recipe, Run, StepRun
from connectors.cartly.client import CartlyClient, iter_pages

FORMAT = "cartly-automations/recipe@2"
TRIGGER, EVENT_TYPE = "cartly.customer_created", "customer.created"


def recipe_of(connection, *steps: dict, trigger: str = TRIGGER) -> Recipe:
    """An enabled recipe (New Customer unless told). Polling mode and no hook: in these tests
    events are stored directly, as the receiver would store Cartly's deliveries."""
    recipe = create_recipe(
        connection.owner,
        connection,
        {
            "format": FORMAT,
            "name": "Fault test",
            "trigger": trigger,
            "mode": "polling",
            "steps": list(steps),
        },
    )
    Recipe.objects.filter(pk=recipe.pk).update(enabled=True)
    return recipe


def restock(variant_id: str, quantity: int | str = 1, key: str = "restock") -> dict:
    return {
        "key": key,
        "operation": "cartly.adjust_inventory",
        "fields": {"variant_id": variant_id, "mode": "adjust", "quantity": str(quantity)},
    }


def store_events(connection, count: int = 1, **fields) -> list[Event]:
    """`count` New Customer events stored `received`, as the receiver (or polling) leaves them:
    nothing is published, the engine's clock takes them from here. `fields` go into each
    event's data."""
    return store_payloads(connection, [fields] * count)


def store_payloads(connection, payloads: list[dict], event_type: str = EVENT_TYPE) -> list[Event]:
    """One event per payload (New Customer unless told), all in one transaction, so the
    clock dispatches them as one batch."""
    now = timezone.now()
    events = []
    for fields in payloads:
        object_id = f"obj_{uuid.uuid4().hex[:12]}"
        events.append(
            Event(
                connection=connection,
                cartly_event_id=f"evt_{uuid.uuid4().hex[:16]}",
                event_type=event_type,
                object_id=object_id,
                dedupe_key=f"{event_type}|{object_id}",
                payload={"id": object_id, "email": f"{object_id}@example.com", **fields},
                received_at=now,
            )
        )
    return Event.objects.bulk_create(events)


def variants(connection, count: int) -> list[str]:
    client = CartlyClient(connection.access_token)
    found = [
        variant["id"]
        for product in iter_pages(client.list_products)
        for variant in product["variants"]
    ]
    assert len(found) >= count, "the sandbox's seed has too few variants"
    return found[:count]


def stock(connection) -> dict[str, int]:
    """Every variant's available quantity, as the sandbox has it now."""
    client = CartlyClient(connection.access_token)
    return {
        variant["id"]: variant["available"]
        for product in iter_pages(client.list_products)
        for variant in product["variants"]
    }


def runs_of(events: list[Event]) -> list[Run]:
    return list(Run.objects.filter(event__in=events))


def all_succeeded(events: list[Event]):
    """Every event has exactly its one run, and every run succeeded (truthy), else None."""
    runs = runs_of(events)
    if len(runs) == len(events) and all(run.status == Run.Status.SUCCEEDED for run in runs):
        return runs
    return None


def running_step(recipe: Recipe, key: str = "restock") -> StepRun | None:
    """A step of the recipe that a worker holds right now (claimed, its call under way)."""
    return StepRun.objects.filter(
        run__recipe=recipe, key=key, status=StepRun.Status.RUNNING
    ).first()
