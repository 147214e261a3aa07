"""`manage.py engine_clock`: the clock on its own dispatches what the receiver stored."""

import signal
import subprocess
import sys

import pytest
from django.utils import timezone

from automations.models import Event, Recipe, Run
from tests.automations.conftest import wait_for
from tests.automations.worker_process import REPO_DIR, CeleryProcesses
from tests.personas import make_recipe

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_dispatches_stored_events_and_stops_on_sigterm(merchant, shop, tmp_path):
    recipe = make_recipe(merchant, shop, "Clocked")
    Recipe.objects.filter(pk=recipe.pk).update(enabled=True)
    event = Event.objects.create(
        connection=shop,
        cartly_event_id="evt_CLOCK",
        event_type=recipe.event_type,
        object_id="ord_CLOCK",
        payload={"id": "ord_CLOCK", "number": 1},
        dedupe_key="k|1",
        received_at=timezone.now(),
    )
    env = CeleryProcesses(tmp_path).env()
    clock = subprocess.Popen(
        [sys.executable, "manage.py", "engine_clock"],
        cwd=REPO_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(lambda: Run.objects.filter(event=event).exists(), "the clock's dispatch")
    finally:
        clock.send_signal(signal.SIGTERM)
        output, _ = clock.communicate(timeout=30)
    assert clock.returncode == 0, output
    assert "Engine clock stopped." in output
    assert Event.objects.get(pk=event.pk).status == Event.Status.DISPATCHED
