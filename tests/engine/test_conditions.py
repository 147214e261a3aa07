"""Filter conditions: named operators, readable stop reasons, and broken conditions refused."""

import pytest

from automations.engine.conditions import (
    OPERATORS,
    ConditionError,
    ConditionResult,
    evaluate,
    resolve,
    validate_condition,
)

CONTEXT = {
    "trigger": {
        "total_price": "12.00",
        "email": "Ann@Example.test",
        "tags": ["VIP", "wholesale"],
        "tag_text": "vip, wholesale",
        "paid": True,
        "test": "no",
        "note": "",
        "cancelled_at": None,
        "created_at": "2025-03-01T10:15:00+00:00",
        "items": [{"sku": "MUG-1", "quantity": 2}],
        "shipping": {"country": "DE"},
    },
    "steps": {"find_customer": {"orders_count": 7}},
}


def cond(field: str, operator: str, value: object = None) -> dict:
    return {"field": field, "operator": operator, "value": value}


def passes(field: str, operator: str, value: object = None) -> bool:
    return evaluate([cond(field, operator, value)], CONTEXT).passed


@pytest.mark.parametrize(
    ("field", "operator", "value", "expected"),
    [
        ("trigger.total_price", "equals", "12", True),
        ("trigger.total_price", "equals", 12.0, True),
        ("trigger.email", "equals", "ann@example.test", True),
        ("trigger.email", "equals", "bob@example.test", False),
        ("trigger.email", "not_equals", "bob@example.test", True),
        ("trigger.missing", "equals", "missing", False),
        ("trigger.email", "contains", "@example", True),
        ("trigger.email", "contains", "@shop", False),
        ("trigger.tags", "contains", "vip", True),
        ("trigger.tags", "contains", "vi", False),
        ("trigger.shipping", "contains", "country", True),
        ("trigger.tags", "not_contains", "retail", True),
        ("trigger.email", "starts_with", "ANN", True),
        ("trigger.email", "ends_with", ".test", True),
        ("trigger.missing", "ends_with", "g", False),
        ("trigger.total_price", "greater_than", "9.99", True),
        ("trigger.total_price", "greater_than", "50", False),
        ("trigger.total_price", "greater_than", "12.00", False),
        ("trigger.total_price", "greater_or_equal", "12", True),
        ("trigger.total_price", "less_than", "100", True),
        ("trigger.total_price", "less_or_equal", "11.99", False),
        ("steps.find_customer.orders_count", "greater_than", "5", True),
        ("trigger.items.0.quantity", "less_than", 3, True),
        ("trigger.created_at", "greater_than", "2025-01-01T00:00:00+00:00", True),
        ("trigger.created_at", "less_than", "2025-01-01T00:00:00+00:00", False),
        ("trigger.email", "greater_than", "10", False),
        ("trigger.missing", "less_than", "10", False),
        ("trigger.email", "exists", None, True),
        ("trigger.note", "exists", None, False),
        ("trigger.cancelled_at", "exists", None, False),
        ("trigger.missing", "not_exists", None, True),
        ("trigger.paid", "is_true", None, True),
        ("trigger.test", "is_false", None, True),
        ("trigger.test", "is_true", None, False),
        ("trigger.missing", "is_false", None, False),
        ("trigger.shipping.country", "in_list", "AT, de, CH", True),
        ("trigger.shipping.country", "in_list", ["FR", "IT"], False),
        ("trigger.total_price", "in_list", "5, 12.0", True),
        ("trigger.shipping.country", "not_in_list", "FR,IT", True),
        ("trigger.missing", "in_list", "a,b", False),
        ("trigger.email", "matches_regex", r"@example\.test$", True),
        ("trigger.email", "matches_regex", r"^bob@", False),
        ("trigger.missing", "matches_regex", r".*", False),
    ],
)
def test_it_applies_each_operator(field, operator, value, expected):
    assert passes(field, operator, value) is expected


def test_it_covers_every_operator_in_the_table():
    tested = {
        "equals",
        "not_equals",
        "contains",
        "not_contains",
        "starts_with",
        "ends_with",
        "greater_than",
        "less_than",
        "greater_or_equal",
        "less_or_equal",
        "exists",
        "not_exists",
        "is_true",
        "is_false",
        "in_list",
        "not_in_list",
        "matches_regex",
    }
    assert set(OPERATORS) == tested


