"""Filter conditions: decide whether a run goes on or stops as "filtered" (DESIGN.md point 4).

A condition is `{"field": "trigger.total_price", "operator": "greater_than", "value": "50"}`:
`field` is a dotted path into the render context (digits index lists: `trigger.line_items.0`),
`value` a literal. Operators are named, as in st2's `rules/filter.py`, so a recipe stores keys
and the builder shows labels. Text comparisons, patterns included, ignore case: merchants type
"vip" for "VIP".

Patterns run on RE2 (`google-re2`), whose matching time grows linearly with the text: no
pattern a merchant types can backtrack for minutes, whatever the input. RE2 refuses what it
cannot run in linear time (backreferences, lookaround), and we refuse those at save.
"""

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import re2

# Numbers compare as numbers when both sides read as plain decimals ("19.90" == 19.9).
# No exponent: "1e999999" must not become a million-digit Decimal.
_DECIMAL_TEXT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
# A filter's pattern is a short thing a person types; longer ones are pasted by mistake.
MAX_PATTERN_CHARS = 200
# Compiled patterns kept per process: every filter of a few thousand active recipes.
PATTERN_CACHE_SIZE = 4096
# A long value in a stop reason is cut; the run's stored input holds the whole of it.
MAX_SHOWN_CHARS = 60
_TRUE_WORDS = frozenset({"true", "yes", "1", "on"})
_FALSE_WORDS = frozenset({"false", "no", "0", "off"})
MATCH_MODES = ("all", "any")


class ConditionError(ValueError):
    """The condition itself is broken (a recipe error: the run fails, it is not filtered)."""


@dataclass(frozen=True)
class Operator:
    label: str  # shown in the builder: "total price" + "is greater than" + "50"
    takes_value: bool
    failed: str  # how a stop reason reads: "(12.00) is not greater than 50"


@dataclass(frozen=True)
class ConditionResult:
    passed: bool
    reason: str


class _Missing:
    def __str__(self) -> str:
        return "missing"


MISSING = _Missing()


def resolve(context: dict, path: str) -> Any:
    """Follow a dotted path through dicts and lists; MISSING where it leads nowhere."""
    value: Any = context
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list | tuple) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
    return value


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    text = str(value).strip() if isinstance(value, str) else ""
    return Decimal(text) if _DECIMAL_TEXT.match(text) else None


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(value.strip()) if isinstance(value, str) else None
    except ValueError:
        return None


def _ordered(left: Any, right: Any) -> tuple[Any, Any] | None:
    """Both sides as numbers, else both as ISO 8601 times; None when they do not compare."""
    numbers = _number(left), _number(right)
    if None not in numbers:
        return numbers
    moments = _moment(left), _moment(right)
    if None in moments or (moments[0].tzinfo is None) != (moments[1].tzinfo is None):
        return None
    return moments


def _text(value: Any) -> str:
    return str(value).casefold()


def _equal(left: Any, right: Any) -> bool:
    if left is MISSING:
        return False
    pair = _ordered(left, right)
    return pair[0] == pair[1] if pair else _text(left) == _text(right)


def _contains(left: Any, right: Any) -> bool:
    if isinstance(left, list | tuple):
        return any(_equal(item, right) for item in left)
    if isinstance(left, dict):
        return any(_equal(key, right) for key in left)
    return left is not MISSING and left is not None and _text(right) in _text(left)


