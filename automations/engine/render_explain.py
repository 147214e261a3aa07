"""Explaining a failed render in a merchant's words: where a syntax error is (line and column),
which data path is missing and what was there instead, which limit stopped the render.

Runs on the error path only, in whichever process met the error (the render child for renders,
the serving process for validation at save).
"""

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jinja2 import Template
from jinja2.exceptions import SecurityError, TemplateAssertionError, TemplateSyntaxError
from jinja2.lexer import TokenStream
from jinja2.parser import Parser
from jinja2.utils import missing

from automations.engine.render_guards import (
    ENV,
    MAX_TEMPLATE_CHARS,
    Missing,
    MissingValue,
    compiled,
)

# Enough names to spot a typo without flooding the run log.
MAX_LISTED_NAMES = 12
# How much of the context to search to name the path of a missing value (error path only).
MAX_PATH_SEARCH_NODES = 5000
TOO_DEEP = "the template nests too deeply"


@dataclass(frozen=True)
class TemplateProblem:
    line: int
    column: int | None
    message: str

    def describe(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"template syntax error at {where}: {self.message}"


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
    parser = Parser(ENV, "")
    lexer = ENV.lexer
    parser.stream = TokenStream(
        lexer.wrap(_tracked(source, lexer.tokeniter(source, None), where)), None, None
    )
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


def problem_of(source: str, exc: TemplateSyntaxError) -> TemplateProblem:
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


def _describe_missing(undefined: Missing, context: dict) -> str:
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


def explain(exc: BaseException, context: dict) -> str:
    if isinstance(exc, MissingValue):
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


class Unusable(Exception):
    """A template that cannot render at all (syntax, size, nesting); `message` says why."""

    def __init__(self, problem: TemplateProblem | None, message: str | None = None) -> None:
        self.problem = problem
        self.message = message or (problem.describe() if problem else "invalid template")
        super().__init__(self.message)


TOO_LONG = f"the template is longer than {MAX_TEMPLATE_CHARS:,} characters"


def checked_template(source: str) -> Template:
    """The compiled template (cached by source), or Unusable saying what is wrong with it."""
    if len(source) > MAX_TEMPLATE_CHARS:
        raise Unusable(TemplateProblem(1, None, TOO_LONG), TOO_LONG)
    try:
        return compiled(source)
    except TemplateSyntaxError as exc:
        try:
            problem = problem_of(source, exc)
        except RecursionError:
            problem = TemplateProblem(exc.lineno or 1, None, TOO_DEEP)
        raise Unusable(problem) from None
    except (RecursionError, MemoryError, SyntaxError):
        # Thousands of nested brackets: Jinja's parser or Python's compiler gives up.
        raise Unusable(TemplateProblem(1, None, TOO_DEEP)) from None
