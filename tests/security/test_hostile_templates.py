"""A template cannot exhaust the process that renders it: every render happens in a render
child under memory and CPU limits, killed and replaced at a deadline. Driven through the
builder's preview and a real run on the Celery worker, with this process's memory and time
measured (tests/security/conftest.py)."""

import uuid

import pytest

from automations.documents import create_recipe
from automations.models import StepRun
from tests.automations.conftest import finished_runs, one_step_document, start_run, wait_for
from tests.security.conftest import assert_contained, measured, post_json

# Each builds far more than the output cap inside one render, past the in-process guards. The
# loops reach the memory limit in about a second: on a busy machine the field's deadline may
# stop them first, which is as good (both are named in the error).
MEMORY_BOMBS = {
    # 10,000 loop steps of 60,000 characters joined inside a {% set %} block: 600 MB.
    "set block": "{% set x %}{% for i in range(10000) %}{{ 'x' * 60000 }}{% endfor %}"
    "{% endset %}{{ x|length }}",
    # The same inside a macro body.
    "macro": "{% macro m() %}{% for i in range(10000) %}{{ 'y' * 60000 }}{% endfor %}"
    "{% endmacro %}{{ m()|length }}",
    # Byte strings: 6 GB in one multiplication.
    "bytes": "{{ (('x' * 60000).encode() * 100000)|length }}",
    # A filter whose size argument is not checked: 65,000 × 60,000 characters.
    "filter argument": "{{ ('a' * 65000)|wordwrap(1, wrapstring='b' * 60000)|length }}",
}
# One C-level call of seconds that starts before the field's 1 s deadline: the guards check
# the clock between operations, so only killing the render child stops it.
LONG_C_CALL = "{{ ('a' * 65000)|wordwrap(2, wrapstring='aaaaaaaa')|wordwrap(1)|length }}"
SAMPLE_ID = "ord_SAMPLE00000000000000000001"  # connectors/cartly/samples/order__created.json
TOO_MUCH_MEMORY = '"Note": the template needs too much memory'
TOO_LONG = '"Note": rendering took longer than 1 s'
STOPPED = {TOO_MUCH_MEMORY, TOO_LONG}
LOOPS = {"set block", "macro"}


def note_step(template: str) -> dict:
    return {
        "key": "mark",
        "operation": "cartly.update_order",
        "fields": {"order_id": "{{ trigger.id }}", "note": template},
    }


def preview_note(client, template: str) -> dict:
    document = one_step_document("cartly.order_created", note_step(template))
    return post_json(client, "/recipes/preview/", {"document": document})["fields"]


@pytest.mark.parametrize("name", MEMORY_BOMBS)
def test_a_memory_bomb_in_the_preview_is_an_error_on_its_field(mallory, name):
    with measured() as cost:
        fields = preview_note(mallory, MEMORY_BOMBS[name])
    assert_contained(cost)
    error = fields["steps[0].fields.note"]["error"]
    assert error in STOPPED if name in LOOPS else error == TOO_MUCH_MEMORY
    assert fields["steps[0].fields.order_id"] == {"value": SAMPLE_ID}


def test_a_long_c_level_call_in_the_preview_is_stopped_at_the_fields_deadline(mallory):
    with measured() as cost:
        fields = preview_note(mallory, LONG_C_CALL)
    assert_contained(cost)
    assert fields["steps[0].fields.note"] == {"error": TOO_LONG}


def test_the_preview_keeps_working_after_hostile_requests(mallory):
    for template in (*MEMORY_BOMBS.values(), LONG_C_CALL):
        preview_note(mallory, template)
    with measured() as cost:
        fields = preview_note(mallory, "Paid: {{ trigger.id }}")
    assert_contained(cost)
    assert fields["steps[0].fields.note"] == {"value": f"Paid: {SAMPLE_ID}"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("template", "errors"),
    [
        (MEMORY_BOMBS["set block"], STOPPED),
        (MEMORY_BOMBS["bytes"], {TOO_MUCH_MEMORY}),
        (LONG_C_CALL, {TOO_LONG}),
    ],
    ids=["set block", "bytes", "long C call"],
)
def test_a_hostile_template_fails_its_run_on_the_worker(
    owner, connection, celery_worker, template, errors
):
    recipe = create_recipe(
        owner, connection, one_step_document("cartly.order_created", note_step(template))
    )
    with measured() as cost:
        start_run(
            recipe,
            connection,
            {"id": "ord_HOSTILE", "number": 7},
            event_id=f"evt_{uuid.uuid4().hex}",
        )
        [run] = wait_for(lambda: finished_runs(recipe), "the run to finish")
    assert_contained(cost)
    assert run.status == "failed"
    step = StepRun.objects.get(run=run)
    assert step.status == "failed" and step.error in errors
    assert step.error in run.failure_reason


@pytest.mark.parametrize(
    "template", ["{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}", "{{ x" + "|e" * 3000 + " }}"]
)
def test_a_template_nested_too_deeply_is_a_problem_at_save_not_an_error(mallory, template):
    document = one_step_document("cartly.order_created", note_step(template))
    with measured() as cost:
        problems = post_json(mallory, "/recipes/validate/", {"document": document})["problems"]
        fields = post_json(mallory, "/recipes/preview/", {"document": document})["fields"]
    assert_contained(cost)
    assert {
        "path": "steps[0].fields.note",
        "message": "Line 1: the template nests too deeply",
    } in problems
    assert "the template nests too deeply" in fields["steps[0].fields.note"]["error"]
