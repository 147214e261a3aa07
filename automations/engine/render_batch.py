"""Render the fields of many steps at once (one round trip to the render child), each failure
kept as the error of its own step, each step under what is left of its run's render budget."""

from __future__ import annotations

from typing import Any

from django.db.models import F

from automations.engine import render
from automations.models import Run

# Renders shorter than this are not added to a run's total: a real template renders in well
# under a millisecond, and not writing the run row for it keeps the hot path to its statements.
# Every field and step still has its own deadline; this bounds what slow renders add up to.
COUNTED_SECONDS = 0.005


def render_rows(jobs: list[tuple[int, dict, dict, Any, int, float]]) -> dict[int, Any]:
    """(row id, field templates, context, operation, run id, run's render seconds so far) →
    the rendered fields (a dict) or the RenderError, by row id."""
    if not jobs:
        return {}
    prepared = [
        render.RenderJob(
            templates,
            context,
            {f.key: f.label for f in operation.input_fields},
            render.run_deadline(spent),
        )
        for _, templates, context, operation, _, spent in jobs
    ]
    results = render.render_many(prepared)
    spent: dict[int, float] = {}
    for (_, _, _, _, run_id, _), result in zip(jobs, results, strict=True):
        seconds = getattr(result, "seconds", 0.0) or 0.0
        if seconds >= COUNTED_SECONDS:
            spent[run_id] = spent.get(run_id, 0.0) + seconds
    for run_id, seconds in spent.items():
        Run.objects.filter(pk=run_id).update(render_seconds=F("render_seconds") + seconds)
    return {job[0]: result for job, result in zip(jobs, results, strict=True)}
