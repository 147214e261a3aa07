"""The walk: what a run does next, decided from its recipe's step tree and the rows so far."""

from datetime import UTC, datetime, timedelta

from automations.engine import walk
from automations.engine.walk import Row

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
ORDER = {
    "id": "ord_1",
    "number": 1001,
    "total_price": "120.00",
    "email": "ada@example.com",
    "line_items": [
        {"variant_id": "var_A", "quantity": 1},
        {"variant_id": "var_B", "quantity": 2},
        {"variant_id": "var_C", "quantity": 3},
    ],
}
BASE = {"trigger": ORDER, "event": {"id": "evt_1", "type": "order.fulfilled"}, "now": NOW}
ADJUST = {
    "key": "adjust",
    "operation": "cartly.adjust_inventory",
    "fields": {"variant_id": "{{ item.variant_id }}", "quantity": "-{{ item.quantity }}"},
}
LOOP = {"key": "each_item", "loop": {"over": "trigger.line_items"}, "steps": [ADJUST]}


def plan(steps, rows=(), **kwargs):
    return walk.plan(steps, {row.where: row for row in rows}, BASE, NOW, **kwargs)


def done(where, key, output=None, status="succeeded", **fields):
    return Row(where, status, key, output if output is not None else {}, **fields)


def test_it_starts_at_the_first_operation():
    result = plan([{"key": "a", "operation": "cartly.find_customer", "fields": {}}])
    assert (result.state, result.where) == (walk.EXECUTE, "0")
    assert result.new_rows[0]["status"] == "pending"


def test_a_finished_run_succeeds():
    steps = [{"key": "a", "operation": "cartly.find_customer", "fields": {}}]
    assert plan(steps, [done("0", "a")]).status == walk.SUCCEEDED


def test_the_recipe_filter_stops_a_run_before_any_row():
    spec = {
        "match": "all",
        "conditions": [
            {"field": "trigger.total_price", "operator": "greater_than", "value": "500"}
        ],
    }
    result = plan([LOOP], recipe_filter=spec)
    assert (result.state, result.status, result.new_rows) == (walk.DONE, walk.FILTERED, [])


def test_a_loop_runs_its_steps_once_per_item_each_at_its_own_address():
    first = plan([LOOP])
    assert first.where == "0.i0.0"
    loop_row = next(r for r in first.new_rows if r["kind"] == "loop")
    assert [item["variant_id"] for item in loop_row["items"]] == ["var_A", "var_B", "var_C"]
    rows = [
        Row("0", "running", "each_item", {"count": 3}, loop_row["items"]),
        done("0.i0.0", "adjust"),
    ]
    assert plan([LOOP], rows).where == "0.i1.0"
    rows += [done("0.i1.0", "adjust"), done("0.i2.0", "adjust")]
    last = plan([LOOP], rows)
    assert last.status == walk.SUCCEEDED
    assert last.updates["0"]["status"] == "succeeded"


def test_a_loop_item_and_index_are_in_the_context():
    rows = [
        Row("0", "running", "each_item", {"count": 3}, ORDER["line_items"]),
        done("0.i0.0", "adjust", {"available": 4}),
    ]
    context = plan([LOOP], rows, target="0.i1.0").context
    assert context["item"]["variant_id"] == "var_B"
    assert (context["loop"]["index"], context["loop"]["index0"]) == (2, 1)
    assert "adjust" not in context["steps"]  # the first item's output is its own


def test_a_loop_over_something_that_is_not_a_list_fails_with_a_reason():
    result = plan([{**LOOP, "loop": {"over": "trigger.email"}}])
    assert result.status == walk.FAILED
    assert "not a list" in result.reason


def test_a_loop_is_capped(settings):
    settings.ENGINE_LOOP_MAX_ITEMS = 2
    loop_row = next(r for r in plan([LOOP]).new_rows if r["kind"] == "loop")
    assert len(loop_row["items"]) == 2
    assert loop_row["output"]["skipped"] == 1


PATHS = {
    "key": "route",
    "paths": {
        "run": "first",
        "branches": [
            {
                "label": "Big",
                "match": "all",
                "steps": [{"key": "vip", "operation": "cartly.update_customer", "fields": {}}],
                "conditions": [
                    {"field": "trigger.total_price", "operator": "greater_than", "value": "100"}
                ],
            },
            {
                "label": "Small",
                "match": "all",
                "steps": [{"key": "note", "operation": "cartly.update_order", "fields": {}}],
                "conditions": [
                    {"field": "trigger.total_price", "operator": "less_or_equal", "value": "100"}
                ],
            },
        ],
    },
}


