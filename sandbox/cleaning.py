"""Parsing the shop's inputs: each helper raises ValidationFailed naming the field."""

from datetime import UTC
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from sandbox.errors import ValidationFailed

MAX_EMAIL_LENGTH = 254  # the column's size (RFC 5321's path limit)
MAX_MONEY = Decimal("9999999999.99")  # the MONEY columns hold 12 digits, 2 after the point
MAX_INT = 2_147_483_647  # IntegerField's range on every database we run on


def clean_email(value, field: str = "email") -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed({field: ["is required"]})
    email = value.strip().lower()
    if len(email) > MAX_EMAIL_LENGTH:
        raise ValidationFailed({field: [f"is longer than {MAX_EMAIL_LENGTH} characters"]})
    try:
        validate_email(email)
    except DjangoValidationError:
        raise ValidationFailed({field: ["is not a valid email address"]}) from None
    return email


def clean_money(value, field: str, allow_none: bool = False) -> Decimal | None:
    if value is None and allow_none:
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationFailed({field: ['must be a decimal amount such as "19.90"']}) from None
    if not amount.is_finite() or amount < 0:
        raise ValidationFailed({field: ["must be zero or more"]})
    if amount > MAX_MONEY:
        raise ValidationFailed({field: [f"must be at most {MAX_MONEY}"]})
    return amount.quantize(Decimal("0.01"))


def clean_int(value, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed({field: ["must be a whole number"]})
    if abs(value) > MAX_INT:
        raise ValidationFailed({field: [f"must be between -{MAX_INT} and {MAX_INT}"]})
    return value


def clean_time(value, field: str):
    if value in (None, ""):
        return None
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:  # well formed but impossible, e.g. month 13
        parsed = None
    if parsed is None:
        raise ValidationFailed({field: ["must be an ISO 8601 time such as 2026-11-28T10:00:00Z"]})
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)  # django.utils.timezone.utc is gone in 5.x
    return parsed


def clean_tags(value) -> list[str]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise ValidationFailed({"tags": ["must be a list of strings"]})
    return [t.strip() for t in value if t.strip()]
