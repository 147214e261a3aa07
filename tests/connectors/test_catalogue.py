"""The connector catalogue as declared: shapes, samples, conversions and the calls it makes.

These test the declarations, not the client: `perform` is given a recording stand-in that only
notes which client method was called with what. End-to-end runs against the sandbox live
elsewhere.
"""

from typing import Any

import pytest
from django.conf import settings

from connectors import registry
from connectors.base import (
    Action,
    Field,
    FieldType,
    OutputField,
    PollCursor,
    PollFilter,
    Search,
    Trigger,
)
from connectors.cartly.constants import CARTLY_SCOPES
from connectors.contract import (
    ContractViolation,
    check_action_result,
    check_result,
    check_sample,
    check_search_result,
    check_trigger_object,
    check_trigger_objects,
)
from connectors.convert import OMIT, ConversionError, convert_inputs, convert_value
from connectors.errors import Permanent, ValidationFailed

# --- the contract's "Objects" section, written out by hand -----------------------------------

CUSTOMER_KEYS = {
    "id", "email", "first_name", "last_name", "phone", "tags", "accepts_marketing",
    "orders_count", "total_spent", "note", "created_at", "updated_at",
}  # fmt: skip
CUSTOMER_BRIEF_KEYS = {"id", "email", "first_name", "last_name"}
LINE_ITEM_KEYS = {"variant_id", "product_id", "title", "sku", "quantity", "price"}
ORDER_KEYS = {
    "id", "number", "status", "currency", "subtotal_price", "total_price", "customer",
    "email", "line_items", "note", "created_at", "updated_at", "fulfilled_at", "canceled_at",
}  # fmt: skip
PRODUCT_KEYS = {
    "id", "title", "description", "vendor", "status", "variants", "created_at", "updated_at",
}  # fmt: skip
VARIANT_KEYS = {"id", "sku", "title", "price", "available"}
CART_KEYS = {
    "id", "email", "customer", "line_items", "subtotal_price", "currency", "updated_at",
    "abandoned_at", "recovery_url",
}  # fmt: skip
DISCOUNT_KEYS = {
    "id", "code", "kind", "value", "minimum_subtotal", "usage_limit", "starts_at", "ends_at",
    "created_at",
}  # fmt: skip
INVENTORY_LEVEL_KEYS = {"variant_id", "available", "updated_at"}  # the endpoints table
# "Changelog events": inventory_level.updated's data.
INVENTORY_CHANGE_KEYS = {
    "variant_id", "product_id", "sku", "available", "previous_available", "updated_at",
}  # fmt: skip

# Which object each operation's sample is.
SAMPLE_OBJECT = {
    "cartly.order_created": "order",
    "cartly.order_updated": "order",
    "cartly.order_fulfilled": "order",
    "cartly.order_canceled": "order",
    "cartly.product_created": "product",
    "cartly.product_updated": "product",
    "cartly.customer_created": "customer",
    "cartly.cart_abandoned": "cart",
    "cartly.inventory_changed": "inventory_change",
    "cartly.create_customer": "customer",
    "cartly.update_customer": "customer",
    "cartly.update_order": "order",
    "cartly.adjust_inventory": "inventory_level",
    "cartly.create_discount": "discount",
    "cartly.find_or_create_customer": "customer+created",
    "cartly.find_customer": "customer",
    "cartly.find_order": "order",
}
CONTRACT_EVENTS = {
    "order.created", "order.updated", "order.fulfilled", "order.canceled",
    "product.created", "product.updated", "customer.created", "cart.abandoned",
    "inventory_level.updated",
}  # fmt: skip
REQUIRED_INPUTS = {
    "cartly.create_customer": {"email"},
    "cartly.update_customer": {"customer_id"},
    "cartly.update_order": {"order_id"},
    "cartly.adjust_inventory": {"variant_id", "mode", "quantity"},
    "cartly.create_discount": {"code", "kind"},
    "cartly.find_or_create_customer": {"email"},
    "cartly.find_customer": {"email"},
    "cartly.find_order": {"number"},
}

