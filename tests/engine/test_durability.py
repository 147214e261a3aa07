"""Which commits may return before their flush (engine/claims.py; docs/architecture.md,
"Durability"): the engine's own bookkeeping, never anything else on the same connection."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from automations.engine.claims import claim_with_runs, relax_session, relaxed_commit
from automations.models import Run, StepRun
from tests.personas import make_recipe, make_run, order

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's commit setting"),
]


def synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.fixture(autouse=True)
def fresh_connection():
    connection.close()
    yield
    connection.close()  # a relaxed session ends with its connection


def test_a_relaxed_commit_is_relaxed_for_its_own_transaction_only():
    with transaction.atomic():
        relaxed_commit()
        inside = synchronous_commit()

    assert inside == "off"
    assert synchronous_commit() == "on"


def test_a_relaxed_session_spends_no_statement_on_each_transaction():
    relax_session()

    with CaptureQueriesContext(connection) as captured, transaction.atomic():
        relaxed_commit()

    assert synchronous_commit() == "off"
    assert not [q for q in captured.captured_queries if "synchronous_commit" in q["sql"]]


def test_a_new_connection_is_durable_until_relaxed_again():
    relax_session()
    connection.close()  # as after a database error: the clock reconnects

    assert synchronous_commit() == "on"
    with CaptureQueriesContext(connection) as captured, transaction.atomic():
        relaxed_commit()
    assert [q for q in captured.captured_queries if "synchronous_commit" in q["sql"]]

    relax_session()
    assert synchronous_commit() == "off"


def test_the_step_claim_relaxes_its_transaction_itself(merchant, shop):
    recipe = make_recipe(merchant, shop, "Welcome")
    run = make_run(recipe, order(1001), status=Run.Status.RUNNING)
    step = StepRun.objects.create(
        run=run, position=0, key="customer", operation="cartly.create_customer"
    )

    with CaptureQueriesContext(connection) as captured, transaction.atomic():
        rows, infos, shops = claim_with_runs([step.pk], timezone.now())
        inside = synchronous_commit()

    assert [row.id for row in rows] == [step.pk] and run.pk in infos and shop.pk in shops
    assert inside == "off"
    # One statement claims, reads runs and shops, and relaxes the commit (no SET LOCAL).
    assert [q["sql"].split()[0] for q in captured.captured_queries] == [
        "BEGIN",
        "WITH",
        "SHOW",
        "COMMIT",
    ]
    assert synchronous_commit() == "on"
