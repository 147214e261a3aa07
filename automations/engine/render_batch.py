"""Render the fields of many steps at once, each failure kept as the error of its own step."""

from __future__ import annotations

from typing import Any

from automations.engine import render


def render_rows(jobs: list[tuple[int, dict, dict, Any]]) -> dict[int, dict | Exception]:
    """(row id, field templates, context, operation) → the rendered fields or a RenderError."""
    found: dict[int, dict | Exception] = {}
    many = getattr(render, "render_many", None)
    prepared = [(templates, context, {f.key: f.label for f in operation.input_fields})
                for _, templates, context, operation in jobs]
    if many is not None and prepared:
        for (row_id, *_), result in zip(jobs, many(prepared), strict=True):
            found[row_id] = result
        return found
    for (row_id, *_), (templates, context, labels) in zip(jobs, prepared, strict=True):
        try:
            found[row_id] = render.render_fields(templates, context, labels)
        except render.RenderError as exc:
            found[row_id] = exc
    return found