# Cartly's operations (connectors/http is tested in test_http_*.py).
ALL = [op for op in registry.operations() if op.key.startswith("cartly.")]
ids = [op.key for op in ALL]


def assert_shape(kind: str, sample: dict) -> None:
    """The sample has exactly the real object's keys, nested objects included."""
    if kind == "customer+created":
        assert set(sample) == CUSTOMER_KEYS | {"created"}
        assert isinstance(sample["created"], bool)
    elif kind == "customer":
        assert set(sample) == CUSTOMER_KEYS
    elif kind in ("order", "cart"):
        assert set(sample) == (ORDER_KEYS if kind == "order" else CART_KEYS)
        assert sample["customer"] is None or set(sample["customer"]) == CUSTOMER_BRIEF_KEYS
        assert sample["line_items"], "a sample shows at least one line item"
        for line in sample["line_items"]:
            assert set(line) == LINE_ITEM_KEYS
    elif kind == "product":
        assert set(sample) == PRODUCT_KEYS
        assert sample["variants"]
        for variant in sample["variants"]:
            assert set(variant) == VARIANT_KEYS
    elif kind == "discount":
        assert set(sample) == DISCOUNT_KEYS
    elif kind == "inventory_change":
        assert set(sample) == INVENTORY_CHANGE_KEYS
    else:
        assert set(sample) == INVENTORY_LEVEL_KEYS