def _compare(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def check(left: Any, right: Any) -> bool:
        pair = _ordered(left, right) if left is not MISSING else None
        return pair is not None and test(*pair)

    return check


def _list_items(value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    return [item.strip() for item in str(value).split(",")]


def _has_value(value: Any) -> bool:
    return value is not MISSING and value is not None and value != ""


def _truth(words: frozenset[str], flag: bool) -> Callable[[Any, Any], bool]:
    return lambda left, _: left is flag or (not isinstance(left, bool) and _text(left) in words)


def _matches(left: Any, pattern: Any) -> bool:
    if left is MISSING or left is None:
        return False
    return _checked_pattern(str(pattern)).search(str(left)) is not None


def _re2_options() -> re2.Options:
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # a refused pattern is the merchant's problem, not a log line
    return options


_RE2_OPTIONS = _re2_options()


@functools.lru_cache(maxsize=PATTERN_CACHE_SIZE)
def _checked_pattern(text: str) -> Any:
    """The compiled RE2 pattern; ConditionError saying why RE2 refuses it."""
    if len(text) > MAX_PATTERN_CHARS:
        raise ConditionError(f"the pattern is longer than {MAX_PATTERN_CHARS} characters")
    try:
        return re2.compile(text, _RE2_OPTIONS)
    except re2.error as exc:
        detail = exc.args[0].decode(errors="replace") if exc.args else "invalid"
        raise ConditionError(
            f"the pattern {text!r} cannot be used ({detail}); patterns cannot refer back to a "
            "group or look ahead or behind"
        ) from None


OPERATORS: dict[str, Operator] = {
    "equals": Operator("is equal to", True, "is not equal to"),
    "not_equals": Operator("is not equal to", True, "is equal to"),
    "contains": Operator("contains", True, "does not contain"),
    "not_contains": Operator("does not contain", True, "contains"),
    "starts_with": Operator("starts with", True, "does not start with"),
    "ends_with": Operator("ends with", True, "does not end with"),
    "greater_than": Operator("is greater than", True, "is not greater than"),
    "less_than": Operator("is less than", True, "is not less than"),
    "greater_or_equal": Operator(
        "is greater than or equal to", True, "is not greater than or equal to"
    ),
    "less_or_equal": Operator("is less than or equal to", True, "is not less than or equal to"),
    "exists": Operator("has a value", False, "has no value"),
    "not_exists": Operator("has no value", False, "has a value"),
    "is_true": Operator("is true", False, "is not true"),
    "is_false": Operator("is false", False, "is not false"),
    "in_list": Operator("is one of", True, "is not one of"),
    "not_in_list": Operator("is not one of", True, "is one of"),
    "matches_regex": Operator("matches the pattern", True, "does not match the pattern"),
}

_CHECKS: dict[str, Callable[[Any, Any], bool]] = {
    "equals": _equal,
    "not_equals": lambda left, right: not _equal(left, right),
    "contains": _contains,
    "not_contains": lambda left, right: not _contains(left, right),
    "starts_with": lambda left, right: _has_value(left) and _text(left).startswith(_text(right)),
    "ends_with": lambda left, right: _has_value(left) and _text(left).endswith(_text(right)),
    "greater_than": _compare(lambda a, b: a > b),
    "less_than": _compare(lambda a, b: a < b),
    "greater_or_equal": _compare(lambda a, b: a >= b),
    "less_or_equal": _compare(lambda a, b: a <= b),
    "exists": lambda left, _: _has_value(left),
    "not_exists": lambda left, _: not _has_value(left),
    "is_true": _truth(_TRUE_WORDS, True),
    "is_false": _truth(_FALSE_WORDS, False),
    "in_list": lambda left, right: any(_equal(left, item) for item in _list_items(right)),
    "not_in_list": lambda left, right: not any(_equal(left, item) for item in _list_items(right)),
    "matches_regex": _matches,
}


def validate_condition(condition: dict) -> list[str]:
    """Problems with one condition, in words for the builder; empty when it is usable."""
    problems = []
    if not str(condition.get("field") or "").strip():
        problems.append("choose a field to check")
    key = condition.get("operator")
    operator = OPERATORS.get(key) if isinstance(key, str) else None
    if operator is None:
        problems.append(f"unknown operator {condition.get('operator')!r}")
    elif operator.takes_value and condition.get("value") in (None, ""):
        problems.append(f'"{operator.label}" needs a value to compare with')
    elif key == "matches_regex":
        try:
            _checked_pattern(str(condition["value"]))
        except ConditionError as exc:
            field = str(condition.get("field") or "").strip() or "this condition"
            problems.append(f'the filter on "{field}": {exc}')
    return problems


def _shown(value: Any) -> str:
    if isinstance(value, list | tuple):
        value = ", ".join(str(item) for item in value)
    text = str(value)
    return text if len(text) <= MAX_SHOWN_CHARS else text[: MAX_SHOWN_CHARS - 3] + "..."


def _check(condition: dict, context: dict) -> tuple[bool, str]:
    problems = validate_condition(condition)
    if problems:
        raise ConditionError(f"{condition.get('field') or 'condition'}: {'; '.join(problems)}")
    field, key = str(condition["field"]).strip(), condition["operator"]
    left, right = resolve(context, field), condition.get("value")
    if _CHECKS[key](left, right):
        return True, ""
    operator = OPERATORS[key]
    said = f'"{field}" ({_shown(left)}) {operator.failed}'
    return False, f"{said} {_shown(right)}" if operator.takes_value else said


def evaluate(conditions: list[dict], context: dict, match: str = "all") -> ConditionResult:
    """Check the conditions; `all` stops at the first that fails, `any` needs one to pass.
    Raises ConditionError for a broken condition, which fails the run instead of filtering it."""
    if match not in MATCH_MODES:
        raise ConditionError(f"match must be one of {', '.join(MATCH_MODES)}, not {match!r}")
    failures = []
    for condition in conditions:
        passed, why = _check(condition, context)
        if passed and match == "any":
            return ConditionResult(True, "")
        if not passed:
            failures.append(why)
            if match == "all":
                return ConditionResult(False, f"Stopped by filter: {why}")
    if match == "any" and failures:
        return ConditionResult(False, "Stopped by filter: none matched: " + "; ".join(failures))
    return ConditionResult(True, "")
