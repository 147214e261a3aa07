"""Live preview: each field of a draft recipe rendered against sample data, as the merchant types.

The draft need not be valid; every field is tried on its own with the real sandboxed renderer
(automations.engine.render) and the real type conversion (connectors.convert), so what the
preview says is what a run would do with data shaped like the samples. Earlier operation steps
contribute their declared sample output as `steps.<key>`, as they would their real output.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from automations.builder import picker, scopes
from automations.engine import conditions, flow, render, render_limits
from connectors import registry
from connectors.base import Trigger
from connectors.convert import OMIT, ConversionError, convert_value

# The preview is a hint under a text box; the run keeps the whole value.
MAX_PREVIEW_CHARS = 500
SAMPLE_EVENT_ID = "evt_SAMPLE"


def _trigger(doc: dict) -> Trigger | None:
    try:
        key = doc.get("trigger")
        return registry.get_trigger(key) if isinstance(key, str) else None
    except registry.UnknownOperation:
        return None


def trigger_sample(doc: dict) -> dict:
    trigger = _trigger(doc)
    return dict(trigger.sample) if trigger else {}


def sample_context(doc: dict, trigger_data: dict | None, steps: dict[str, dict]) -> dict:
    """The render context a run would build, from samples (or given trigger data)."""
    trigger = _trigger(doc)
    if trigger_data is None:
        trigger_data = trigger_sample(doc)
    now = timezone.now()
    event_type = trigger.event if trigger else ""
    event = {"id": SAMPLE_EVENT_ID, "type": event_type, "time": now.isoformat()}
    return render.build_context(trigger=trigger_data, event=event, steps=steps, now=now)


def _shown(text: str) -> str:
    return text if len(text) <= MAX_PREVIEW_CHARS else text[: MAX_PREVIEW_CHARS - 1] + "…"


def preview_field(field, template: Any, context: dict) -> dict[str, str]:
    """`{"value": text}` or `{"error": message}`; the message names the field's label."""
    if not isinstance(template, str):
        return {"error": f'"{field.label}": must be text'}
    [result] = _render_all([(field, template, context)])
    return _shown_result(field, result)


def _render_all(items: list[tuple[Any, str, dict]]) -> list[str | render.RenderError]:
    """Every field in one trip to the render child, all within the preview's deadline."""
    if not items:
        return []
    jobs = [
        ({field.key: template}, context, {field.key: field.label})
        for field, template, context in items
    ]
    results = render.render_many(jobs, budget=render_limits.PREVIEW_DEADLINE_SECONDS)
    return [
        r if isinstance(r, render.RenderError) else r[field.key]
        for r, (field, _, _) in zip(results, items, strict=True)
    ]


def _shown_result(field, text: str | render.RenderError) -> dict[str, str]:
    if isinstance(text, render.RenderError):
        return {"error": str(text)}
    try:
        converted = convert_value(field, text)
    except ConversionError as exc:
        return {"error": str(exc)}
    if converted is OMIT:
        return {"value": "", "note": "Empty: this field is left out."}
    if not text.strip() and field.default:
        return {"value": field.default, "note": f"Empty: the default ({field.default}) is used."}
    return {"value": _shown(text)}


def preview_filter(value: Any, context: dict) -> dict[str, Any]:
    """Would the filter pass on the sample? `{"passed", "reason"}` or `{"error"}`."""
    if not isinstance(value, dict) or not isinstance(value.get("conditions", []), list):
        return {"error": "The filter is not complete yet."}
    conds = [c for c in value.get("conditions", []) if isinstance(c, dict)]
    if not conds:
        return {"passed": True, "reason": "No conditions: every run goes on."}
    try:
        result = conditions.evaluate(conds, context, match=value.get("match", "all"))
    except conditions.ConditionError as exc:
        return {"error": str(exc)}
    return {"passed": result.passed, "reason": result.reason or "Passes with the sample data."}