def test_paths_take_the_first_branch_that_matches_and_say_why_others_did_not():
    result = plan([PATHS])
    assert result.where == "0.b0.0"
    decision = next(r for r in result.new_rows if r["kind"] == "paths")["output"]
    assert decision["ran"] == ["Big"]
    assert decision["branches"][1]["reason"].startswith("Not checked")


def test_paths_run_every_match_when_asked_and_otherwise_when_none_matches():
    every = {
        **PATHS,
        "paths": {
            **PATHS["paths"],
            "run": "all",
            "otherwise": [
                {"key": "fallback_note", "operation": "cartly.update_order", "fields": {}}
            ],
        },
    }
    cheap = {**BASE, "trigger": {**ORDER, "total_price": "0"}}
    result = walk.plan([every], {}, cheap, NOW)
    decision = next(r for r in result.new_rows if r["kind"] == "paths")["output"]
    assert decision["ran"] == ["Small"] and result.where == "0.b1.0"
    nothing = {**every, "paths": {**every["paths"], "branches": every["paths"]["branches"][:1]}}
    result = walk.plan([nothing], {}, cheap, NOW)
    assert result.where == "0.o.0"


def test_a_filter_in_a_loop_skips_that_item_only():
    only_b = {
        "key": "only_b",
        "filter": {
            "match": "all",
            "conditions": [{"field": "item.variant_id", "operator": "equals", "value": "var_B"}],
        },
    }
    loop = {**LOOP, "steps": [only_b, ADJUST]}
    rows = [Row("0", "running", "each_item", {"count": 3}, ORDER["line_items"])]
    result = walk.plan([loop], {r.where: r for r in rows}, BASE, NOW)
    assert result.where == "0.i1.1"  # item 1 filtered, item 2 goes on to its action
    assert [r["status"] for r in result.new_rows] == ["filtered", "succeeded", "pending"]


def test_a_delay_parks_the_run_until_its_time():
    delay = {"key": "wait", "delay": {"for": {"amount": 1, "unit": "hours"}}}
    result = plan([delay, ADJUST])
    assert result.state == walk.WAIT
    assert result.new_rows[0]["next_attempt_at"] == NOW + timedelta(hours=1)
    after = plan([delay, ADJUST], [done("0", "wait")])
    assert after.where == "1"


def test_a_delay_until_a_time_in_the_past_does_not_wait():
    delay = {"key": "wait", "delay": {"until": "{{ trigger.created_at }}"}}
    order = {**BASE, "trigger": {**ORDER, "created_at": "2026-11-01T00:00:00Z"}}
    result = walk.plan([delay, ADJUST], {}, order, NOW)
    assert result.where == "1"


def test_a_failed_step_that_goes_on_leaves_its_error_to_later_steps():
    steps = [{**ADJUST, "on_error": "continue"}, {"key": "after", "operation": "x.y"}]
    rows = [Row("0", "failed", "adjust", None, error="Out of stock", status_code=422)]
    result = plan(steps, rows, target="1")
    assert result.context["steps"]["adjust"] == {"error": "Out of stock", "status_code": 422}


def test_a_failed_step_with_fallback_runs_its_fallback_with_the_error():
    steps = [
        {
            **ADJUST,
            "on_error": "fallback",
            "fallback": [{"key": "tell", "operation": "cartly.update_order", "fields": {}}],
        }
    ]
    rows = [Row("0", "failed", "adjust", None, error="Out of stock")]
    result = plan(steps, rows)
    assert result.where == "0.e.0"
    assert plan(steps, rows, target="0.e.0").context["error"]["message"] == "Out of stock"


def test_a_failed_step_stops_the_run_by_default_naming_it():
    rows = [Row("0", "failed", "adjust", None, error="Out of stock")]
    result = plan([ADJUST], rows)
    assert (result.status, result.where) == (walk.FAILED, "0")
    assert result.reason == "Step 1 (adjust): Out of stock"


def test_describe_names_nested_places_in_words():
    assert walk.describe("2.i3.0", "adjust") == "Step 3, item 4, step 1 (adjust)"
    assert walk.describe("1.b0.1", "vip") == "Step 2, path 1, step 2 (vip)"
