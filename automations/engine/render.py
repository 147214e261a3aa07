"""Render: turn a step's field templates into the text it sends, safely, with errors that name
the field (DESIGN.md, "The way an event travels", point 5).

Templates are written by merchants, so every render happens in a child process with its own
memory and CPU limits (render_child.py, render_worker.py, render_limits.py), inside a
sandboxed Jinja environment whose guards stop ordinary abuse with a precise message
(render_guards.py). Whatever a template does, the caller's memory and time are untouched and
every failure is a `RenderError` whose message starts with the field's label.

`render_many` sends a whole batch (the fields of many steps) to the child in one round trip;
`render_fields` and `render_field` are a batch of one. Deadlines: per field, per step (a
job's fields together), per call (`budget`), and per job (`RenderJob.deadline`, e.g. what is
left of a run's budget: see `run_deadline`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import meta, nodes
from jinja2.exceptions import TemplateSyntaxError

from automations.engine import render_limits
from automations.engine.render_child import Limits, render_jobs
from automations.engine.render_explain import TemplateProblem, Unusable, checked_template
from automations.engine.render_guards import ENV, MAX_OUTPUT_CHARS, MAX_TEMPLATE_CHARS
from automations.engine.render_limits import Deadline
from automations.engine.render_worker import Job

__all__ = [
    "MAX_OUTPUT_CHARS",
    "MAX_TEMPLATE_CHARS",
    "Deadline",
    "RenderError",
    "RenderJob",
    "RenderedFields",
    "TemplateProblem",
    "build_context",
    "references",
    "render_field",
    "render_fields",
    "render_many",
    "run_deadline",
    "validate_template",
]


class RenderError(Exception):
    """A field could not be rendered; `str()` is the sentence shown to the merchant."""

    def __init__(self, key: str, label: str, problem: str, seconds: float = 0.0) -> None:
        self.key, self.label, self.problem = key, label, problem
        self.seconds = seconds  # time the render took before it failed
        super().__init__(f'"{label}": {problem}')


class RenderedFields(dict):
    """A job's rendered fields by key; `seconds` is how long the child spent on them."""

    seconds: float = 0.0


@dataclass(frozen=True)
class RenderJob:
    """The fields of one step: templates and labels by key, the context they see, and
    optionally a deadline of the caller's own (a run's remaining budget)."""

    templates: dict[str, Any]
    context: dict[str, Any]
    labels: dict[str, str]
    deadline: Deadline | None = None


def run_deadline(spent_seconds: float, total_seconds: float | None = None) -> Deadline:
    """The deadline of a run that has already spent `spent_seconds` rendering (the sum of
    `seconds` of its earlier results): pass it as `RenderJob.deadline`."""
    if total_seconds is None:
        total_seconds = render_limits.RUN_DEADLINE_SECONDS
    return Deadline(
        time.monotonic() + max(0.0, total_seconds - spent_seconds),
        f"the run's templates together took longer than {total_seconds:g} s",
    )


def _job(item: RenderJob | Sequence, batch: Deadline | None) -> Job:
    if not isinstance(item, RenderJob):
        item = RenderJob(*item)
    outer = [d for d in (item.deadline, batch) if d is not None]
    return Job(
        item.templates, item.context, item.labels, min(outer, key=lambda d: d.at) if outer else None
    )


def _result(answer: dict[str, Any]) -> RenderedFields | RenderError:
    if "error" in answer:
        return RenderError(*answer["error"], seconds=answer.get("s", 0.0))
    fields = RenderedFields(answer["ok"])
    fields.seconds = answer.get("s", 0.0)
    return fields


def render_many(
    jobs: Sequence[RenderJob | tuple],
    *,
    budget: float | None = None,
    field_seconds: float = render_limits.FIELD_DEADLINE_SECONDS,
    step_seconds: float = render_limits.STEP_DEADLINE_SECONDS,
) -> list[RenderedFields | RenderError]:
    """Render many steps' fields in one round trip to the render child.

    `jobs` are RenderJob or `(templates, context, labels[, deadline])` tuples. Each result is
    the job's fields by key, or the RenderError of its first failing field (the rest of that
    job is not rendered; other jobs are). `budget` bounds the whole call, in seconds.
    """
    batch = None
    if budget is not None:
        batch = Deadline(time.monotonic() + budget, render_limits.batch_overdue(budget))
    answers = render_jobs([_job(item, batch) for item in jobs], Limits(field_seconds, step_seconds))
    return [_result(answer) for answer in answers]


def render_fields(
    templates: dict[str, str],
    context: dict,
    labels: dict[str, str],
    *,
    deadline: Deadline | None = None,
) -> dict[str, str]:
    """Render a step's fields in order; the first failure stops the step (RenderError)."""
    [result] = render_many([RenderJob(templates, context, labels, deadline)])
    if isinstance(result, RenderError):
        raise result
    return result


def render_field(source: str, context: dict, *, label: str, key: str | None = None) -> str:
    """Render one field template; every failure is a RenderError naming `label`."""
    key = key if key is not None else label
    return render_fields({key: source}, context, {key: label})[key]


def validate_template(source: str) -> list[TemplateProblem]:
    """Problems the builder and importer can show before anything runs (nothing is rendered;
    compiling is bounded by the template's length, so it happens here)."""
    try:
        checked_template(source)
    except Unusable as exc:
        return [exc.problem or TemplateProblem(1, None, exc.message)]
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
    if len(source) > MAX_TEMPLATE_CHARS:
        return set()
    try:
        tree = ENV.parse(source)
        roots = meta.find_undeclared_variables(tree) - set(ENV.globals)
        found: set[str] = set()
        _collect(tree, roots, found)
    except (TemplateSyntaxError, RecursionError):
        return set()
    return found
