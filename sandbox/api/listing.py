"""List parameters (cartly-api.md, "Conventions"): ascending ids, `limit` 1–250 (default 50),
`since_id` (ids strictly greater) and `updated_since` (ISO 8601, on `updated_at`).

A bad value is 400 `bad_request` naming the parameter. Empty paging parameters count as absent.
"""

from datetime import UTC, datetime

from django.db.models import QuerySet
from django.http import QueryDict
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from sandbox.errors import BadRequest

DEFAULT_LIMIT = 50
MAX_LIMIT = 250


def parse_limit(query: QueryDict) -> int:
    raw = query.get("limit", "")
    if raw == "":
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}.")
    return int(raw)


def parse_time(query: QueryDict, name: str) -> datetime | None:
    raw = query.get(name, "")
    if raw == "":
        return None
    # An unencoded "+00:00" offset arrives as " 00:00": restore the plus sign.
    raw = raw.replace(" ", "+")
    try:
        parsed = parse_datetime(raw)
    except ValueError:  # well formed but impossible, e.g. month 13
        parsed = None
    if parsed is None:
        raise BadRequest(f"{name} must be an ISO 8601 time such as 2026-11-28T10:00:00Z.")
    return timezone.make_aware(parsed, UTC) if timezone.is_naive(parsed) else parsed


def parse_int(query: QueryDict, name: str) -> int | None:
    """An optional positive whole-number filter such as `number`."""
    if name not in query:
        return None
    raw = query[name]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:
        raise BadRequest(f"{name} must be a whole number.")
    return int(raw)


def parse_choice(query: QueryDict, name: str, choices: list[str]) -> str | None:
    if name not in query:
        return None
    if query[name] not in choices:
        raise BadRequest(f"{name} must be one of {', '.join(choices)}.")
    return query[name]


def page(queryset: QuerySet, query: QueryDict, by_updated: bool = True) -> list:
    """One page of `queryset` in ascending id order, after since_id and updated_since."""
    limit = parse_limit(query)
    since_id = query.get("since_id", "")
    if since_id:
        queryset = queryset.filter(id__gt=since_id)  # prefixed ULIDs sort by creation time
    if by_updated:
        updated_since = parse_time(query, "updated_since")
        if updated_since is not None:
            queryset = queryset.filter(updated_at__gte=updated_since)
    return list(queryset.order_by("id")[:limit])
