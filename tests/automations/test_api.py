"""The JSON API: token auth, recipes as documents, runs with filters, nothing across users."""

import copy
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts.models import ApiToken
from automations.documents import create_recipe
from automations.models import Event, Recipe, RecipeVersion, Run, StepRun
from connectors.models import Connection

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "new-order-discount.json"

pytestmark = pytest.mark.django_db


@pytest.fixture
def doc() -> dict:
    return json.loads(EXAMPLE.read_text())


def persona(name: str):
    """A user with one connected shop and an API client carrying their token."""
    from django.test import Client

    user = get_user_model().objects.create_user(name, password="x")
    shop = Connection.objects.create(
        owner=user,
        shop_id=f"shop_{name}",
        shop_name=f"{name} Tees",
        shop_domain=f"{name}.example",
        access_token="very-secret-access",
        refresh_token="very-secret-refresh",
    )
    _, raw = ApiToken.create_for(user, "tests")
    return user, shop, Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


@pytest.fixture
def alice():
    return persona("alice")


@pytest.fixture
def bob():
    return persona("bob")


def post(client, url: str, body) -> object:
    return client.post(url, json.dumps(body), content_type="application/json")


def put(client, url: str, body) -> object:
    return client.put(url, json.dumps(body), content_type="application/json")


# --- auth and schema ------------------------------------------------------------------------


def test_it_requires_a_valid_token(client, alice):
    from django.test import Client

    for headers in (
        {},
        {"HTTP_AUTHORIZATION": "Bearer cat_wrong"},
        {"HTTP_AUTHORIZATION": "Basic abc"},
        {"HTTP_AUTHORIZATION": "Bearer"},
    ):
        response = Client(**headers).get("/api/recipes")
        assert response.status_code == 401
        assert "Authorization: Bearer" in response.json()["detail"]


def test_it_records_when_a_token_was_used(alice):
    user, _, api = alice
    api.get("/api/recipes")
    assert ApiToken.objects.get(user=user).last_used_at is not None


def test_it_serves_the_openapi_schema(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/recipes",
        "/api/recipes/{recipe_id}",
        "/api/recipes/{recipe_id}/enable",
        "/api/runs",
        "/api/runs/{run_id}",
        "/api/runs/{run_id}/replay",
        "/api/connections",
    ):
        assert path in paths


def test_it_lists_connections_without_tokens(alice, bob):
    _, shop, api = alice
    response = api.get("/api/connections")
    assert [c["shop_domain"] for c in response.json()] == ["alice.example"]
    assert "very-secret" not in response.content.decode()
    assert "token" not in json.dumps(response.json())


# --- recipes --------------------------------------------------------------------------------


def test_it_creates_a_recipe_from_a_document(alice, doc):
    user, shop, api = alice
    response = post(api, "/api/recipes", {"connection": shop.pk, "document": doc})
    assert response.status_code == 201
    body = response.json()
    assert (body["enabled"], body["version"], body["trigger"]) == (False, 1, "cartly.order_created")
    assert [s["key"] for s in body["document"]["steps"]] == ["customer", "discount"]
    assert Recipe.objects.get(pk=body["id"]).owner == user


def test_it_lists_every_problem_of_an_invalid_document(alice, doc):
    _, shop, api = alice
    doc["trigger"] = "cartly.nope"
    doc["steps"][1]["fields"]["code"] = "{{ trigger.number"
    doc["steps"][0]["fields"]["shoe_size"] = "42"
    response = post(api, "/api/recipes", {"connection": shop.pk, "document": doc})
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "The recipe document has 3 problems"
    assert {p["path"] for p in body["problems"]} == {
        "trigger",
        "steps[1].fields.code",
        "steps[0].fields.shoe_size",
    }
    assert not Recipe.objects.exists()


