"""Which recipes an event starts (engine/match.py, and dispatch.py's one statement on
PostgreSQL): one indexed query, no sort."""

import pytest
from django.db import connection
from django.utils import timezone

from automations.engine.dispatch import _claim_and_make_runs_sql, _claim_params
from automations.engine.match import matching_query, matching_recipes
from automations.models import Recipe, Run
from tests.personas import make_recipe, make_shop, make_user

pytestmark = pytest.mark.django_db

OTHER_SHOPS = 50
RECIPES_PER_OTHER_SHOP = 40  # 2,000 others: enough for the planner to weigh its indexes


def turned_on(recipe: Recipe, event_type: str = "order.created") -> Recipe:
    Recipe.objects.filter(pk=recipe.pk).update(enabled=True, event_type=event_type)
    return recipe


def test_it_starts_only_the_enabled_recipes_of_the_shop_and_event():
    owner = make_user("owner")
    shop = make_shop(owner)
    elsewhere = make_shop(owner, shop_id="shop_elsewhere")
    wanted = turned_on(make_recipe(owner, shop, "Wanted"))
    make_recipe(owner, shop, "Switched off")
    turned_on(make_recipe(owner, elsewhere, "Another shop"))
    turned_on(make_recipe(owner, shop, "Another event"), "order.updated")

    found = matching_recipes({(shop.pk, "order.created"), (elsewhere.pk, "order.updated")})

    assert found[(shop.pk, "order.created")] == [(wanted.pk, wanted.version)]
    assert (elsewhere.pk, "order.updated") not in found  # its recipe is for order.created


def _dispatch_statement() -> tuple[str, list]:
    """PostgreSQL's dispatch: claim, match and insert in one statement (engine/dispatch.py)."""
    now = timezone.now()
    made_for = [Run.Status.RUNNING, now, now]
    return _claim_and_make_runs_sql(0), [*_claim_params(200, [], now), *made_for]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL query plan")
@pytest.mark.parametrize("statement", ["matching query", "dispatch statement"])
def test_it_uses_the_dispatch_index_when_most_recipes_start_from_the_same_event(statement):
    owner = make_user("owner")
    shop = make_shop(owner)
    turned_on(make_recipe(owner, shop, "Wanted"))
    others = [make_shop(owner, shop_id=f"shop_other_{i}") for i in range(OTHER_SHOPS)]
    Recipe.objects.bulk_create(
        Recipe(
            owner=owner,
            connection=other,
            name=f"Other {i}",
            trigger="cartly.order_created",
            event_type="order.created",
            enabled=True,
        )
        for other in others
        for i in range(RECIPES_PER_OTHER_SHOP)
    )
    if statement == "matching query":
        sql, params = matching_query({(shop.pk, "order.created")})
    else:
        sql, params = _dispatch_statement()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE automations_recipe")  # as autovacuum would, once it has run
        cursor.execute("EXPLAIN " + sql, params)  # EXPLAIN alone changes nothing
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "recipe_dispatch_idx" in plan, plan
    assert "name" not in plan, plan  # no sort by Recipe.Meta.ordering (name, id)