def resolve(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    return obj


# --- the catalogue ---------------------------------------------------------------------------


def test_it_declares_nine_triggers_six_actions_and_two_searches():
    assert len([op for op in ALL if isinstance(op, Trigger)]) == 9
    assert len([op for op in ALL if isinstance(op, Action)]) == 6
    assert len([op for op in ALL if isinstance(op, Search)]) == 2
    assert {t.event for t in registry.triggers()} == CONTRACT_EVENTS
    assert set(SAMPLE_OBJECT) == {op.key for op in ALL}


@pytest.mark.parametrize("operation", ALL, ids=ids)
def test_it_runs_every_sample_through_the_contract(operation):
    check_sample(operation)


@pytest.mark.parametrize("operation", ALL, ids=ids)
def test_it_shapes_every_sample_like_the_real_object(operation):
    assert_shape(SAMPLE_OBJECT[operation.key], dict(operation.sample))


@pytest.mark.parametrize("operation", ALL, ids=ids)
def test_it_uses_obviously_fake_sample_values(operation):
    sample = dict(operation.sample)
    object_id = sample.get("id") or sample["variant_id"]
    assert "_SAMPLE" in object_id
    if "email" in sample:
        assert sample["email"].endswith("@example.com")


@pytest.mark.parametrize("operation", ALL, ids=ids)
def test_it_offers_output_fields_that_exist_in_the_sample(operation):
    keys = [f.key for f in operation.output_fields]
    assert keys, "the builder's picker needs something to offer"
    assert len(keys) == len(set(keys))
    for key in keys:
        resolve(operation.sample, key)  # KeyError/IndexError: a field the object lacks


@pytest.mark.parametrize("operation", ALL, ids=ids)
def test_it_asks_only_for_scopes_the_contract_has(operation):
    assert operation.scopes
    assert set(operation.scopes) <= set(CARTLY_SCOPES)


@pytest.mark.parametrize(
    "operation", [op for op in ALL if not isinstance(op, Trigger)], ids=lambda op: op.key
)
def test_it_declares_unique_inputs_and_the_required_ones(operation):
    keys = [f.key for f in operation.input_fields]
    assert len(keys) == len(set(keys))
    required = {f.key for f in operation.input_fields if f.required}
    assert required == REQUIRED_INPUTS[operation.key]
    for f in operation.input_fields:
        assert f.label and f.type in FieldType
        assert (f.type == FieldType.CHOICE) == bool(f.choices)


@pytest.mark.parametrize("trigger", registry.triggers(), ids=lambda t: t.key)
def test_it_declares_how_each_trigger_polls(trigger):
    if trigger.event == "cart.abandoned":
        assert trigger.resource is None and trigger.poll_filter is None  # no cart list endpoint
        return
    if trigger.event == "inventory_level.updated":
        # No list of levels: products are read and each variant compared with the last seen.
        assert trigger.resource == "products" and trigger.poll_levels is not None
        assert trigger.poll_filter.cursor == PollCursor.UPDATED_SINCE
        assert trigger.dedupe_on_updated_at and trigger.id_field == "variant_id"
        return
    assert trigger.poll_levels is None and trigger.id_field == "id"
    noun = trigger.event.split(".")[0]
    assert trigger.resource == f"{noun}s"
    if trigger.event.endswith(".created"):
        assert trigger.poll_filter == PollFilter(PollCursor.SINCE_ID)
    else:
        assert trigger.poll_filter.cursor == PollCursor.UPDATED_SINCE
    assert trigger.dedupe_on_updated_at == (trigger.event in {"order.updated", "product.updated"})


def test_it_polls_fulfilled_and_canceled_orders_by_status():
    fulfilled = registry.get_trigger("cartly.order_fulfilled").poll_filter
    assert fulfilled.query("2026-11-28T10:00:00Z") == {
        "updated_since": "2026-11-28T10:00:00Z",
        "status": "fulfilled",
    }
    canceled = registry.get_trigger("cartly.order_canceled").poll_filter
    assert canceled.query(None) == {"status": "canceled"}
    assert registry.get_trigger("cartly.order_created").poll_filter.query("ord_X") == {
        "since_id": "ord_X"
    }


def test_it_dedupes_updates_on_updated_at_and_creations_on_id():
    order = {"id": "ord_1", "updated_at": "2026-11-28T10:00:00Z"}
    updated = registry.get_trigger("cartly.order_updated")
    created = registry.get_trigger("cartly.order_created")
    assert updated.dedupe_key(order) == ("order.updated", "ord_1", "2026-11-28T10:00:00Z")
    assert created.dedupe_key(order) == ("order.created", "ord_1")
    later = {**order, "updated_at": "2026-11-28T11:00:00Z"}
    assert updated.dedupe_key(later) != updated.dedupe_key(order)


def test_it_dedupes_inventory_changes_on_variant_and_updated_at():
    # cartly-api.md: deduplicate on (event, variant id, updated_at); a level has no `id`.
    trigger = registry.get_trigger("cartly.inventory_changed")
    level = {"variant_id": "var_1", "available": 3, "updated_at": "2026-11-28T10:00:00Z"}
    assert trigger.object_id(level) == "var_1"
    assert trigger.dedupe_key(level) == ("inventory_level.updated", "var_1", "2026-11-28T10:00:00Z")
    with pytest.raises(KeyError, match="variant_id"):
        trigger.object_id({"id": "var_1"})


def test_it_reads_inventory_levels_out_of_a_listed_product():
    trigger = registry.get_trigger("cartly.inventory_changed")
    product = dict(registry.get_trigger("cartly.product_updated").sample)
    levels = trigger.poll_levels.expand(product)
    assert [(lv["variant_id"], lv["available"]) for lv in levels] == [
        (v["id"], v["available"]) for v in product["variants"]
    ]
    for level in levels:
        # The hook's data, less what only a comparison can know.
        assert set(level) == INVENTORY_CHANGE_KEYS - {"previous_available"}
        assert (level["product_id"], level["updated_at"]) == (product["id"], product["updated_at"])
        check_trigger_object(trigger, level)
    assert trigger.poll_levels.expand({"id": "prd_1", "variants": "?"}) == []
    assert trigger.poll_levels.expand({"id": "prd_1", "variants": [{"sku": "no id"}, 3]}) == []


def test_it_requires_a_trigger_objects_own_id_field():
    trigger = registry.get_trigger("cartly.inventory_changed")
    with pytest.raises(ContractViolation, match="non-empty `variant_id`"):
        check_trigger_object(trigger, {"id": "var_1", "updated_at": "2026-11-28T10:00:00Z"})


# --- the registry ----------------------------------------------------------------------------


def test_it_finds_operations_by_key_and_kind():
    assert registry.get("cartly.order_created").label == "New Order"
    assert registry.get_action("cartly.create_discount").label == "Create Discount"
    assert registry.get_search("cartly.find_order").label == "Find Order"
    assert [t.key for t in registry.triggers_for_event("order.fulfilled")] == [
        "cartly.order_fulfilled"
    ]


def test_it_names_unknown_keys_clearly():
    with pytest.raises(registry.UnknownOperation) as caught:
        registry.get("cartly.order_shipped")
    assert isinstance(caught.value, KeyError)
    assert str(caught.value) == "Unknown operation 'cartly.order_shipped'"
    with pytest.raises(registry.UnknownOperation, match="Unknown action 'cartly.order_created'"):
        registry.get_action("cartly.order_created")


def test_it_refuses_a_second_declaration_under_a_taken_key():
    existing = registry.get_action("cartly.create_customer")
    impostor = Action(
        key=existing.key,
        noun="Customer",
        label="Other",
        description="Other",
        input_fields=(),
        perform=lambda client, inputs, key: {},
        sample={"id": "cus_SAMPLE"},
    )
    with pytest.raises(ValueError, match="already registered"):
        registry.register(impostor)
    assert registry.register(existing) is existing  # registering the same one is harmless


def test_it_rejects_malformed_declarations():
    with pytest.raises(ValueError, match="choices"):
        Field(key="status", label="Status", type=FieldType.CHOICE)
    with pytest.raises(ValueError, match="lower_snake_case"):
        Field(key="First Name", label="First name")
    with pytest.raises(ValueError, match="repeats input field keys"):
        Search(
            key="cartly.find_twice",
            noun="Customer",
            label="Find",
            description="Find",
            input_fields=(Field(key="email", label="A"), Field(key="email", label="B")),
            perform=lambda client, inputs: [],
            nothing_found="None.",
            sample={"id": "cus_SAMPLE"},
        )
    with pytest.raises(ValueError, match="dotted path"):
        OutputField("Customer Email", "Customer email")
    with pytest.raises(ValueError, match="must look like"):
        Trigger(
            key="order_created",
            noun="Order",
            label="New Order",
            description="d",
            event="order.created",
            resource=None,
            poll_filter=None,
            sample={"id": "ord_SAMPLE"},
        )


# --- the contract checks ---------------------------------------------------------------------


def test_it_requires_trigger_objects_with_an_id():
    trigger = registry.get_trigger("cartly.order_created")
    with pytest.raises(ContractViolation) as caught:
        check_trigger_object(trigger, {"number": 1001})
    assert "New Order (cartly.order_created)" in str(caught.value)
    assert "id" in str(caught.value)
    assert isinstance(caught.value, Permanent)  # asking again brings the same answer
    with pytest.raises(ContractViolation, match="got list"):
        check_trigger_object(trigger, [{"id": "ord_1"}])
    with pytest.raises(ContractViolation, match="list of objects, got dict"):
        check_trigger_objects(trigger, {"id": "ord_1"})
    assert check_trigger_objects(trigger, [{"id": "ord_1"}]) == [{"id": "ord_1"}]


def test_it_requires_updated_at_where_updates_dedupe_on_it():
    with pytest.raises(ContractViolation, match="updated_at"):
        check_trigger_object(registry.get_trigger("cartly.order_updated"), {"id": "ord_1"})


def test_it_requires_a_search_to_return_a_list_of_objects():
    search = registry.get_search("cartly.find_customer")
    assert check_search_result(search, []) == []
    with pytest.raises(ContractViolation, match=r"Find Customer \(cartly.find_customer\)"):
        check_search_result(search, {"id": "cus_1"})
    with pytest.raises(ContractViolation, match="list of objects, got str"):
        check_search_result(search, ["cus_1"])


def test_it_requires_an_action_to_return_an_object():
    action = registry.get_action("cartly.update_order")
    assert check_action_result(action, {"id": "ord_1"}) == {"id": "ord_1"}
    with pytest.raises(ContractViolation, match="must return an object, got null"):
        check_action_result(action, None)
    with pytest.raises(ContractViolation, match="got list"):
        check_result(action, [{"id": "ord_1"}])


# --- conversions -----------------------------------------------------------------------------


def field(type_: FieldType, label: str = "Quantity", **kwargs) -> Field:
    return Field(key="value", label=label, type=type_, **kwargs)


@pytest.mark.parametrize(
    ("type_", "raw", "expected"),
    [
        (FieldType.INTEGER, "12", 12),
        (FieldType.INTEGER, " -3 ", -3),
        (FieldType.INTEGER, 7, 7),
        (FieldType.DECIMAL, "19.9", "19.90"),
        (FieldType.DECIMAL, "20", "20.00"),
        (FieldType.DECIMAL, "0.05", "0.05"),
        (FieldType.BOOLEAN, "yes", True),
        (FieldType.BOOLEAN, "TRUE", True),
        (FieldType.BOOLEAN, "1", True),
        (FieldType.BOOLEAN, "no", False),
        (FieldType.BOOLEAN, "false", False),
        (FieldType.BOOLEAN, True, True),
        (FieldType.LIST, "vip, newsletter,,  ", ["vip", "newsletter"]),
        (FieldType.LIST, ["vip", " b2b "], ["vip", "b2b"]),
        (FieldType.DATETIME, "2026-11-28T10:00:00Z", "2026-11-28T10:00:00Z"),
        (FieldType.DATETIME, "2026-11-28T11:00:00+01:00", "2026-11-28T10:00:00Z"),
        (FieldType.DATETIME, "2026-11-28", "2026-11-28T00:00:00Z"),
        (FieldType.EMAIL, " jane.sample@example.com ", "jane.sample@example.com"),
        (FieldType.STRING, "  Jane  ", "Jane"),
        (FieldType.TEXT, "line one\nline two\n", "line one\nline two"),
    ],
)
def test_it_converts_rendered_text_to_the_fields_type(type_, raw, expected):
    assert convert_value(field(type_), raw) == expected


def test_it_checks_choices_and_returns_the_declared_spelling():
    status = field(FieldType.CHOICE, "Status", choices=("paid", "fulfilled", "canceled"))
    assert convert_value(status, "Fulfilled") == "fulfilled"
    with pytest.raises(ConversionError) as caught:
        convert_value(status, "shipped")
    assert str(caught.value) == '"Status" must be one of paid, fulfilled, canceled, got "shipped"'


@pytest.mark.parametrize(
    ("type_", "label", "raw", "message"),
    [
        (FieldType.INTEGER, "Quantity", "abc", '"Quantity" must be a whole number, got "abc"'),
        (FieldType.INTEGER, "Quantity", "1.5", '"Quantity" must be a whole number, got "1.5"'),
        (FieldType.DECIMAL, "Value", "ten", '"Value" must be an amount such as "19.90", got "ten"'),
        (FieldType.DECIMAL, "Value", "NaN", '"Value" must be an amount such as "19.90", got "NaN"'),
        (
            FieldType.DECIMAL,
            "Value",
            "19.999",
            '"Value" must have at most two decimals, got "19.999"',
        ),
        (
            FieldType.BOOLEAN,
            "Accepts marketing",
            "maybe",
            '"Accepts marketing" must be yes or no, got "maybe"',
        ),
        (
            FieldType.DATETIME,
            "Starts at",
            "next friday",
            '"Starts at" must be an ISO 8601 time such as 2026-11-28T10:00:00Z, got "next friday"',
        ),
        (FieldType.EMAIL, "Email", "jane@", '"Email" must be an email address, got "jane@"'),
    ],
)
def test_it_names_the_field_label_in_conversion_errors(type_, label, raw, message):
    with pytest.raises(ConversionError) as caught:
        convert_value(field(type_, label), raw)
    assert str(caught.value) == message
    assert caught.value.errors == {"value": message}


def test_it_cuts_long_values_in_messages():
    with pytest.raises(ConversionError) as caught:
        convert_value(field(FieldType.INTEGER), "x" * 500)
    assert len(str(caught.value)) < 120


def test_it_omits_empty_optional_fields_and_requires_required_ones():
    assert convert_value(field(FieldType.INTEGER), "  ") is OMIT
    assert convert_value(field(FieldType.LIST), " , ") is OMIT
    assert convert_value(field(FieldType.BOOLEAN), None) is OMIT
    with pytest.raises(ConversionError, match='^"Quantity" is required$'):
        convert_value(field(FieldType.INTEGER, required=True), "")


def test_it_converts_an_actions_inputs_in_one_pass():
    action = registry.get_action("cartly.adjust_inventory")
    rendered = {"variant_id": "var_1", "mode": "", "quantity": "-2", "stray": "ignored"}
    assert convert_inputs(action.input_fields, rendered) == {
        "variant_id": "var_1",
        "mode": "adjust",  # the declared default
        "quantity": -2,
    }
    with pytest.raises(ConversionError) as caught:
        convert_inputs(action.input_fields, {"mode": "remove", "quantity": "lots"})
    assert caught.value.errors == {
        "variant_id": '"Variant ID" is required',
        "mode": '"Mode" must be one of adjust, set, got "remove"',
        "quantity": '"Quantity" must be a whole number, got "lots"',
    }


def test_it_leaves_empty_optional_inputs_out_of_the_request():
    action = registry.get_action("cartly.create_discount")
    rendered = {"code": "WELCOME10", "value": "10", "minimum_subtotal": "", "ends_at": " "}
    assert convert_inputs(action.input_fields, rendered) == {
        "code": "WELCOME10",
        "kind": "percentage",
        "value": "10.00",
    }


# --- what perform asks of the client --------------------------------------------------------


class RecordingClient:
    """Notes each call; answers from `answers` (an exception in a list is raised in turn)."""

    def __init__(self, **answers: Any):
        self.calls: list[tuple[str, tuple, dict]] = []
        self.answers = {name: list(a) if isinstance(a, list) else a for name, a in answers.items()}

    def __getattr__(self, name: str):
        def call(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            answer = self.answers.get(name, {"id": "x_1"})
            if isinstance(answer, list) and answer and isinstance(answer[0], list | Exception):
                answer = answer.pop(0)  # a queue of answers
            if isinstance(answer, Exception):
                raise answer
            return answer

        return call


@pytest.mark.parametrize(
    ("key", "inputs", "expected_call"),
    [
        (
            "cartly.create_customer",
            {"email": "jane.sample@example.com", "tags": ["vip"]},
            ("create_customer", ({"email": "jane.sample@example.com", "tags": ["vip"]},), {}),
        ),
        (
            "cartly.update_customer",
            {"customer_id": "cus_1", "note": "hi"},
            ("update_customer", ("cus_1", {"note": "hi"}), {}),
        ),
        (
            "cartly.update_order",
            {"order_id": "ord_1", "status": "paid"},
            ("update_order", ("ord_1", {"status": "paid"}), {}),
        ),
        (
            "cartly.adjust_inventory",
            {"variant_id": "var_1", "mode": "adjust", "quantity": -2},
            ("set_inventory", ("var_1",), {"adjustment": -2}),
        ),
        (
            "cartly.adjust_inventory",
            {"variant_id": "var_1", "mode": "set", "quantity": 40},
            ("set_inventory", ("var_1",), {"available": 40}),
        ),
        (
            "cartly.create_discount",
            {"code": "WELCOME10", "kind": "percentage", "value": "10.00"},
            (
                "create_discount",
                ({"code": "WELCOME10", "kind": "percentage", "value": "10.00"},),
                {},
            ),
        ),
    ],
)
def test_it_calls_the_client_with_the_idempotency_key(key, inputs, expected_call):
    client = RecordingClient()
    result = registry.get_action(key).perform(client, inputs, "run1-step2")
    name, args, kwargs = expected_call
    assert client.calls == [(name, args, {**kwargs, "idempotency_key": "run1-step2"})]
    assert result == {"id": "x_1"}


@pytest.mark.parametrize(
    ("key", "inputs", "expected_call"),
    [
        (
            "cartly.find_customer",
            {"email": "jane@example.com"},
            ("list_customers", (), {"email": "jane@example.com"}),
        ),
        ("cartly.find_order", {"number": 1001}, ("list_orders", (), {"number": 1001})),
    ],
)
def test_it_searches_with_one_exact_filter_and_returns_the_list(key, inputs, expected_call):
    found = [{"id": "x_1"}]
    client = RecordingClient(list_customers=[found], list_orders=[found])
    assert registry.get_search(key).perform(client, inputs) == found
    assert client.calls == [expected_call]


def test_it_returns_an_existing_customer_without_creating_one():
    existing = {"id": "cus_1", "email": "jane@example.com"}
    client = RecordingClient(list_customers=[[existing]])
    action = registry.get_action("cartly.find_or_create_customer")
    result = action.perform(client, {"email": "jane@example.com", "first_name": "Jane"}, "k1")
    assert result == {**existing, "created": False}
    assert [c[0] for c in client.calls] == ["list_customers"]
    assert client.calls[0][2] == {"email": "jane@example.com", "limit": 1}


def test_it_creates_a_customer_when_none_is_found():
    made = {"id": "cus_2", "email": "new@example.com"}
    client = RecordingClient(list_customers=[[]], create_customer=made)
    action = registry.get_action("cartly.find_or_create_customer")
    result = action.perform(client, {"email": "new@example.com", "first_name": "Ann"}, "k1")
    assert result == {**made, "created": True}
    assert client.calls[1] == (
        "create_customer",
        ({"email": "new@example.com", "first_name": "Ann"},),
        {"idempotency_key": "k1"},
    )


def test_it_uses_the_customer_someone_else_created_meanwhile():
    theirs = {"id": "cus_3", "email": "race@example.com"}
    taken = ValidationFailed("Email already taken", fields={"email": ["already taken"]})
    client = RecordingClient(list_customers=[[], [theirs]], create_customer=[taken])
    action = registry.get_action("cartly.find_or_create_customer")
    assert action.perform(client, {"email": "race@example.com"}, "k1") == {
        **theirs,
        "created": False,
    }
    assert [c[0] for c in client.calls] == ["list_customers", "create_customer", "list_customers"]


def test_it_passes_on_other_validation_failures_of_find_or_create():
    bad = ValidationFailed("Phone too long", fields={"phone": ["is longer than 40 characters"]})
    client = RecordingClient(list_customers=[[]], create_customer=[bad])
    action = registry.get_action("cartly.find_or_create_customer")
    with pytest.raises(ValidationFailed, match="Phone too long"):
        action.perform(client, {"email": "x@example.com", "phone": "1" * 50}, "k1")


# --- the docs --------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ALL, ids=ids)
def test_it_documents_every_operation(operation):
    catalogue = (settings.BASE_DIR / "docs" / "catalogue.md").read_text(encoding="utf-8")
    assert f"`{operation.key}`" in catalogue
    if not isinstance(operation, Trigger):
        # The operation's own section lists each of its fields.
        (section,) = [s for s in catalogue.split("### ") if f"— `{operation.key}`" in s]
        for f in operation.input_fields:
            assert f"| `{f.key}` | {f.label} | {f.type.value} |" in section
