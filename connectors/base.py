"""What a connector declares: plain, frozen data the engine reads and the builder shows.

A connector is a set of `Trigger`, `Action` and `Search` declarations (zapier-platform's
triggers/creates/searches), each with its input `Field`s, the `OutputField`s the builder offers
to later steps, an obviously fake `sample` and, for actions and searches, the one function that
does the work through the connector's client. The database stores only an operation's `key`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

# "<app>.<name>", lower-case: stable, because recipes store it.
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
# Input field keys become keys of the JSON sent to the service and of the rendered-input row.
FIELD_KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
# Output keys are paths into the object, e.g. "customer.email" or "line_items.0.title".
OUTPUT_KEY_PATTERN = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")


class FieldType(StrEnum):
    STRING = "string"  # one line of text
    TEXT = "text"  # several lines (notes)
    EMAIL = "email"
    INTEGER = "integer"
    DECIMAL = "decimal"  # money: sent as a string with two decimals, as Cartly shows it
    BOOLEAN = "boolean"
    DATETIME = "datetime"  # ISO 8601, sent in UTC
    CHOICE = "choice"  # one of `choices`
    LIST = "list"  # tags: comma-separated in the builder, a list of strings on the wire


@dataclass(frozen=True, kw_only=True)
class Field:
    """One input of an action or search; its rendered text is converted by `convert.py`."""

    key: str
    label: str
    type: FieldType = FieldType.STRING
    required: bool = False
    choices: tuple[str, ...] = ()
    help: str = ""
    # Used when the rendered value is empty; the raw text, converted like any input.
    default: str = ""

    def __post_init__(self) -> None:
        if not FIELD_KEY_PATTERN.match(self.key):
            raise ValueError(f"Field key {self.key!r} must be lower_snake_case")
        if not self.label:
            raise ValueError(f"Field {self.key!r} needs a label")
        object.__setattr__(self, "type", FieldType(self.type))
        if (self.type == FieldType.CHOICE) != bool(self.choices):
            raise ValueError(f"Field {self.key!r}: choices go with type 'choice' and only there")
        if self.default and self.choices and self.default not in self.choices:
            raise ValueError(f"Field {self.key!r}: default {self.default!r} is not a choice")


@dataclass(frozen=True)
class OutputField:
    """A value of an operation's output the builder offers to later steps, by path."""

    key: str
    label: str

    def __post_init__(self) -> None:
        if not OUTPUT_KEY_PATTERN.match(self.key):
            raise ValueError(f"Output key {self.key!r} must be a dotted path of snake_case parts")


class PollCursor(StrEnum):
    SINCE_ID = "since_id"  # new objects: ids sort by creation time (cartly-api.md)
    UPDATED_SINCE = "updated_since"  # changed objects: by updated_at


@dataclass(frozen=True)
class PollFilter:
    """How polling finds a trigger's objects when its REST Hook is missing or unhealthy.

    `status` narrows an updated_since listing to one order status (fulfilled, canceled).
    """

    cursor: PollCursor
    status: str | None = None

    def query(self, cursor_value: str | None) -> dict[str, str]:
        """Keyword arguments for the client's `list_<resource>` call from a stored cursor."""
        params: dict[str, str] = {}
        if cursor_value:
            params[self.cursor.value] = cursor_value
        if self.status:
            params["status"] = self.status
        return params


@dataclass(frozen=True)
class PollLevels:
    """Polling for levels that have no listing of their own, e.g. Cartly's inventory levels.

    The trigger's listing holds them inside its objects (a product's variants): `expand` turns
    one listed object into the trigger's objects, shaped like a hook's data but without
    `previous`. Polling compares each one's `value` with the last value it saw of that object
    and makes an event of each change, with that last value as `previous`.
    """

    expand: Callable[[Mapping[str, Any]], list[dict[str, Any]]]
    value: str  # the compared field, e.g. "available"
    previous: str  # the field that gets the last seen value, e.g. "previous_available"


def _check_common(op: Trigger | Action | Search, fields: tuple[Field, ...]) -> None:
    if not KEY_PATTERN.match(op.key):
        raise ValueError(f"Operation key {op.key!r} must look like 'cartly.order_created'")
    for name in ("noun", "label", "description"):
        if not getattr(op, name):
            raise ValueError(f"Operation {op.key!r} needs a {name}")
    for label, keys in (
        ("input field", [f.key for f in fields]),
        ("output field", [f.key for f in op.output_fields]),
    ):
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"Operation {op.key!r} repeats {label} keys: {duplicates}")
    if not isinstance(op.sample, Mapping) or not op.sample:
        raise ValueError(f"Operation {op.key!r} needs a sample object")


