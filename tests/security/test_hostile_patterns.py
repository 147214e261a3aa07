"""A filter's regular expression cannot hold a process: patterns run on RE2 (linear time), and
a pattern RE2 refuses is rejected at save with a message naming the filter."""

import json
import uuid

import pytest

from automations.documents import create_recipe
from automations.models import Recipe
from tests.automations.conftest import finished_runs, one_step_document, start_run, wait_for
from tests.security.conftest import assert_contained, measured, post_json

# Backtracking engines (Python's re) take hours on 23 characters of [a-z.@] with this: each
# extra character triples the ways to split the text among the nested repetitions.
CATASTROPHIC = r"^(([a-z.@]+)+)+!$"
# Backreferences and lookaround cannot run in linear time: RE2 refuses them.
REFUSED = [r"^(a+)\1$", r"(?=vip)vip", r"(?<!x)vip"]
LONG_VALUE = "a" * 200_000  # a customer note of 200 KB: what a payload may carry


def filter_step(pattern: str, field: str = "trigger.email") -> dict:
    return {
        "key": "vip_only",
        "filter": {
            "match": "all",
            "conditions": [{"field": field, "operator": "matches_regex", "value": pattern}],
        },
    }


def draft(pattern: str, field: str = "trigger.email") -> dict:
    return one_step_document(
        "cartly.order_created",
        filter_step(pattern, field),
        {
            "key": "found",
            "operation": "cartly.find_order",
            "fields": {"number": "{{ trigger.number }}"},
        },
    )


def test_a_catastrophic_pattern_previews_at_once(mallory):
    with measured() as cost:
        answer = post_json(mallory, "/recipes/preview/", {"document": draft(CATASTROPHIC)})
    assert_contained(cost)
    outcome = answer["filters"]["steps[0].filter"]
    assert outcome["passed"] is False
    assert "does not match the pattern" in outcome["reason"]


@pytest.mark.parametrize("pattern", REFUSED)
def test_a_pattern_re2_refuses_is_rejected_at_save_naming_the_filter(mallory, pattern):
    answer = post_json(mallory, "/recipes/validate/", {"document": draft(pattern)})
    [problem] = answer["problems"]
    assert problem["path"] == "steps[0].filter.conditions[0]"
    assert 'the filter on "trigger.email"' in problem["message"]
    assert "cannot be used" in problem["message"]


def test_the_api_refuses_to_save_a_pattern_re2_refuses(db, django_user_model):
    from django.test import Client

    from accounts.models import ApiToken
    from tests.personas import make_shop

    user = django_user_model.objects.create_user("mallory-api")
    shop = make_shop(user)
    _, raw = ApiToken.create_for(user, "script")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    body = {"connection": shop.pk, "document": draft(REFUSED[0])}
    response = api.post("/api/recipes", json.dumps(body), content_type="application/json")
    assert response.status_code == 422
    [problem] = response.json()["problems"]
    assert problem["path"] == "steps[0].filter.conditions[0]"
    assert not Recipe.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_catastrophic_pattern_on_a_long_value_in_a_real_run(owner, connection, celery_worker):
    recipe = create_recipe(owner, connection, draft(CATASTROPHIC, field="trigger.note"))
    with measured() as cost:
        start_run(
            recipe,
            connection,
            {"id": "ord_LONG", "number": 1, "note": LONG_VALUE},
            event_id=f"evt_{uuid.uuid4().hex}",
        )
        [run] = wait_for(lambda: finished_runs(recipe), "the run to finish")
    assert_contained(cost)
    assert run.status == "filtered", run.failure_reason
    assert '"trigger.note"' in run.failure_reason and "does not match" in run.failure_reason
