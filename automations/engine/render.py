"""Render: turn a step's field templates into the text it sends, safely, with errors that name
the field (DESIGN.md, "The way an event travels", point 5).

Templates are written by merchants and run inside Celery workers, so three things hold:
- one sandboxed, immutable Jinja environment with strict undefined values (st2's
  `util/jinja.py` shape), compiled templates cached by source;
- bounded work without threads or signals (both misbehave in a prefork worker): every call,
  attribute, operator and loop item checks a per-render deadline; loops, `range`, the operators
  and builtins that grow text check sizes *before* they allocate; output is capped while it is
  produced. A `{% set %}` block or macro body can still join up to `MAX_LOOP_ITERATIONS` values of
  `MAX_VALUE_CHARS` each before the output cap sees it; that bound is accepted;
- every failure becomes a `RenderError` whose message starts with the field's label.
"""

import functools
import itertools
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import ChainableUndefined, StrictUndefined, Template, meta, nodes
from jinja2.exceptions import (
    SecurityError,
    TemplateAssertionError,
    TemplateSyntaxError,
    UndefinedError,
)
from jinja2.lexer import TokenStream
from jinja2.parser import Parser
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
# One field must not hold a worker for long; a real template renders in microseconds.
RENDER_DEADLINE_SECONDS = 1.0
# Every field of a few thousand active recipes stays compiled in each worker.
TEMPLATE_CACHE_SIZE = 4096
# Enough names to spot a typo without flooding the run log.
MAX_LISTED_NAMES = 12
# How much of the context to search to name the path of a missing value (error path only).
MAX_PATH_SEARCH_NODES = 5000


class RenderError(Exception):
    """A field could not be rendered; `str()` is the sentence shown to the merchant."""

    def __init__(self, key: str, label: str, problem: str) -> None:
        self.key, self.label, self.problem = key, label, problem
        super().__init__(f'"{label}": {problem}')