def test_it_explains_bad_bodies_without_a_500(alice, doc):
    _, shop, api = alice
    response = api.post("/api/recipes", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"]
    response = post(api, "/api/recipes", {"document": doc})
    assert response.status_code == 422
    response = post(api, "/api/recipes", {"connection": shop.pk, "document": ["a", "list"]})
    assert response.status_code == 422
    assert response.json()["problems"][0]["message"] == "A recipe document must be a JSON object"


def test_it_refuses_another_users_connection_and_recipes(alice, bob, doc):
    alice_user, alice_shop, alice_api = alice
    _, bob_shop, bob_api = bob
    response = post(alice_api, "/api/recipes", {"connection": bob_shop.pk, "document": doc})
    assert response.status_code == 404
    recipe = create_recipe(alice_user, alice_shop, doc)
    url = f"/api/recipes/{recipe.pk}"
    assert bob_api.get(url).status_code == 404
    assert put(bob_api, url, doc).status_code == 404
    assert bob_api.post(f"{url}/enable").status_code == 404
    assert bob_api.delete(url).status_code == 404
    assert bob_api.get("/api/recipes").json() == []
    assert alice_api.get(url).json()["name"] == doc["name"]


def test_it_updates_a_recipe_as_a_new_version(alice, doc):
    user, shop, api = alice
    recipe = create_recipe(user, shop, doc)
    changed = copy.deepcopy(doc)
    changed["name"] = "Thank every buyer"
    changed["filter"]["conditions"] = []
    response = put(api, f"/api/recipes/{recipe.pk}", changed)
    assert response.status_code == 200
    assert (response.json()["version"], response.json()["name"]) == (2, "Thank every buyer")
    assert RecipeVersion.objects.get(recipe=recipe, version=1).document["name"] == doc["name"]
    assert RecipeVersion.objects.get(recipe=recipe, version=2).document["filter"] == {
        "match": "all",
        "conditions": [],
    }


def test_it_keeps_the_recipe_when_an_update_is_invalid(alice, doc):
    user, shop, api = alice
    recipe = create_recipe(user, shop, doc)
    response = put(
        api,
        f"/api/recipes/{recipe.pk}",
        {**doc, "mode": "polling", "trigger": "cartly.cart_abandoned"},
    )
    assert response.status_code == 422
    assert "Abandoned Cart needs the instant trigger" in response.json()["problems"][0]["message"]
    response = api.put(f"/api/recipes/{recipe.pk}", "[1,", content_type="application/json")
    assert response.status_code == 400
    assert Recipe.objects.get(pk=recipe.pk).version == 1


def test_it_moves_a_deleted_recipe_to_the_trash(alice, doc):
    user, shop, api = alice
    recipe = create_recipe(user, shop, doc)
    assert api.delete(f"/api/recipes/{recipe.pk}").status_code == 204
    recipe.refresh_from_db()
    assert recipe.deleted_at is not None and not recipe.enabled
    assert api.get(f"/api/recipes/{recipe.pk}").status_code == 404
    assert api.get("/api/recipes").json() == []


def test_it_refuses_to_turn_on_a_recipe_of_a_disconnected_shop(alice, doc):
    user, shop, api = alice
    recipe = create_recipe(user, shop, doc)
    Connection.objects.filter(pk=shop.pk).update(status=Connection.Status.DISCONNECTED)
    response = api.post(f"/api/recipes/{recipe.pk}/enable")
    assert response.status_code == 409
    assert "disconnected" in response.json()["detail"]
    assert not Recipe.objects.get(pk=recipe.pk).enabled


# --- runs -----------------------------------------------------------------------------------


def make_run(recipe: Recipe, number: int, email: str, status: str, age_days: int = 0) -> Run:
    payload = {"id": f"ord_{number}", "number": number, "email": email, "total_price": "30.00"}
    event = Event.objects.create(
        connection=recipe.connection,
        cartly_event_id=f"evt_{recipe.pk}_{number}",
        event_type="order.created",
        object_id=f"ord_{number}",
        payload=payload,
    )
    created = timezone.now() - timedelta(days=age_days)
    run = Run.objects.create(
        recipe=recipe, event=event, recipe_version=recipe.version, status=status, created_at=created
    )
    StepRun.objects.create(
        run=run,
        position=0,
        key="customer",
        operation="cartly.find_or_create_customer",
        status=StepRun.Status.SUCCEEDED,
        rendered_input={"email": email},
        output={"id": "cus_1", "email": email, "created": True},
        attempts=1,
        status_code=200,
        started_at=created,
        finished_at=created,
        duration_ms=12,
    )
    StepRun.objects.create(
        run=run,
        position=1,
        key="discount",
        operation="cartly.create_discount",
        status=StepRun.Status.FAILED,
        rendered_input={"code": f"THANKS-{number}"},
        error="Cartly refused: code is already taken",
        status_code=422,
        attempts=1,
    )
    return run


@pytest.fixture
def runs(alice, bob, doc):
    user, shop, _ = alice
    recipe = create_recipe(user, shop, doc)
    other = create_recipe(user, shop, {**doc, "name": "Another"})
    bob_user, bob_shop, _ = bob
    bobs = create_recipe(bob_user, bob_shop, doc)
    return {
        "old": make_run(recipe, 1001, "jane@example.com", Run.Status.SUCCEEDED, age_days=10),
        "new": make_run(recipe, 1002, "max@example.com", Run.Status.FAILED),
        "other": make_run(other, 1003, "jane@example.com", Run.Status.FILTERED),
        "bobs": make_run(bobs, 1001, "jane@example.com", Run.Status.SUCCEEDED),
    }


def run_ids(api, query: str = "") -> list[int]:
    response = api.get(f"/api/runs{query}")
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


def test_it_lists_own_runs_newest_first(alice, runs):
    _, _, api = alice
    assert run_ids(api) == [runs["other"].pk, runs["new"].pk, runs["old"].pk]
    page = api.get("/api/runs?limit=1&offset=1").json()
    assert (page["count"], [i["id"] for i in page["items"]]) == (3, [runs["new"].pk])


def test_it_lists_runs_in_a_fixed_number_of_queries(alice, runs, django_assert_max_num_queries):
    _, _, api = alice
    api.get("/api/runs")  # the token's last use is recorded once a minute, not per call
    with django_assert_max_num_queries(3):  # the token, one page of runs, the count
        assert len(api.get("/api/runs").json()["items"]) == 3


def test_it_filters_runs(alice, runs):
    _, _, api = alice
    recipe_id = runs["old"].recipe_id
    assert run_ids(api, f"?recipe={recipe_id}") == [runs["new"].pk, runs["old"].pk]
    assert run_ids(api, "?status=failed") == [runs["new"].pk]
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert run_ids(api, "?" + f"since={since}".replace("+", "%2B")) == [
        runs["other"].pk,
        runs["new"].pk,
    ]
    until = (timezone.now() - timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%S")
    assert run_ids(api, f"?until={until}") == [runs["old"].pk]
    assert run_ids(api, "?q=1001") == [runs["old"].pk]
    assert run_ids(api, "?q=%231002") == [runs["new"].pk]
    assert run_ids(api, "?q=JANE@example.com") == [runs["other"].pk, runs["old"].pk]


def test_it_rejects_bad_run_filters_clearly(alice, runs):
    _, _, api = alice
    for query in (
        "?status=exploded",
        "?limit=1000",
        "?offset=-1",
        "?since=yesterday",
        "?recipe=abc",
    ):
        response = api.get(f"/api/runs{query}")
        assert response.status_code == 422, query
        assert response.json()["detail"]


def test_it_shows_a_run_with_its_step_runs(alice, bob, runs):
    _, _, api = alice
    _, _, bob_api = bob
    run = runs["new"]
    body = api.get(f"/api/runs/{run.pk}").json()
    assert (body["status"], body["trigger"]["number"]) == ("failed", 1002)
    customer, discount = body["step_runs"]
    assert customer["rendered_input"] == {"email": "max@example.com"}
    assert (customer["output"]["id"], customer["duration_ms"]) == ("cus_1", 12)
    assert (discount["status"], discount["status_code"]) == ("failed", 422)
    assert discount["error"] == "Cartly refused: code is already taken"
    assert bob_api.get(f"/api/runs/{run.pk}").status_code == 404
    assert (
        bob_api.post(
            f"/api/runs/{run.pk}/replay", {"version": "current"}, content_type="application/json"
        ).status_code
        == 404
    )


def test_it_rejects_a_bad_replay_version(alice, runs):
    _, _, api = alice
    response = post(api, f"/api/runs/{runs['new'].pk}/replay", {"version": "yesterday"})
    assert response.status_code == 422


def test_it_replays_a_run_with_the_original_or_current_version(alice, runs, doc):
    user, _, api = alice
    run = runs["new"]
    changed = copy.deepcopy(doc)
    changed["steps"][1]["fields"]["value"] = "15"
    assert put(api, f"/api/recipes/{run.recipe_id}", changed).json()["version"] == 2
    original = post(api, f"/api/runs/{run.pk}/replay", {"version": "original"})
    current = post(api, f"/api/runs/{run.pk}/replay", {"version": "current"})
    assert (original.status_code, current.status_code) == (201, 201)
    assert (original.json()["replay_of_id"], original.json()["recipe_version"]) == (run.pk, 1)
    assert (current.json()["replay_of_id"], current.json()["recipe_version"]) == (run.pk, 2)
    assert Run.objects.get(pk=run.pk).status == Run.Status.FAILED  # the original is untouched


def test_it_turns_a_recipe_on_and_off_and_deletes_an_enabled_one(alice, doc):
    user, shop, api = alice
    # Polling needs no hook at Cartly, so turning it on makes no remote call.
    recipe = create_recipe(user, shop, {**doc, "mode": "polling"})
    body = api.post(f"/api/recipes/{recipe.pk}/enable").json()
    assert (body["enabled"], body["is_running"]) == (True, True)
    assert api.post(f"/api/recipes/{recipe.pk}/disable").json()["enabled"] is False
    api.post(f"/api/recipes/{recipe.pk}/enable")
    assert api.delete(f"/api/recipes/{recipe.pk}").status_code == 204
    recipe.refresh_from_db()
    assert not recipe.enabled and recipe.deleted_at is not None


def test_it_answers_undecodable_bodies_with_a_400(alice, doc):
    user, shop, api = alice
    recipe = create_recipe(user, shop, doc)
    response = api.put(f"/api/recipes/{recipe.pk}", b"\xff\xfe{", content_type="application/json")
    assert response.status_code == 400
    response = api.post("/api/recipes", b"\xff\xfe{", content_type="application/json")
    assert response.status_code == 400
    deep = "[" * 100_000 + "]" * 100_000
    response = api.put(f"/api/recipes/{recipe.pk}", deep, content_type="application/json")
    assert response.status_code == 400


# --- tokens ---------------------------------------------------------------------------------


def test_it_prints_a_new_token_once_and_stores_only_its_hash():
    from io import StringIO

    from django.core.management import call_command

    user = get_user_model().objects.create_user("carol")
    out = StringIO()
    call_command(
        "create_api_token", "--user", "carol", "--name", "deploy", stdout=out, stderr=StringIO()
    )
    raw = out.getvalue().strip()
    token = ApiToken.objects.get(user=user)
    assert token.name == "deploy" and raw.startswith("cat_")
    assert raw not in (token.token_hash, token.hint) and raw.startswith(token.hint)
    assert ApiToken.authenticate(raw) == user


def test_it_shows_a_token_made_in_the_admin_once(admin_client, django_user_model):
    owner = django_user_model.objects.create_user("dave")
    response = admin_client.post(
        "/admin/accounts/apitoken/add/", {"user": owner.pk, "name": "zap"}, follow=True
    )
    token = ApiToken.objects.get(user=owner)
    raw = response.context["raw"]  # shown on the page that made it, and nowhere else
    assert raw in response.content.decode() and ApiToken.authenticate(raw) == owner
    assert "no-store" in response["Cache-Control"]
    cookies = " ".join(morsel.value for morsel in admin_client.cookies.values())
    assert raw not in cookies and raw not in str(dict(admin_client.session))
    assert not list(response.context["messages"])
    page = admin_client.get(f"/admin/accounts/apitoken/{token.pk}/change/")
    assert page.status_code == 200 and raw not in page.content.decode()


def test_it_snapshots_a_row_edited_recipe_before_replaying_its_current_version(alice, runs):
    _, _, api = alice
    run = runs["new"]
    # An editor that changes Step rows directly bumps the version without a snapshot.
    Recipe.objects.filter(pk=run.recipe_id).update(version=5)
    response = post(api, f"/api/runs/{run.pk}/replay", {"version": "current"})
    assert (response.status_code, response.json()["recipe_version"]) == (201, 5)
    assert RecipeVersion.objects.filter(recipe_id=run.recipe_id, version=5).exists()