@dataclass(frozen=True, kw_only=True)
class Trigger:
    """An event that starts a recipe: a REST Hook `event`, with polling as the fallback."""

    key: str
    noun: str
    label: str
    description: str
    event: str  # the REST Hook event name, e.g. "order.created"
    resource: str | None  # the list endpoint polling reads ("orders"); None: hooks only
    poll_filter: PollFilter | None
    # True where one object fires the event many times (every status change or edit), so
    # (event, id) alone would drop the second; see `dedupe_key`.
    dedupe_on_updated_at: bool = False
    # The field of the trigger's object that names it: "id", or e.g. an inventory level's
    # "variant_id" (it has no id of its own).
    id_field: str = "id"
    # Set where the objects are levels read from inside the listing's objects (PollLevels).
    poll_levels: PollLevels | None = None
    scopes: tuple[str, ...] = ()
    output_fields: tuple[OutputField, ...] = ()
    sample: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        _check_common(self, ())
        if (self.resource is None) != (self.poll_filter is None):
            raise ValueError(f"Trigger {self.key!r}: resource and poll_filter go together")
        if self.poll_levels is not None and self.resource is None:
            raise ValueError(f"Trigger {self.key!r}: poll_levels needs a listing (resource)")

    @property
    def kind(self) -> str:
        return "trigger"

    @property
    def polls(self) -> bool:
        return self.resource is not None

    def object_id(self, obj: Mapping[str, Any]) -> Any:
        """The id of the object this trigger's event is about (KeyError when it lacks one)."""
        return obj[self.id_field]

    def dedupe_key(self, obj: Mapping[str, Any]) -> tuple[str, ...]:
        """The same key whether the object came by hook or by polling."""
        if self.dedupe_on_updated_at:
            return (self.event, str(self.object_id(obj)), str(obj["updated_at"]))
        return (self.event, str(self.object_id(obj)))


# perform(client, inputs, idempotency_key) -> the object the action made or changed.
ActionPerform = Callable[[Any, dict[str, Any], str], dict[str, Any]]
# perform(client, inputs) -> every match; an empty list when nothing is found.
SearchPerform = Callable[[Any, dict[str, Any]], list[dict[str, Any]]]


@dataclass(frozen=True, kw_only=True)
class Action:
    """A step that changes something; every write carries the step's idempotency key."""

    key: str
    noun: str
    label: str
    description: str
    input_fields: tuple[Field, ...]
    perform: ActionPerform
    # What a retry does once the service may have forgotten the idempotency key (Cartly keeps
    # keys 24 hours): look for the effect first, or repeat a call that sets rather than adds.
    # None: repeating could apply the change twice, so such a retry fails with a reason.
    after_key_expiry: ActionPerform | None = None
    # Which client `perform` gets: "cartly" (the shop's API client) or "http" (HttpClient).
    app: str = "cartly"
    scopes: tuple[str, ...] = ()
    output_fields: tuple[OutputField, ...] = ()
    sample: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        _check_common(self, self.input_fields)

    @property
    def kind(self) -> str:
        return "action"


@dataclass(frozen=True, kw_only=True)
class Search:
    """A step that looks something up; `sample` is one found object.

    Nothing found is an empty list, never an error: the recipe's step decides whether that
    halts the run or lets it continue, and `nothing_found` is the message it shows.
    """

    key: str
    noun: str
    label: str
    description: str
    input_fields: tuple[Field, ...]
    perform: SearchPerform
    nothing_found: str
    app: str = "cartly"  # which client `perform` is given, as for actions
    scopes: tuple[str, ...] = ()
    output_fields: tuple[OutputField, ...] = ()
    sample: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        _check_common(self, self.input_fields)

    @property
    def kind(self) -> str:
        return "search"


Operation = Trigger | Action | Search


def load_sample(directory: Path, name: str) -> dict[str, Any]:
    """Read `<directory>/<name>.json`, a fake object shaped like the service's own."""
    with open(directory / f"{name}.json", encoding="utf-8") as fh:
        return json.load(fh)
