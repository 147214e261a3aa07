"""Dispatch (automations/engine/dispatch.py) on the test's database: PostgreSQL claims, matches
and inserts in one statement, SQLite in three; both must make the same runs."""

import pytest
from django.db import connection

from automations.engine.dispatch import dispatch_event, dispatch_received
from automations.models import Event, Run
from tests.personas import make_recipe, make_shop, make_user, order

pytestmark = pytest.mark.django_db


def received(shop, number: int) -> Event:
    return Event.objects.create(
        connection=shop,
        cartly_event_id=f"evt_{number}",
        event_type="order.created",
        object_id=str(number),
        payload=order(number),
        status=Event.Status.RECEIVED,
    )


def turned_on(recipe):
    type(recipe).objects.filter(pk=recipe.pk).update(enabled=True)
    return recipe


def test_the_clock_batch_makes_one_run_per_event_and_enabled_recipe():
    owner = make_user("owner")
    shop = make_shop(owner)
    first = turned_on(make_recipe(owner, shop, "First"))
    second = turned_on(make_recipe(owner, shop, "Second"))
    make_recipe(owner, shop, "Switched off")
    events = [received(shop, 1001), received(shop, 1002)]

    run_ids = dispatch_received()

    runs = Run.objects.filter(pk__in=run_ids)
    assert sorted((run.recipe_id, run.event_id) for run in runs) == sorted(
        (recipe.pk, event.pk) for recipe in (first, second) for event in events
    )
    assert set(Event.objects.values_list("status", flat=True)) == {Event.Status.DISPATCHED}
    assert dispatch_received() == []  # nothing left to claim


def test_an_event_whose_run_exists_gets_no_second_one():
    owner = make_user("owner")
    shop = make_shop(owner)
    recipe = turned_on(make_recipe(owner, shop, "Only"))
    event = received(shop, 1001)
    existing = Run.objects.create(recipe=recipe, event=event, recipe_version=recipe.version)

    dispatch_event(event.pk)

    assert list(Run.objects.filter(event=event).values_list("pk", flat=True)) == [existing.pk]
    existing.refresh_from_db()
    assert existing.status != Run.Status.QUEUED  # a run left queued is started instead


def test_a_batch_larger_than_one_statement_takes_makes_every_run(monkeypatch):
    owner = make_user("owner")
    shop = make_shop(owner)
    recipes = [turned_on(make_recipe(owner, shop, f"Recipe {i}")) for i in range(3)]
    events = [received(shop, 1001 + i) for i in range(3)]
    # SQLite's INSERT of runs goes in chunks of what the backend takes (999 parameters there).
    monkeypatch.setattr(connection.ops, "bulk_batch_size", lambda fields, objs: 2)

    run_ids = dispatch_received()

    assert len(run_ids) == len(set(run_ids)) == 9
    assert Run.objects.filter(recipe__in=recipes, event__in=events).count() == 9
