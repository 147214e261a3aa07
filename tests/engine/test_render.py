"""Rendering field templates: values, merchant-readable errors, the sandbox and its caps."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from automations.engine import render, render_child, render_guards
from automations.engine.render import (
    RenderError,
    TemplateProblem,
    build_context,
    references,
    render_field,
    render_fields,
    validate_template,
)
from automations.engine.template_filters import money, percent_of, slug, to_json, truncate_words

NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


@pytest.fixture
def context() -> dict:
    trigger = {
        "id": "ord_1001",
        "total_price": "19.9",
        "created_at": "2025-03-01T10:15:00+00:00",
        "customer": {"email": "ann@example.test", "first_name": "Ann", "last_name": "Lee"},
        "items": [{"sku": "MUG-1", "quantity": 2}],
        "note": None,
    }
    event = {
        "id": "evt_9",
        "type": "order.created",
        "time": "2025-03-01T10:15:01+00:00",
        "extra": "not copied",
    }
    return build_context(trigger, event, {"find_customer": {"id": "cus_7"}}, NOW)


def fails(source: str, context: dict, label: str = "Note") -> str:
    with pytest.raises(RenderError) as caught:
        render_field(source, context, label=label)
    return str(caught.value)


# -- context and plain rendering ------------------------------------------------------------


def test_it_builds_the_context_names(context):
    assert set(context) == {"trigger", "event", "steps", "now"}
    assert context["event"] == {
        "id": "evt_9",
        "type": "order.created",
        "time": "2025-03-01T10:15:01+00:00",
    }
    assert context["steps"]["find_customer"] == {"id": "cus_7"}
    assert context["now"] is NOW


def test_it_refuses_a_naive_now():
    with pytest.raises(ValueError):
        build_context({}, {}, {}, datetime(2025, 1, 1))


def test_it_renders_trigger_event_steps_and_now(context):
    source = (
        "{{ trigger.customer.first_name }}/{{ event.type }}/{{ steps.find_customer.id }}/"
        "{{ now.year }}"
    )
    assert render_field(source, context, label="Note") == "Ann/order.created/cus_7/2025"


def test_it_prefers_a_data_key_over_a_dict_method(context):
    assert (
        render_field("{{ trigger.items[0].sku }} {{ trigger.items|length }}", context, label="Note")
        == "MUG-1 1"
    )


def test_it_renders_null_as_empty_text(context):
    assert render_field("[{{ trigger.note }}]", context, label="Note") == "[]"


def test_it_does_not_escape_html(context):
    assert render_field("{{ '<b>&' }}", context, label="Note") == "<b>&"


def test_it_renders_every_field_with_its_key(context):
    out = render_fields(
        {"email": "{{ trigger.customer.email }}", "tag": "vip"},
        context,
        {"email": "Customer email"},
    )
    assert out == {"email": "ann@example.test", "tag": "vip"}


def test_it_stops_render_fields_at_the_failing_field_with_its_label(context):
    with pytest.raises(RenderError) as caught:
        render_fields(
            {"ok": "x", "email": "{{ trigger.customer.emali }}"},
            context,
            {"email": "Customer email"},
        )
    assert caught.value.key == "email"
    assert caught.value.label == "Customer email"
    assert str(caught.value).startswith('"Customer email": ')


def test_it_compiles_each_source_once():
    source = "cached {{ trigger.id }} " + "unique-3f1c"
    render_guards.compiled(source)
    hits = render_guards.compiled.cache_info().hits
    render_guards.compiled(source)
    assert render_guards.compiled.cache_info().hits == hits + 1


def test_it_keeps_one_render_child_between_calls(context):
    render_field("{{ trigger.id }}", context, label="Note")
    first = render_child.child_pid()
    render_field("{{ trigger.id }}", context, label="Note")
    assert first is not None and render_child.child_pid() == first


def test_it_renders_many_jobs_in_one_call_each_with_its_own_outcome(context):
    other = {**context, "trigger": {"id": "ord_2002"}}
    ok, failed, second = render.render_many(
        [
            ({"a": "{{ trigger.id }}", "b": "x"}, context, {"a": "A"}),
            ({"a": "{{ trigger.nope }}"}, context, {"a": "Code"}),
            render.RenderJob({"a": "{{ trigger.id }}"}, other, {}),
        ]
    )
    assert ok == {"a": "ord_1001", "b": "x"} and ok.seconds >= 0
    assert isinstance(failed, RenderError) and failed.label == "Code"
    assert second == {"a": "ord_2002"}


# -- missing values -------------------------------------------------------------------------


def test_it_names_the_missing_path_and_what_is_available(context):
    message = fails("{{ trigger.customer.emali }}", context, label="Customer email")
    assert message == (
        '"Customer email": "trigger.customer.emali" is not in the data '
        "(available: email, first_name, last_name)"
    )


def test_it_names_a_missing_top_level_name(context):
    assert fails("{{ trigger2.id }}", context) == (
        '"Note": "trigger2" is not in the data (available: trigger, event, steps, now)'
    )


def test_it_names_a_list_index_past_the_end(context):
    assert fails("{{ trigger.items[3].sku }}", context) == (
        '"Note": "trigger.items.3" is not in the data (the list has 1 item)'
    )


def test_it_names_the_first_missing_link_of_a_chain(context):
    message = fails("{{ trigger.customer.address.city }}", context)
    assert '"trigger.customer.address" is not in the data' in message


def test_it_fails_on_a_missing_value_in_a_condition(context):
    assert "trigger.vip" in fails("{% if trigger.vip %}yes{% endif %}", context)


def test_it_lets_default_and_is_defined_handle_missing_values(context):
    source = (
        "{{ trigger.customer.phone|default('none') }} "
        "{{ trigger.customer.address.city|default('-') }} "
        "{{ 'yes' if trigger.gift is defined else 'no' }}"
    )
    assert render_field(source, context, label="Note") == "none - no"


def test_it_keeps_present_values_through_default(context):
    assert render_field("{{ trigger.id|default('x') }}", context, label="Note") == "ord_1001"


# -- syntax errors and validation -----------------------------------------------------------


def test_it_reports_syntax_errors_with_line_and_column(context):
    assert fails("Hello {{ x } }}", context) == (
        "\"Note\": template syntax error at line 1, column 12: unexpected '}'"
    )


def test_it_validates_without_rendering():
    assert validate_template("Hi {{ trigger.customer.first_name }}") == []
    assert validate_template("a\n  {{ a + }}") == [
        TemplateProblem(2, 10, "unexpected 'end of print statement'")
    ]


def test_it_locates_lexer_errors_on_later_lines():
    [problem] = validate_template("line one\r\nsay {{ 'open }}")
    assert (problem.line, problem.column) == (2, 8)


def test_it_points_at_the_end_of_an_unclosed_block():
    [problem] = validate_template("{% if x %}abc")
    assert (problem.line, problem.column) == (1, 14)
    assert "endif" in problem.message


def test_it_reports_an_unknown_filter_at_its_name():
    [problem] = validate_template("Total: {{ trigger.total_price|monye }}")
    assert problem == TemplateProblem(1, 31, "No filter named 'monye'")


def test_it_rejects_a_template_that_is_too_long(context):
    source = "x" * (render.MAX_TEMPLATE_CHARS + 1)
    assert "longer than 10,000 characters" in fails(source, context)
    assert validate_template(source)[0].line == 1


# -- the sandbox and its caps ---------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__ }}",
        "{{ trigger.__class__.__subclasses__() }}",
        "{{ ''.__class__|default('x') }}",
    ],
)
def test_it_turns_sandbox_escapes_into_render_errors(context, source):
    assert "is not allowed" in fails(source, context, label="Note")


def test_it_refuses_to_mutate_the_data(context):
    assert "not allowed" in fails("{{ trigger.customer.update({'email': 'x'}) }}", context)
    assert context["trigger"]["customer"]["email"] == "ann@example.test"


def test_it_stops_a_huge_range_loop(context):
    assert fails("{% for i in range(10**9) %}x{% endfor %}", context, label="Body") == (
        '"Body": range() is limited to 10,000 numbers'
    )


def test_it_stops_nested_loops_at_the_total_iteration_cap(context):
    source = "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}"
    assert "loops are limited to 10,000 steps" in fails(source, context)


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'x' * 10**9 }}",
        "{{ ['x'] * 10**9 }}",
        "{{ 'x'|center(10**9) }}",
        "{{ 'x'.ljust(10**9) }}",
        "{{ ('x' * 60000)|replace('x', 'yy') }}",
        "{{ range(9000)|join('x' * 100) }}",
        "{{ ('x\n' * 30000)|indent(10) }}",
        "{{ range(10)|batch(10**9, 'x')|list }}",
        "{{ range(10)|slice(10**8)|list }}",
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
        "{% endfor %}{{ ns.s }}",
    ],
)
def test_it_stops_text_that_grows_past_the_cap(context, source):
    assert "would be longer than 65,536 characters" in fails(source, context, label="Note")


@pytest.mark.parametrize(
    "source",
    [
        "{{ '%1000000000d'|format(1) }}",
        "{{ '%1000000000d' % 1 }}",
        "{{ '{:>1000000000}'.format(1) }}",
    ],
)
def test_it_stops_huge_format_widths(context, source):
    assert "format widths are limited" in fails(source, context)


def test_it_stops_huge_powers(context):
    assert "too large" in fails("{{ 10 ** 100000 }}", context)


def test_it_caps_the_output(context):
    source = "{% for i in range(100) %}{{ 'x' * 1000 }}{% endfor %}"
    assert "result is longer than 65,536 characters" in fails(source, context)


def test_it_stops_at_the_deadline(context):
    # A budget already spent stands in for a slow template, with no timing involved.
    [result] = render.render_many([({"n": "{{ trigger.id }}"}, context, {"n": "Note"})], budget=0)
    assert (
        str(result) == '"Note": rendering took longer than the 0 s allowed for all the '
        "fields together"
    )


def test_it_stops_at_a_spent_run_budget(context):
    deadline = render.run_deadline(spent_seconds=10.0, total_seconds=10.0)
    with pytest.raises(RenderError) as caught:
        render_fields({"n": "{{ trigger.id }}"}, context, {"n": "Note"}, deadline=deadline)
    assert "the run's templates together took longer than 10 s" in str(caught.value)


def test_it_turns_runaway_recursion_into_a_render_error(context):
    source = "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"
    assert fails(source, context).startswith('"Note": ')


def test_it_allows_ordinary_arithmetic_and_text(context):
    source = (
        "{{ trigger.items[0].quantity * 3 }} {{ 'ab' ~ 'cd' }} {{ 2 ** 10 }} {{ '%05.1f' % 2.5 }}"
    )
    assert render_field(source, context, label="Note") == "6 abcd 1024 002.5"


# -- commerce filters -----------------------------------------------------------------------


def test_it_formats_money(context):
    source = (
        "{{ trigger.total_price|money }} {{ trigger.total_price|money('usd') }} "
        "{{ 1500|money('JPY') }}"
    )
    assert render_field(source, context, label="Total") == "19.90 19.90 USD 1500 JPY"


def test_it_rounds_money_half_up():
    assert money("2.675") == "2.68"
    assert money(0.1 + 0.2) == "0.30"


def test_it_explains_money_that_is_not_a_number(context):
    assert fails("{{ 'abc'|money }}", context, label="Total") == (
        "\"Total\": 'abc' is not a number"
    )
    assert "currency code" in fails("{{ 1|money('dollars') }}", context)


def test_it_formats_dates(context):
    source = (
        "{{ trigger.created_at|date }} {{ trigger.created_at|date('%d/%m/%Y %H:%M') }} "
        "{{ now|date('%B %d') }}"
    )
    assert render_field(source, context, label="Note") == "2025-03-01 01/03/2025 10:15 March 14"


def test_it_explains_a_date_that_is_not_a_date(context):
    assert "not an ISO 8601 date" in fails("{{ 'next tuesday'|date }}", context)


def test_it_makes_slugs():
    assert slug("Summer Sale – 20% off!") == "summer-sale-20-off"
    assert slug("Crème Brûlée") == "creme-brulee"


def test_it_truncates_words():
    assert truncate_words("one two three four", 2) == "one two..."
    assert truncate_words("one two", 2) == "one two"


def test_it_takes_a_percentage():
    assert percent_of("19.90", 10) == Decimal("1.99")
    assert percent_of("33.33", "12.5") == Decimal("4.17")


def test_it_dumps_plain_json(context):
    assert to_json({"a": Decimal("1.50"), "when": NOW, "html": "<b>"}) == (
        '{"a": "1.50", "when": "2025-03-14T09:30:00+00:00", "html": "<b>"}'
    )
    assert render_field("{{ trigger.items|json }}", context, label="Note") == (
        '[{"sku": "MUG-1", "quantity": 2}]'
    )


def test_it_fails_json_of_a_missing_value(context):
    assert "trigger.gift" in fails("{{ {'x': trigger.gift}|json }}", context)


# -- references -----------------------------------------------------------------------------


def test_it_lists_the_data_paths_a_template_reads():
    source = (
        "{{ trigger.customer.email }}{% for li in trigger.items %}{{ li.sku }}{% endfor %}"
        "{{ steps.find_customer.id|upper }}{{ trigger['shipping'].city }}"
        "{{ trigger.tags.split(',') }}{{ range(3)|list }}{% set x = 1 %}{{ x }}"
    )
    assert references(source) == {
        "trigger.customer.email",
        "trigger.items",
        "steps.find_customer.id",
        "trigger.shipping.city",
        "trigger.tags",
    }


def test_it_lists_no_references_for_a_broken_template():
    assert references("{{ trigger.id ") == set()