@dataclass(frozen=True)
class TemplateProblem:
    line: int
    column: int | None
    message: str

    def describe(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"template syntax error at {where}: {self.message}"


class _LimitExceeded(Exception):
    """A cap was hit; the message says which, in plain words."""


@dataclass
class _Budget:
    deadline: float
    iterations: int = 0


_budget: ContextVar[_Budget | None] = ContextVar("render_budget", default=None)


def _tick() -> _Budget | None:
    budget = _budget.get()
    if budget is not None and time.monotonic() > budget.deadline:
        raise _LimitExceeded(f"rendering took longer than {RENDER_DEADLINE_SECONDS:g} s")
    return budget


def _check_size(size: int, what: str = "the text") -> None:
    if size > MAX_VALUE_CHARS:
        raise _LimitExceeded(f"{what} would be longer than {MAX_VALUE_CHARS:,} characters")


class _MissingValue(UndefinedError):
    def __init__(self, message: str | None, undefined: "_Missing") -> None:
        super().__init__(message)
        self.undefined = undefined


class _Missing(ChainableUndefined, StrictUndefined):
    """Strict when used (printed, compared, iterated, truth-tested) but chainable when looked
    into, so `trigger.customer.address.city|default("")` works when the address is missing."""

    __slots__ = ()

    def __init__(self, hint: str | None = None, obj: Any = missing, name: str | None = None,
                 exc: type[Exception] = UndefinedError) -> None:
        if exc is UndefinedError:  # keep SecurityError from the sandbox as it is
            exc = functools.partial(_MissingValue, undefined=self)  # type: ignore[assignment]
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
        raise _LimitExceeded(f"format widths are limited to {MAX_FORMAT_WIDTH} characters")
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
    "center": _WIDTH, "ljust": _WIDTH, "rjust": _WIDTH, "zfill": _WIDTH,
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
        _check_size(estimate(args[offset], args[offset + 1:], kwargs))
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
            raise _LimitExceeded("the number would be too large")
    elif operator == "*" and _is_int(left) and _is_int(right):
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise _LimitExceeded("the number would be too large")
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
        raise _LimitExceeded(f"range() is limited to {MAX_LOOP_ITERATIONS:,} numbers")
    return numbers


class _BoundLoopsAndJoins(NodeTransformer):
    """Route every loop's iterable and every `~` join through the environment's guards."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Call(nodes.EnvironmentAttribute("bounded_iter"), [node.iter], [],
                               None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Call(nodes.EnvironmentAttribute("bounded_concat"), node.nodes, [],
                          None, None, lineno=node.lineno)


class _GuardedEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def compile(self, source: Any, name: str | None = None, filename: str | None = None,
                raw: bool = False, defer_init: bool = False) -> Any:
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
                    raise _LimitExceeded(f"loops are limited to {MAX_LOOP_ITERATIONS:,} steps")
            yield item

    def bounded_concat(self, *parts: Any) -> str:
        pieces = [str(part) for part in parts]
        _check_size(sum(map(len, pieces)))
        return "".join(pieces)


def _raise_if_unsafe(value: Any) -> Any:
    # Fail at the unsafe lookup itself, so `''.__class__.__mro__` cannot chain past it.
    if isinstance(value, _Missing) and value._undefined_exception is SecurityError:
        value._fail_with_undefined_error()
    return value


def _finalize(value: Any) -> Any:
    return "" if value is None else value  # a JSON null means "no value", never "None"


def _make_environment() -> _GuardedEnvironment:
    env = _GuardedEnvironment(undefined=_Missing, autoescape=False, finalize=_finalize)
    env.filters.update(FILTERS)
    for name in _GROWING_FILTERS:
        env.filters[name] = _guard_filter(name, env.filters[name])
    env.globals["range"] = _capped_range
    del env.globals["lipsum"]  # generates unbounded text; no place in a field
    return env


_ENV = _make_environment()


@functools.lru_cache(maxsize=TEMPLATE_CACHE_SIZE)
def _compiled(source: str) -> Template:
    return _ENV.from_string(source)


# -- explaining failures -------------------------------------------------------------------

_LEXER_OFFSET = re.compile(r" at \d+$")  # the lexer appends a raw offset; we give line/column


def _normalize_newlines(source: str) -> str:
    return source.replace("\r\n", "\n").replace("\r", "\n")


def _line_column(source: str, offset: int) -> tuple[int, int]:
    line_start = source.rfind("\n", 0, offset) + 1
    return source.count("\n", 0, offset) + 1, offset - line_start + 1


def _tracked(source: str, raw: Iterator[tuple[int, str, str]], where: dict) -> Iterator[Any]:
    """Pass lexer tokens through, remembering where the latest one starts and ends."""
    cursor = 0
    try:
        for lineno, kind, value in raw:
            found = source.find(value, cursor)
            where["start"] = cursor = found if found >= 0 else cursor
            where["end"] = cursor = cursor + len(value)
            yield lineno, kind, value
    except TemplateSyntaxError:
        where["start"] = where["end"]  # the lexer stopped right after the last good token
        raise


def _syntax_offset(source: str) -> int | None:
    """Where parsing stops: Jinja reports only the line, so re-parse with a tracking lexer.
    Runs on the error path only."""
    where = {"start": 0, "end": 0}
    parser = Parser(_ENV, "")
    lexer = _ENV.lexer
    parser.stream = TokenStream(lexer.wrap(_tracked(source, lexer.tokeniter(source, None), where)),
                                None, None)
    try:
        parser.parse()
    except TemplateSyntaxError:
        return len(source) if parser.stream.current.type == "eof" else where["start"]
    return None


def _guess_column(source: str, line: int, message: str) -> int | None:
    # Compile-time errors ("No filter named 'monye'.") name the culprit; find it on its line.
    quoted = re.search(r"'([^']+)'", message)
    lines = source.split("\n")
    if quoted is None or not 0 < line <= len(lines):
        return None
    found = lines[line - 1].find(quoted.group(1))
    return found + 1 if found >= 0 else None


def _problem(source: str, exc: TemplateSyntaxError) -> TemplateProblem:
    text = _normalize_newlines(source)
    message = _LEXER_OFFSET.sub("", exc.message or "invalid template").rstrip(".")
    line = exc.lineno or 1
    offset = None if isinstance(exc, TemplateAssertionError) else _syntax_offset(text)
    if offset is not None and _line_column(text, offset)[0] == line:
        return TemplateProblem(line, _line_column(text, offset)[1], message)
    return TemplateProblem(line, _guess_column(text, line, message), message)


def _describe_kind(value: Any) -> str:
    if isinstance(value, str):
        return "text"
    if isinstance(value, bool) or value is None:
        return "a yes/no value" if value is not None else "empty"
    return "a number" if isinstance(value, int | float) else type(value).__name__


def _available(container: Any) -> str:
    if isinstance(container, dict):
        names = [str(key) for key in container]
        if not names:
            return " (it is empty)"
        more = ", ..." if len(names) > MAX_LISTED_NAMES else ""
        return f" (available: {', '.join(names[:MAX_LISTED_NAMES])}{more})"
    if isinstance(container, list | tuple):
        count = len(container)
        return f" (the list has {count} item{'' if count == 1 else 's'})"
    return f" (the value there is {_describe_kind(container)})"


def _find_path(context: dict, target: Any) -> str | None:
    """Dotted path of `target` inside the context, by identity (breadth first, bounded)."""
    queue: list[tuple[str, Any]] = [(str(key), value) for key, value in context.items()]
    for path, value in itertools.islice(queue, MAX_PATH_SEARCH_NODES):  # sees appended items
        if value is target:
            return path
        if isinstance(value, dict):
            queue += [(f"{path}.{key}", child) for key, child in value.items()]
        elif isinstance(value, list | tuple):
            queue += [(f"{path}.{index}", child) for index, child in enumerate(value)]
    return None


def _describe_missing(undefined: _Missing, context: dict) -> str:
    # Jinja keeps the looked-into object and the name on the undefined value; read them to
    # tell the merchant the whole path and what was there instead.
    if undefined._undefined_hint:
        return undefined._undefined_hint
    obj, name = undefined._undefined_obj, undefined._undefined_name
    if obj is missing:
        return f'"{name}" is not in the data{_available(context)}'
    parent = _find_path(context, obj)
    path = f"{parent}.{name}" if parent else str(name)
    return f'"{path}" is not in the data{_available(obj)}'


def _explain(exc: BaseException, context: dict) -> str:
    if isinstance(exc, _MissingValue):
        return _describe_missing(exc.undefined, context)
    if isinstance(exc, SecurityError):
        return f"the template uses something that is not allowed ({str(exc).rstrip('.')})"
    if isinstance(exc, RecursionError):
        return "the template calls itself too deeply"
    if isinstance(exc, MemoryError):
        return "the template needs too much memory"
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    return str(exc) or type(exc).__name__


# -- public API ----------------------------------------------------------------------------


_TOO_LONG = f"the template is longer than {MAX_TEMPLATE_CHARS:,} characters"


def _produce(template: Template, context: dict) -> str:
    chunks: list[str] = []
    size = 0
    for chunk in template.generate(context):
        size += len(chunk)
        if size > MAX_OUTPUT_CHARS:
            raise _LimitExceeded(f"the result is longer than {MAX_OUTPUT_CHARS:,} characters")
        chunks.append(chunk)
    return "".join(chunks)


def _template_for(source: str, key: str, label: str) -> Template:
    if len(source) > MAX_TEMPLATE_CHARS:
        raise RenderError(key, label, _TOO_LONG)
    try:
        return _compiled(source)
    except TemplateSyntaxError as exc:
        raise RenderError(key, label, _problem(source, exc).describe()) from exc


def render_field(source: str, context: dict, *, label: str, key: str | None = None) -> str:
    """Render one field template; every failure is a RenderError naming `label`."""
    key = key if key is not None else label
    template = _template_for(source, key, label)
    token = _budget.set(_Budget(deadline=time.monotonic() + RENDER_DEADLINE_SECONDS))
    try:
        return _produce(template, context)
    except Exception as exc:  # a merchant's template can fail in any way; all become one error
        raise RenderError(key, label, _explain(exc, context)) from exc
    finally:
        _budget.reset(token)


def render_fields(templates: dict[str, str], context: dict,
                  labels: dict[str, str]) -> dict[str, str]:
    """Render a step's fields in order; the first failure stops the step."""
    return {key: render_field(source, context, label=labels.get(key, key), key=key)
            for key, source in templates.items()}


def validate_template(source: str) -> list[TemplateProblem]:
    """Problems the builder and importer can show before anything runs (nothing is rendered)."""
    if len(source) > MAX_TEMPLATE_CHARS:
        return [TemplateProblem(1, None, _TOO_LONG)]
    try:
        _compiled(source)
    except TemplateSyntaxError as exc:
        return [_problem(source, exc)]
    return []


def build_context(trigger: dict, event: dict, steps: dict[str, dict], now: datetime) -> dict:
    """The names a template sees: trigger data, the event, earlier steps' outputs, and now."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (runs are recorded in UTC)")
    return {
        "trigger": trigger,
        "event": {"id": event.get("id"), "type": event.get("type"), "time": event.get("time")},
        "steps": dict(steps),
        "now": now,
    }


def _path_of(node: nodes.Node, roots: set[str]) -> str | None:
    if isinstance(node, nodes.Name):
        return node.name if node.name in roots else None
    if isinstance(node, nodes.Getattr):
        base, part = _path_of(node.node, roots), node.attr
    elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        base, part = _path_of(node.node, roots), node.arg.value
    else:
        return None
    return f"{base}.{part}" if base is not None else None


def _collect(node: nodes.Node, roots: set[str], found: set[str]) -> None:
    if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr):
        _collect(node.node.node, roots, found)  # `x.items()`: the data is x, not x.items
        for child in [*node.args, *node.kwargs, node.dyn_args, node.dyn_kwargs]:
            if child is not None:
                _collect(child, roots, found)
        return
    path = _path_of(node, roots)
    if path is not None:
        found.add(path)
        return
    for child in node.iter_child_nodes():
        _collect(child, roots, found)


def references(source: str) -> set[str]:
    """Dotted data paths a template reads (`trigger.customer.email`), best effort; local
    names (loop variables, `set`) and globals are left out. A broken template has none."""
    try:
        tree = _ENV.parse(source)
    except TemplateSyntaxError:
        return set()
    roots = meta.find_undeclared_variables(tree) - set(_ENV.globals)
    found: set[str] = set()
    _collect(tree, roots, found)
    return found
