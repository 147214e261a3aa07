"""The first line of defence inside one render: a sandboxed Jinja environment whose every call,
attribute, operator and loop item checks a deadline, and whose text-growing operations check
sizes *before* they allocate (st2's `util/jinja.py` shape, with strict undefined values).

These guards run in the render child (automations/engine/render_worker.py), where the
process's own limits (render_limits.py) catch whatever slips past them: a `{% set %}` block or
macro body can still join up to `MAX_LOOP_ITERATIONS` values of `MAX_VALUE_CHARS` each, and a
single C-level call cannot be interrupted from Python.
"""

import functools
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2 import ChainableUndefined, StrictUndefined, Template, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing
from jinja2.visitor import NodeTransformer

from automations.engine.template_filters import FILTERS

# A field is a line or a message; ten thousand characters is a long email body already.
MAX_TEMPLATE_CHARS = 10_000
# Rendered values go into Cartly API fields (notes, descriptions); none is near 64 KiB.
MAX_OUTPUT_CHARS = 64 * 1024
# Text or lists built inside a template: nothing larger could be output anyway.
MAX_VALUE_CHARS = MAX_OUTPUT_CHARS
# Loop items per field render, all loops together: far beyond any order's line items.
MAX_LOOP_ITERATIONS = 10_000
# Prices and quantities never need more; bounds `**` and `*` on whole numbers.
MAX_INT_BITS = 4096
# A width or precision in a format string above this is padding, not formatting.
MAX_FORMAT_WIDTH = 1000
# Every field of a few thousand active recipes stays compiled in each worker.
TEMPLATE_CACHE_SIZE = 4096
# Enough names to spot a typo without flooding the run log.
MAX_LISTED_NAMES = 12
# How much of the context to search to name the path of a missing value (error path only).
MAX_PATH_SEARCH_NODES = 5000


class LimitExceeded(Exception):
    """A cap was hit; the message says which, in plain words."""


@dataclass
class Budget:
    """One field's render: when it must stop (and what to say then), loop steps so far."""

    deadline: float
    overdue: str  # the sentence for a missed deadline: which limit, in plain words
    iterations: int = 0


_budget: ContextVar[Budget | None] = ContextVar("render_budget", default=None)


def _tick() -> Budget | None:
    budget = _budget.get()
    if budget is not None and time.monotonic() > budget.deadline:
        raise LimitExceeded(budget.overdue)
    return budget


def _check_size(size: int, what: str = "the text") -> None:
    if size > MAX_VALUE_CHARS:
        raise LimitExceeded(f"{what} would be longer than {MAX_VALUE_CHARS:,} characters")


class MissingValue(UndefinedError):
    def __init__(self, message: str | None, undefined: "Missing") -> None:
        super().__init__(message)
        self.undefined = undefined


class Missing(ChainableUndefined, StrictUndefined):
    """Strict when used (printed, compared, iterated, truth-tested) but chainable when looked
    into, so `trigger.customer.address.city|default("")` works when the address is missing."""

    __slots__ = ()

    def __init__(
        self,
        hint: str | None = None,
        obj: Any = missing,
        name: str | None = None,
        exc: type[Exception] = UndefinedError,
    ) -> None:
        if exc is UndefinedError:  # keep SecurityError from the sandbox as it is
            exc = functools.partial(MissingValue, undefined=self)  # type: ignore[assignment]
        super().__init__(hint, obj, name, exc)


# -- size estimates for builtins that grow text, checked before the call ------------------

_PRINTF_SPEC = re.compile(r"%[-#0 +]*(\*|\d*)(?:\.(\*|\d*))?")
_BRACE_SPEC = re.compile(r"\{[^{}]*?:([^{}]*)(\{?)")


def _check_format(fmt: str) -> int:
    numbers = [n for pair in _PRINTF_SPEC.findall(fmt) for n in pair]
    for spec, nested in _BRACE_SPEC.findall(fmt):
        if nested:
            numbers.append("*")
        numbers += re.findall(r"\d+", spec)
    if "*" in numbers or any(n and int(n) > MAX_FORMAT_WIDTH for n in numbers if n != "*"):
        raise LimitExceeded(f"format widths are limited to {MAX_FORMAT_WIDTH} characters")
    return 0


def _arg(args: tuple, kwargs: dict, index: int, name: str, default: Any) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


def _replaced_size(text: str, args: tuple, kwargs: dict) -> int:
    old, new = str(_arg(args, kwargs, 0, "old", "")), str(_arg(args, kwargs, 1, "new", ""))
    hits = text.count(old) if old else len(text) + 1
    return len(text) + hits * max(len(new) - len(old), 0)


def _joined_size(items: Any, separator: Any) -> int:
    return len(str(separator)) * len(items) if hasattr(items, "__len__") else 0


def _int_arg(args: tuple, kwargs: dict, name: str, default: int) -> int:
    value = _arg(args, kwargs, 0, name, default)
    return int(value) if isinstance(value, int | float) else len(str(value))