def test_it_labels_operators_for_the_builder():
    assert OPERATORS["greater_than"].label == "is greater than"
    assert OPERATORS["greater_than"].takes_value is True
    assert OPERATORS["exists"].takes_value is False


def test_it_explains_why_a_run_was_stopped():
    result = evaluate([cond("trigger.total_price", "greater_than", "50")], CONTEXT)
    assert result == ConditionResult(
        False, 'Stopped by filter: "trigger.total_price" (12.00) is not greater than 50'
    )


def test_it_says_when_the_field_is_missing():
    result = evaluate([cond("trigger.coupon", "exists")], CONTEXT)
    assert result.reason == 'Stopped by filter: "trigger.coupon" (missing) has no value'


def test_it_shows_lists_and_cuts_long_values():
    long_text = {"trigger": {"note": "x" * 500}}
    result = evaluate([cond("trigger.note", "equals", "y")], long_text)
    assert "(" + "x" * 57 + "...)" in result.reason
    result = evaluate([cond("trigger.tags", "contains", "retail")], CONTEXT)
    assert result.reason.endswith('"trigger.tags" (VIP, wholesale) does not contain retail')


def test_it_stops_at_the_first_failure_when_all_must_pass():
    result = evaluate(
        [
            cond("trigger.paid", "is_true"),
            cond("trigger.email", "contains", "@shop"),
            cond("trigger.total_price", "greater_than", "50"),
        ],
        CONTEXT,
    )
    assert not result.passed
    assert "@shop" in result.reason and "greater" not in result.reason


def test_it_passes_when_any_condition_matches():
    result = evaluate(
        [cond("trigger.email", "contains", "@shop"), cond("trigger.paid", "is_true")],
        CONTEXT,
        match="any",
    )
    assert result.passed


def test_it_lists_every_failure_when_none_of_any_matched():
    result = evaluate(
        [
            cond("trigger.email", "contains", "@shop"),
            cond("trigger.total_price", "greater_than", "50"),
        ],
        CONTEXT,
        match="any",
    )
    assert not result.passed
    assert result.reason.startswith("Stopped by filter: none matched: ")
    assert "@shop" in result.reason and "greater than 50" in result.reason


def test_it_passes_with_no_conditions():
    assert evaluate([], CONTEXT).passed
    assert evaluate([], CONTEXT, match="any").passed


def test_it_refuses_an_unknown_match_mode():
    with pytest.raises(ConditionError):
        evaluate([], CONTEXT, match="most")


def test_it_refuses_a_broken_condition_instead_of_filtering():
    with pytest.raises(ConditionError, match="unknown operator"):
        evaluate([cond("trigger.email", "resembles", "x")], CONTEXT)


def test_it_resolves_dotted_paths_through_dicts_and_lists():
    assert resolve(CONTEXT, "trigger.items.0.sku") == "MUG-1"
    assert str(resolve(CONTEXT, "trigger.items.5.sku")) == "missing"
    assert str(resolve(CONTEXT, "trigger.email.domain")) == "missing"


@pytest.mark.parametrize(
    ("condition", "problem"),
    [
        ({"operator": "equals", "value": "x"}, "choose a field to check"),
        (cond("trigger.email", "resembles", "x"), "unknown operator 'resembles'"),
        (cond("trigger.email", ["equals"], "x"), "unknown operator ['equals']"),
        (cond("trigger.email", "contains", ""), '"contains" needs a value to compare with'),
        (cond("trigger.email", "matches_regex", "(unclosed"), "missing ): (unclosed"),
        (cond("trigger.email", "matches_regex", r"(a)\1"), 'the filter on "trigger.email"'),
        (cond("trigger.email", "matches_regex", "(?=x)y"), "cannot be used"),
        (cond("trigger.email", "matches_regex", "a" * 201), "longer than 200 characters"),
    ],
)
def test_it_validates_conditions(condition, problem):
    problems = validate_condition(condition)
    assert len(problems) == 1
    assert problem in problems[0]


def test_it_accepts_a_complete_condition():
    assert validate_condition(cond("trigger.email", "exists")) == []
    assert validate_condition(cond("trigger.total_price", "greater_than", 0)) == []
    assert validate_condition(cond("trigger.email", "matches_regex", r"^\w+@")) == []
    # RE2 runs it in linear time, so the shape that backtracks in Python's re is fine.
    assert validate_condition(cond("trigger.email", "matches_regex", "(a+)+$")) == []
