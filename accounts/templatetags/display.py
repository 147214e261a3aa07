"""How every page shows data: times in the merchant's time zone, data as JSON.

One format for every date and time (`when`), so a run's times, a version's date and a
connection's last error read alike; and `as_json` for any data a page shows, so a merchant
sees the JSON Cartly and the API speak, never Python's repr of it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import format_html

register = template.Library()

# ISO-like and unambiguous in every locale; the zone's abbreviation says which clock it is.
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def local_text(value: datetime) -> str:
    """`value` in the active time zone (the merchant's), e.g. "2026-03-05 14:03:22 CET"."""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    zone = local.tzname() or ""
    return f"{local.strftime(TIME_FORMAT)} {zone}".strip()


@register.filter
def when(value: Any) -> str:
    """A `<time>` element with the local text and the exact instant for machines."""
    if not isinstance(value, datetime):
        return ""
    return format_html('<time datetime="{}">{}</time>', value.isoformat(), local_text(value))


def to_json(value: Any) -> str:
    """Indented JSON; values JSON has no word for (a Decimal, a time) are written as text."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


@register.filter
def as_json(value: Any) -> str:
    return to_json(value)


@register.filter
def shown(value: Any) -> str:
    """Any value in a table cell: a time as `when`, data as compact JSON, the rest as text."""
    if isinstance(value, datetime):
        return when(value)
    if isinstance(value, dict | list | tuple | bool):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)
