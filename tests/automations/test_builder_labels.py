"""What the builder and the lists say: value pills' labels from the catalogue, the switch's
message said once, a run's times as one story."""

from datetime import timedelta

import pytest
from django.utils import timezone

from automations import history
from automations.builder import listing, pills
from automations.models import Recipe, Run
from tests.personas import make_run, order

pytestmark = pytest.mark.django_db


def test_pills_are_labelled_from_the_catalogue_with_their_sample():
    doc = {
        "trigger": "cartly.order_created",
        "steps": [{"key": "customer", "operation": "cartly.find_customer", "fields": {}}],
    }
    labels = pills.pill_labels(doc)
    assert labels["trigger.number"] == {"label": "Order › Number", "example": "1001"}
    assert labels["trigger.customer.email"]["label"] == "Order › Customer email"
    assert labels["trigger.line_items[0].sku"]["label"] == "Order › First item SKU"
    assert labels["steps.customer.id"]["label"] == "1. Customer › ID"
    assert pills.pill_labels({"trigger": "cartly.nope"}) == {}
    assert pills.pill_labels([]) == {}


def test_the_builder_page_carries_pills_and_the_time_zone(browser, recipe):
    browser.post("/profile/", {"time_zone": "Europe/Paris"})
    page = browser.get(f"/recipes/{recipe.pk}/edit/")
    data = page.context["builder_data"]
    assert data["time_zone"] == "Europe/Paris"
    assert data["preview"]["pills"]["trigger.email"]["label"] == "Order › Email"


@pytest.mark.parametrize(
    "mode, enabled, reason, said",
    [
        ("instant", False, "", "“R” is off."),
        (
            "instant",
            False,
            "Turned off: the shop was disconnected",
            "“R” is off. Turned off: the shop was disconnected",
        ),
        ("polling", True, "", "“R” is on and checks the shop by polling."),
        (
            "instant",
            True,
            "Paused: the shop needs reconnecting",
            "“R” is on but not running yet: Paused: the shop needs reconnecting",
        ),
    ],
)
def test_the_switch_says_what_happened_once(mode, enabled, reason, said):
    recipe = Recipe(name="R", mode=mode, enabled=enabled, paused_reason=reason)
    state = listing.switch_state(recipe, None)
    assert listing.toggle_message(recipe, state) == said
    assert "Off" not in said


def test_a_run_its_filter_stopped_started_when_it_was_created(recipe):
    created = timezone.now() - timedelta(minutes=3)
    run = make_run(recipe, order(1), Run.Status.FILTERED, created)
    run.started_at = None
    run.finished_at = created + timedelta(milliseconds=40)
    times = history.run_times(run)
    assert (times.started, times.duration_ms) == (created, 40)
    queued = make_run(recipe, order(2), Run.Status.QUEUED)
    queued.started_at = None
    assert (history.run_times(queued).started, history.run_times(queued).duration_ms) == (
        None,
        None,
    )