def preview_delay(spec: Any, context: dict) -> dict[str, str] | None:
    """ "Wait until" on the sample: the time it gives, or why it is not one."""
    if not isinstance(spec, dict) or not isinstance(spec.get("until"), str):
        return None
    try:
        until = flow.delay_until({"until": spec["until"]}, context, context["now"])
    except flow.FlowError as exc:
        return {"error": str(exc)}
    if until <= context["now"]:
        return {
            "value": until.isoformat(),
            "note": f"With the sample: {flow.shown(until)}, "
            "which has passed, so the run would go on at once.",
        }
    return {
        "value": until.isoformat(),
        "note": f"With the sample: waits until {flow.shown(until)}.",
    }


def preview_loop(spec: Any, context: dict, lists: dict) -> dict[str, str] | None:
    """How many items the loop would go over with the sample, or why it cannot."""
    if not isinstance(spec, dict) or not str(spec.get("over") or "").strip():
        return None
    try:
        items, total = flow.loop_items(spec, context, lists)
    except (flow.FlowError, ValueError, TypeError) as exc:
        return {"error": str(exc)}
    said = f"With the sample: {total} item{'s' if total != 1 else ''}"
    return {
        "value": str(len(items)),
        "note": said
        + (f", of which the first {len(items)} are gone over." if total > len(items) else "."),
    }


def _preview_step(place, out: dict, lists: dict, todo: list) -> None:
    """Filters, paths, loops and delays are previewed now; fields are added to `todo`, to be
    rendered together afterwards (one trip to the render child, one deadline)."""
    step, path, context = place.step, place.path, place.context
    if "filter" in step:
        out["filters"][f"{path}.filter"] = preview_filter(step["filter"], context)
    elif "paths" in step and isinstance(step["paths"], dict):
        for i, branch in enumerate(step["paths"].get("branches") or []):
            out["filters"][f"{path}.paths.branches[{i}]"] = preview_filter(branch, context)
    elif "delay" in step:
        found = preview_delay(step["delay"], context)
        if found is not None:
            out["fields"][f"{path}.delay.until"] = found
    elif "loop" in step:
        found = preview_loop(step["loop"], context, lists)
        if found is not None:
            out["fields"][f"{path}.loop.over"] = found
    else:
        _preview_fields(step, path, context, out, todo)


def _preview_fields(step: dict, path: str, context: dict, out: dict, todo: list) -> None:
    operation = picker.step_operation(step)
    fields = step.get("fields")
    if operation is None or not isinstance(fields, dict):
        return
    for field in operation.input_fields:
        if field.key not in fields:
            continue
        where = f"{path}.fields.{field.key}"
        if isinstance(fields[field.key], str):
            todo.append((where, field, fields[field.key], context))
        else:
            out["fields"][where] = preview_field(field, fields[field.key], context)


def preview_document(doc: Any, trigger_data: dict | None = None) -> dict[str, Any]:
    """Per-field previews of a draft, keyed by document path (`steps[1].steps[0].fields.code`).

    Also gives each filter's (and each path's) outcome on the sample, the picker's trees and
    the pills' labels, so one request after each edit refreshes everything beside the boxes.
    """
    out: dict[str, Any] = {"fields": {}, "filters": {}}
    if not isinstance(doc, dict):
        return {**out, **picker.picker_sources({}), "pills": {}}
    draft = scopes.walk_draft(doc, trigger_data)
    if "filter" in doc:
        context = sample_context(doc, trigger_data, {})
        out["filters"]["filter"] = preview_filter(doc["filter"], context)
    todo: list[tuple[str, Any, str, dict]] = []
    for place in draft.places:
        _preview_step(place, out, place.lists, todo)
    results = _render_all([(field, template, ctx) for _, field, template, ctx in todo])
    for (where, field, _, _), result in zip(todo, results, strict=True):
        out["fields"][where] = _shown_result(field, result)
    return {**out, **picker.sources_of(draft), "pills": draft.labels}
