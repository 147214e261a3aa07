"""People and rows for the merchant pages' tests: an owner with a shop and an outsider.

Plain functions that create real rows (no factories, no mocks), and the fixtures the page
tests share (loaded for every engine test by tests/conftest.py; a test module's own fixture of
the same name wins). The shop's tokens are known strings so tests can check no page ever
shows them.
"""

import json
from datetime import datetime
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from automations.documents import create_recipe
from automations.engine.versions import version_document
from automations.models import Event, Recipe, Run, StepRun
from connectors.models import Connection

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "new-order-discount.json"
ACCESS_TOKEN = "cat_access_KNOWN-7f3a9c-never-shown"
REFRESH_TOKEN = "cat_refresh_KNOWN-2b8e41-never-shown"


def make_user(name: str, email: str = ""):
    return get_user_model().objects.create_user(name, email=email, password=f"{name}-pass-123")


def make_shop(user, **fields) -> Connection:
    values = {
        "shop_id": f"shop_{user.username}",
        "shop_name": f"{user.username.title()} Tees",
        "shop_domain": f"{user.username}.cartly.test",
        "scopes": "read_orders write_discounts",
        "access_token": ACCESS_TOKEN,
        "refresh_token": REFRESH_TOKEN,
    }
    return Connection.objects.create(owner=user, **(values | fields))


def make_recipe(user, shop: Connection, name: str = "") -> Recipe:
    doc = json.loads(EXAMPLE.read_text())
    if name:
        doc["name"] = name
    return create_recipe(user, shop, doc)


def order(number: int, email: str = "", customer_email: str = "") -> dict:
    payload = {"id": f"ord_{number}", "number": number, "total_price": "42.00"}
    if email:
        payload["email"] = email
    if customer_email:
        payload["customer"] = {"email": customer_email, "first_name": "Ana"}
    return payload


def make_run(
    recipe: Recipe,
    payload: dict,
    status: str = Run.Status.SUCCEEDED,
    created_at: datetime | None = None,
    reason: str = "",
) -> Run:
    """A run of a new order.created event of `payload`, as the engine would have left it."""
    created_at = created_at or timezone.now()
    event = Event.objects.create(
        connection=recipe.connection,
        cartly_event_id=f"evt_{payload['id']}_{recipe.pk}",
        event_type="order.created",
        object_id=payload["id"],
        payload=payload,
        status=Event.Status.DISPATCHED,
        received_at=created_at,
    )
    return Run.objects.create(
        recipe=recipe,
        event=event,
        recipe_version=recipe.version,
        status=status,
        failure_reason=reason,
        created_at=created_at,
        started_at=created_at,
        finished_at=created_at if status in Run.FINISHED else None,
    )


def add_failed_steps(run: Run) -> tuple[StepRun, StepRun]:
    """The example recipe's two steps: the customer found, the discount refused by Cartly."""
    customer = StepRun.objects.create(
        run=run,
        position=0,
        key="customer",
        operation="cartly.find_or_create_customer",
        status=StepRun.Status.SUCCEEDED,
        attempts=1,
        status_code=200,
        rendered_input={"email": "ana@example.com", "tags": "buyer"},
        output={"id": "cus_77", "email": "ana@example.com"},
        duration_ms=120,
        started_at=run.started_at,
        finished_at=run.started_at,
    )
    discount = StepRun.objects.create(
        run=run,
        position=1,
        key="discount",
        operation="cartly.create_discount",
        status=StepRun.Status.FAILED,
        attempts=1,
        status_code=422,
        rendered_input={"code": "THANKS-1001", "kind": "percentage", "value": "10"},
        error="Cartly refused the discount: code is already taken.",
        error_fields={"code": ["has already been taken"]},
        started_at=run.started_at,
        finished_at=run.started_at,
        duration_ms=80,
    )
    return customer, discount


@pytest.fixture(autouse=True)
def fresh_versions():
    """Test rollbacks hand row ids out again: a cached document of a gone recipe must not
    answer for a new one. (In production ids are never reused.)"""
    version_document.cache_clear()
    yield
    version_document.cache_clear()


@pytest.fixture
def merchant():
    return make_user("merchant", email="merchant@shop.test")


@pytest.fixture
def outsider():
    return make_user("outsider", email="outsider@elsewhere.test")


@pytest.fixture
def shop(merchant):
    return make_shop(merchant)


@pytest.fixture
def recipe(merchant, shop):
    return make_recipe(merchant, shop, "Thank buyers")


@pytest.fixture
def browser(client, merchant):
    client.force_login(merchant)
    return client
