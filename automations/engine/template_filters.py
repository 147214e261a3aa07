"""Commerce filters for field templates: one dict, `FILTERS`, registered by `render.py`.

Every filter raises `ValueError` with a sentence a merchant can act on; the renderer puts the
field's name in front of it. A missing value reaches a filter as Jinja's strict undefined, and
turning it into text raises the renderer's "is not in the data" error, which is what we want.
"""

import json as jsonlib
import re
import unicodedata
from collections.abc import Callable
from datetime import date as date_type
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

# Prices travel as decimal strings ("19.90"); two places is what Cartly and most currencies use.
MONEY_PLACES = Decimal("0.01")
# ISO 4217 currencies without minor units: "1500 JPY", never "1500.00 JPY".
ZERO_DECIMAL_CURRENCIES = frozenset(
    {
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "ISK",
        "JPY",
        "KMF",
        "KRW",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    }
)
CURRENCY_CODE = re.compile(r"^[A-Za-z]{3}$")
# A plain decimal, no exponent: "1e999999" would make Decimal build a million-digit number.
DECIMAL_TEXT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
DEFAULT_DATE_FORMAT = "%Y-%m-%d"
DEFAULT_TRUNCATE_END = "..."


def to_decimal(value: Any) -> Decimal:
    """Read a price or amount exactly; floats go through str() to drop binary noise."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | float):
        text = str(value)
    else:
        text = str(value).strip()
    if not DECIMAL_TEXT.match(text):
        raise ValueError(f"{text[:40]!r} is not a number")
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern above rules this out
        raise ValueError(f"{text[:40]!r} is not a number") from exc


def money(value: Any, currency: str | None = None) -> str:
    """`{{ "19.9"|money }}` -> "19.90"; `{{ x|money("USD") }}` -> "19.90 USD"."""
    code = None
    if currency is not None:
        if not CURRENCY_CODE.match(str(currency)):
            raise ValueError(f"money: {currency!r} is not a three-letter currency code")
        code = str(currency).upper()
    places = Decimal(1) if code in ZERO_DECIMAL_CURRENCIES else MONEY_PLACES
    amount = to_decimal(value).quantize(places, rounding=ROUND_HALF_UP)
    return f"{amount} {code}" if code else str(amount)


def _as_datetime(value: Any) -> datetime | date_type:
    if isinstance(value, datetime | date_type):
        return value
    text = str(value).strip()
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"date: {text[:40]!r} is not an ISO 8601 date or time") from exc


def date(value: Any, pattern: str = DEFAULT_DATE_FORMAT) -> str:
    """Format an ISO 8601 string, date or datetime with a strftime pattern."""
    return _as_datetime(value).strftime(str(pattern))


def slug(value: Any) -> str:
    """ "Summer Sale – 20% off!" -> "summer-sale-20-off": accents folded, ASCII only."""
    text = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def truncate_words(value: Any, count: int, end: str = DEFAULT_TRUNCATE_END) -> str:
    """Keep the first `count` words; add `end` only when something was cut."""
    if int(count) < 0:
        raise ValueError("truncate_words: the number of words cannot be negative")
    words = str(value).split()
    if len(words) <= int(count):
        return " ".join(words)
    return " ".join(words[: int(count)]) + str(end)


def percent_of(amount: Any, percent: Any) -> Decimal:
    """`{{ trigger.total_price|percent_of(10) }}` -> 10 % of the price, to the cent."""
    share = to_decimal(amount) * to_decimal(percent) / 100
    return share.quantize(MONEY_PLACES, rounding=ROUND_HALF_UP)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date_type):
        return value.isoformat()
    # str() of a missing value raises the renderer's "not in the data" error on purpose.
    return str(value)


def to_json(value: Any) -> str:
    """Plain JSON (Jinja's `tojson` escapes <, > and & for HTML, which an API does not want)."""
    return jsonlib.dumps(value, default=_json_default, ensure_ascii=False)


FILTERS: dict[str, Callable[..., Any]] = {
    "money": money,
    "date": date,
    "slug": slug,
    "truncate_words": truncate_words,
    "percent_of": percent_of,
    "json": to_json,
}