Estimate = Callable[[Any, tuple, dict], int]
_WIDTH: Estimate = lambda s, a, k: _int_arg(a, k, "width", 0)  # noqa: E731
_GROWING_FILTERS: dict[str, Estimate] = {
    "center": lambda s, a, k: _int_arg(a, k, "width", 80),
    "indent": lambda s, a, k: len(str(s)) + (str(s).count("\n") + 1) * _int_arg(a, k, "width", 4),
    "replace": lambda s, a, k: _replaced_size(str(s), a, k),
    "join": lambda s, a, k: _joined_size(s, _arg(a, k, 0, "d", "")),
    "batch": lambda s, a, k: _int_arg(a, k, "linecount", 0),
    "slice": lambda s, a, k: _int_arg(a, k, "slices", 0),
    "format": lambda s, a, k: _check_format(str(s)),
}
_GROWING_METHODS: dict[str, Estimate] = {
    "center": _WIDTH,
    "ljust": _WIDTH,
    "rjust": _WIDTH,
    "zfill": _WIDTH,
    "expandtabs": lambda s, a, k: len(s) + s.count("\t") * _int_arg(a, k, "tabsize", 8),
    "replace": _replaced_size,
    "join": lambda s, a, k: _joined_size(_arg(a, k, 0, "iterable", ()), s),
    "format": lambda s, a, k: _check_format(s),
    "format_map": lambda s, a, k: _check_format(s),
}


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    estimate = _GROWING_FILTERS[name]
    # Filters marked pass_context/eval_context/environment receive that object first.
    offset = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(func)  # also copies `jinja_pass_arg`, so Jinja still passes it
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        _check_size(estimate(args[offset], args[offset + 1 :], kwargs))
        return func(*args, **kwargs)

    return guarded


def _size(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list | tuple):
        return len(value) + sum(_size(item) for item in value)
    return 1


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_binop(operator: str, left: Any, right: Any) -> None:
    if operator == "**" and _is_int(left) and _is_int(right) and abs(left) > 1 and right > 0:
        if left.bit_length() * right > MAX_INT_BITS:
            raise LimitExceeded("the number would be too large")
    elif operator == "*" and _is_int(left) and _is_int(right):
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise LimitExceeded("the number would be too large")
    elif operator == "*":
        for sequence, times in ((left, right), (right, left)):
            if isinstance(sequence, str | list | tuple) and _is_int(times):
                _check_size(_size(sequence) * max(times, 0))
    elif operator == "+" and isinstance(left, str | list | tuple) and type(left) is type(right):
        _check_size(_size(left) + _size(right))
    elif operator == "%" and isinstance(left, str):
        _check_format(left)


def _capped_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_LOOP_ITERATIONS:
        raise LimitExceeded(f"range() is limited to {MAX_LOOP_ITERATIONS:,} numbers")
    return numbers


class _BoundLoopsAndJoins(NodeTransformer):
    """Route every loop's iterable and every `~` join through the environment's guards."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Call(
            nodes.EnvironmentAttribute("bounded_iter"),
            [node.iter],
            [],
            None,
            None,
            lineno=node.lineno,
        )
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Call(
            nodes.EnvironmentAttribute("bounded_concat"),
            node.nodes,
            [],
            None,
            None,
            lineno=node.lineno,
        )


class _GuardedEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def compile(
        self,
        source: Any,
        name: str | None = None,
        filename: str | None = None,
        raw: bool = False,
        defer_init: bool = False,
    ) -> Any:
        if isinstance(source, str):
            source = _BoundLoopsAndJoins().visit(self.parse(source, name, filename))
            source.set_environment(self)
        return super().compile(source, name, filename, raw, defer_init)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _tick()
        _check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        _tick()
        # Data first: an order's "items" or "values" key must win over dict.items/values.
        if type(obj) is dict and attribute in obj:
            return obj[attribute]
        return _raise_if_unsafe(super().getattr(obj, attribute))

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        return _raise_if_unsafe(super().getitem(obj, argument))

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _tick()
        method = getattr(obj, "__wrapped__", obj)  # the sandbox wraps str.format
        subject = getattr(method, "__self__", None)
        estimate = _GROWING_METHODS.get(getattr(method, "__name__", ""))
        if isinstance(subject, str) and estimate is not None:
            _check_size(estimate(subject, args, kwargs))
        return super().call(context, obj, *args, **kwargs)

    def bounded_iter(self, iterable: Iterable[Any]) -> Iterator[Any]:
        for item in iterable:
            budget = _tick()
            if budget is not None:
                budget.iterations += 1
                if budget.iterations > MAX_LOOP_ITERATIONS:
                    raise LimitExceeded(f"loops are limited to {MAX_LOOP_ITERATIONS:,} steps")
            yield item

    def bounded_concat(self, *parts: Any) -> str:
        pieces = [str(part) for part in parts]
        _check_size(sum(map(len, pieces)))
        return "".join(pieces)


def _raise_if_unsafe(value: Any) -> Any:
    # Fail at the unsafe lookup itself, so `''.__class__.__mro__` cannot chain past it.
    if isinstance(value, Missing) and value._undefined_exception is SecurityError:
        value._fail_with_undefined_error()
    return value


def _finalize(value: Any) -> Any:
    return "" if value is None else value  # a JSON null means "no value", never "None"


def _make_environment() -> _GuardedEnvironment:
    env = _GuardedEnvironment(undefined=Missing, autoescape=False, finalize=_finalize)
    env.filters.update(FILTERS)
    for name in _GROWING_FILTERS:
        env.filters[name] = _guard_filter(name, env.filters[name])
    env.globals["range"] = _capped_range
    del env.globals["lipsum"]  # generates unbounded text; no place in a field
    return env


ENV = _make_environment()


@functools.lru_cache(maxsize=TEMPLATE_CACHE_SIZE)
def compiled(source: str) -> Template:
    return ENV.from_string(source)


def produce(template: Template, context: dict, budget: Budget) -> str:
    """Render under `budget`, stopping as soon as the output passes its cap."""
    token = _budget.set(budget)
    try:
        chunks: list[str] = []
        size = 0
        for chunk in template.generate(context):
            size += len(chunk)
            if size > MAX_OUTPUT_CHARS:
                raise LimitExceeded(f"the result is longer than {MAX_OUTPUT_CHARS:,} characters")
            chunks.append(chunk)
        return "".join(chunks)
    finally:
        _budget.reset(token)
