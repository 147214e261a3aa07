"""The hot path's plain SQL helpers (automations/engine/sql.py) on the test's database."""

import pytest
from django.db import connection

from automations.engine import sql
from automations.models import Run, StepRun
from tests.personas import make_recipe, make_run, order

pytestmark = pytest.mark.django_db


def test_inserted_rows_get_their_own_ids_across_statements(merchant, shop, monkeypatch):
    run = make_run(make_recipe(merchant, shop, "Welcome"), order(1001), status=Run.Status.RUNNING)
    monkeypatch.setattr(connection.ops, "bulk_batch_size", lambda fields, objs: 7)
    rows = [
        StepRun(run=run, position=i, key=f"step{i}", output={"n": i, "items": [i, "x"]})
        for i in range(20)
    ]

    sql.insert_models(rows)

    stored = {row.pk: (row.position, row.output, row.status) for row in StepRun.objects.all()}
    assert len(stored) == 20
    assert [stored[row.pk] for row in rows] == [
        (i, {"n": i, "items": [i, "x"]}, StepRun.Status.PENDING) for i in range(20)
    ]
    assert all(not row._state.adding for row in rows)


def test_values_come_back_as_the_orm_gives_them(merchant, shop):
    run = make_run(make_recipe(merchant, shop, "Welcome"), order(1001), status=Run.Status.RUNNING)

    ((created_at, payload),) = sql.fetch(
        "SELECT r.created_at, e.payload FROM automations_run r "
        "JOIN automations_event e ON e.id = r.event_id WHERE r.id = %s",
        [run.pk],
    )

    assert sql.as_moment(created_at) == run.created_at
    assert sql.as_json(payload) == run.event.payload
