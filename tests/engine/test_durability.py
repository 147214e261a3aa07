"""Which commits may return before their flush (engine/claims.py; docs/architecture.md,
"Durability"): the engine's own bookkeeping, each in its own transaction, never what follows
on the same connection."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from automations.engine import outcomes
from automations.engine.claims import claim_with_runs, record_and_read, relaxed_commit
from automations.engine.dispatch import dispatch_batch
from automations.models import Event, Recipe, Run, StepRun
from tests.personas import make_recipe, make_run, order

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's commit setting"),
]


def synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


def first_words(captured) -> list[str]:
    return [q["sql"].split()[0] for q in captured.captured_queries]


@pytest.fixture
def pending_step(merchant, shop):
    recipe = make_recipe(merchant, shop, "Welcome")
    run = make_run(recipe, order(1001), status=Run.Status.RUNNING)
    return StepRun.objects.create(
        run=run, position=0, key="customer", operation="cartly.create_customer"
    )


def test_a_relaxed_commit_is_relaxed_for_its_own_transaction_only():
    with transaction.atomic():
        relaxed_commit()
        inside = synchronous_commit()

    assert inside == "off"
    assert synchronous_commit() == "on"


def test_the_step_claim_relaxes_its_transaction_itself(pending_step, shop):
    with CaptureQueriesContext(connection) as captured, transaction.atomic():
        rows, infos, shops = claim_with_runs([pending_step.pk], timezone.now())
        inside = synchronous_commit()

    assert [row.id for row in rows] == [pending_step.pk]
    assert pending_step.run_id in infos and shop.pk in shops
    assert inside == "off"
    # One statement claims, reads runs and shops, and relaxes the commit (no SET LOCAL).
    assert first_words(captured) == ["BEGIN", "WITH", "SHOW", "COMMIT"]
    assert synchronous_commit() == "on"


def test_the_record_relaxes_its_transaction_and_reads_the_runs_rows(pending_step):
    started = timezone.now()
    with transaction.atomic():
        (row,), _, _ = claim_with_runs([pending_step.pk], started)
    later = StepRun.objects.create(run_id=pending_step.run_id, position=1, key="discount")

    with transaction.atomic():
        written, rows = record_and_read([(row, outcomes.succeeded({"id": 7}))], started, started)
        inside = synchronous_commit()

    assert inside == "off" and synchronous_commit() == "on"
    assert written == {pending_step.pk}
    by_where = rows[pending_step.run_id]
    assert by_where["0"].status == StepRun.Status.SUCCEEDED and by_where["0"].output == {"id": 7}
    assert by_where["1"].id == later.pk and by_where["1"].status == StepRun.Status.PENDING


def test_the_dispatch_is_relaxed_but_what_follows_its_commit_is_not(merchant, shop):
    recipe = make_recipe(merchant, shop, "Welcome")
    Recipe.objects.filter(pk=recipe.pk).update(enabled=True)
    Event.objects.create(
        connection=shop,
        cartly_event_id="evt_1001",
        event_type="order.created",
        object_id="1001",
        payload=order(1001),
        status=Event.Status.RECEIVED,
    )
    seen = []

    with transaction.atomic():
        transaction.on_commit(lambda: seen.append(synchronous_commit()))
        assert dispatch_batch()
        seen.append(synchronous_commit())

    assert seen == ["off", "on"]  # inside the dispatch, then in an after-commit handler
