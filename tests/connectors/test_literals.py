"""Text typed as it is into a field must be something the field's type can take."""

import pytest

from connectors import registry
from connectors.convert import literal_problem


def field(operation: str, key: str):
    return next(f for f in registry.get(operation).input_fields if f.key == key)


@pytest.mark.parametrize(
    "operation, key, text, words",
    [
        ("cartly.create_discount", "value", "ten", 'must be an amount such as "19.90", got "ten"'),
        ("cartly.create_discount", "value", "1.005", "at most two decimals"),
        ("cartly.create_discount", "usage_limit", "1.5", "must be a whole number"),
        ("cartly.create_discount", "starts_at", "tomorrow", 'got "tomorrow"'),
        ("cartly.create_discount", "kind", "half_price", "must be one of percentage"),
        ("cartly.create_customer", "accepts_marketing", "maybe", "must be yes or no"),
        ("cartly.find_customer", "email", "not-an-email", "must be an email address"),
    ],
)
def test_it_names_a_literal_its_field_cannot_take(operation, key, text, words):
    assert words in literal_problem(field(operation, key), text)


@pytest.mark.parametrize(
    "operation, key, text",
    [
        ("cartly.create_discount", "value", " 10 "),
        ("cartly.create_discount", "value", "{{ trigger.total_price }}"),  # known when it runs
        ("cartly.create_discount", "value", "{% if trigger.vip %}20{% else %}10{% endif %}"),
        ("cartly.create_discount", "value", ""),  # the required check's business
        ("cartly.create_discount", "starts_at", "2026-12-01T09:30:00+01:00"),
        ("cartly.create_discount", "kind", "Fixed_Amount"),  # the run accepts any case
        ("cartly.create_customer", "tags", "vip, newsletter"),
    ],
)
def test_it_lets_through_what_a_run_could_send(operation, key, text):
    assert literal_problem(field(operation, key), text) is None
