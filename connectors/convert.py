"""Turn rendered template text into the value a field's type sends to the service.

Templates render to text; an action needs `12`, `"19.90"`, `True` or `["vip", "newsletter"]`.
An empty optional field is left out of the request (so "no value" never overwrites data with
an empty string); an empty required field is an error. Every error names the field by the label
the merchant sees in the builder, and quotes what the template produced.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email

from connectors.base import Field, FieldType

TRUE_WORDS = frozenset({"yes", "y", "true", "t", "1", "on"})
FALSE_WORDS = frozenset({"no", "n", "false", "f", "0", "off"})
INTEGER_PATTERN = re.compile(r"^[+-]?\d+$")
CENT = Decimal("0.01")  # Cartly's money has two decimals (cartly-api.md, "Conventions")
QUOTE_LIMIT = 60  # a long rendered value is cut in messages; the whole is in the run's input


class ConversionError(ValueError):
    """One or more inputs cannot become their field's type; `errors` maps key → message."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        self.message = "; ".join(self.errors.values())
        super().__init__(self.message)


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


# Returned by `convert_value` for an empty optional field: leave it out of the request.
OMIT: Any = _Omit()


def _quote(text: str) -> str:
    if len(text) > QUOTE_LIMIT:
        text = text[: QUOTE_LIMIT - 1] + "…"
    return f'"{text}"'


def _fail(field: Field, expectation: str, raw: str) -> ConversionError:
    return ConversionError({field.key: f'"{field.label}" {expectation}, got {_quote(raw)}'})


def _as_text(raw: Any) -> str:
    if raw is None:
        return ""
    if isinstance(raw, bool):  # a template that returns a Python bool, not "True"
        return "true" if raw else "false"
    return raw if isinstance(raw, str) else str(raw)


def _to_integer(field: Field, text: str) -> int:
    if not INTEGER_PATTERN.match(text):
        raise _fail(field, "must be a whole number", text)
    return int(text)


def _to_decimal(field: Field, text: str) -> str:
    try:
        amount = Decimal(text)
        if not amount.is_finite():  # NaN, Infinity
            raise InvalidOperation
        cents = amount.quantize(CENT)  # InvalidOperation for absurd sizes too
    except InvalidOperation:
        raise _fail(field, 'must be an amount such as "19.90"', text) from None
    if amount != cents:  # never round money silently
        raise _fail(field, "must have at most two decimals", text)
    return f"{cents}"


def _to_boolean(field: Field, text: str) -> bool:
    word = text.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise _fail(field, "must be yes or no", text)


def _to_datetime(field: Field, text: str) -> str:
    """An ISO 8601 time as UTC with a Z; no offset (or a bare date, midnight) is taken as UTC."""
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError):  # OverflowError: year 1 moved west of UTC
        raise _fail(field, "must be an ISO 8601 time such as 2026-11-28T10:00:00Z", text) from None


def _to_choice(field: Field, text: str) -> str:
    for choice in field.choices:
        if text.lower() == choice.lower():
            return choice
    raise _fail(field, f"must be one of {', '.join(field.choices)}", text)


def _to_email(field: Field, text: str) -> str:
    try:
        validate_email(text)
    except DjangoValidationError:
        raise _fail(field, "must be an email address", text) from None
    return text


def _to_list(raw: Any) -> list[str]:
    items = raw if isinstance(raw, list | tuple) else _as_text(raw).split(",")
    return [text for text in (_as_text(item).strip() for item in items) if text]


def convert_value(field: Field, raw: Any) -> Any:
    """`raw` (usually rendered text) as `field`'s type, or `OMIT` when empty and optional.

    Raises ConversionError naming the field's label.
    """
    if field.type == FieldType.LIST:
        value: Any = _to_list(raw) or (_to_list(field.default) if field.default else [])
        empty = not value
    else:
        text = _as_text(raw)
        # Notes keep their inner layout; template whitespace around them is noise.
        text = text.strip() or field.default.strip()
        empty = text == ""
    if empty:
        if field.required:
            raise ConversionError({field.key: f'"{field.label}" is required'})
        return OMIT
    if field.type == FieldType.LIST:
        return value
    if field.type == FieldType.INTEGER:
        return _to_integer(field, text)
    if field.type == FieldType.DECIMAL:
        return _to_decimal(field, text)
    if field.type == FieldType.BOOLEAN:
        return _to_boolean(field, text)
    if field.type == FieldType.DATETIME:
        return _to_datetime(field, text)
    if field.type == FieldType.CHOICE:
        return _to_choice(field, text)
    if field.type == FieldType.EMAIL:
        return _to_email(field, text)
    return text  # string, text


def convert_inputs(fields: Iterable[Field], rendered: Mapping[str, Any]) -> dict[str, Any]:
    """Every field's value for `perform`, empty optionals left out.

    Keys of `rendered` that are no field are ignored. All bad fields are reported at once, so
    the merchant fixes a step in one pass.
    """
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in fields:
        try:
            value = convert_value(field, rendered.get(field.key))
        except ConversionError as exc:
            errors.update(exc.errors)
            continue
        if value is not OMIT:
            values[field.key] = value
    if errors:
        raise ConversionError(errors)
    return values


# What makes a value a template rather than text typed as it is (Jinja's three openers).
TEMPLATE_OPENERS = ("{{", "{%", "{#")


def literal_problem(field: Field, text: Any) -> str | None:
    """Why `text`, typed as it is (no template), can never be sent as `field`'s type; else None.

    A template is only known when it renders, and an empty value is the required-field check's
    business, so both pass here. The message is the one a run would fail with.
    """
    if not isinstance(text, str) or not text.strip() or field.type == FieldType.LIST:
        return None
    if any(opener in text for opener in TEMPLATE_OPENERS):
        return None
    try:
        convert_value(field, text)
    except ConversionError as exc:
        return exc.errors.get(field.key, exc.message)
    return None
