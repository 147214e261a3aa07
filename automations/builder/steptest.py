""" "Test this step" in the builder: one step of the draft, against the trigger's sample or the
shop's latest real object, showing the input it renders and the answer, as JSON.

The step sees what it would in a run (scopes.py): the trigger, earlier steps' sample outputs,
in a loop the list's first item as `item`, in a fallback a sample `error`. A search really
asks the shop (it only reads). An action, and the HTTP step, only go out on an explicit "send
it" (`send=True`), each with a fresh idempotency key: a merchant who sends twice means twice.
Nothing is stored: a test is not part of the shop's history.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from automations.builder import picker, scopes, testrun
from connectors import registry
from connectors.base import Search
from connectors.errors import ConnectorError

# What the page shows above the answer: where the step's data came from.
EARLIER_NOTE = "Earlier steps are not run: their sample outputs stand in for them."


class CannotTest(Exception):
    """The step cannot be tested as asked; the message says why, for the page."""


@dataclass
class StepTrial:
    path: str
    key: str
    label: str
    kind: str  # action or search
    status: str  # testrun.StepReport statuses: found, not_found, would_send, sent, failed
    message: str
    source: str  # what the trigger data was, in words
    notes: list[str] = field(default_factory=list)
    input: dict | None = None  # rendered templates
    sent: dict | None = None  # converted, as the call takes them
    answer: Any = None  # the search's matches, or the action's answer

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def trigger_data(doc: dict, source: str, connection) -> tuple[dict | None, str]:
    """The trigger's data to test with and what it is, in words; None: the sample."""
    trigger = picker.trigger_operation(doc)
    if trigger is None:
        raise CannotTest("Choose a trigger first.")
    if source != testrun.LATEST:
        return None, f"The sample {trigger.noun.lower()} of “{trigger.label}”."
    if connection is None:
        raise CannotTest("Connect a shop first: the latest real data comes from it.")
    try:
        return testrun.latest_object(connection, trigger), (
            f"The shop's latest {trigger.noun.lower()}."
        )
    except (testrun.NoObjectFound, ConnectorError) as exc:
        raise CannotTest(
            f"Could not read the shop's latest {trigger.noun.lower()}: {exc}"
        ) from None


def _notes(place: scopes.Place) -> list[str]:
    notes = [EARLIER_NOTE] if place.context["steps"] else []
    if "item" in place.context:
        notes.append(
            "“item” is the first item of the list the loop goes over "
            "(its number, loop.index, is 1)."
        )
    if "error" in place.context:
        notes.append("“error” is a sample error, as if the step had failed.")
    return notes


def try_step(
    doc: Any, path: str, connection, *, source: str = testrun.SAMPLE, send: bool = False
) -> StepTrial:
    """Render one operation step of a draft and, for a search (or `send`), call it."""
    if not isinstance(doc, dict):
        raise CannotTest("The recipe's draft could not be read; reload the page.")
    data, said = trigger_data(doc, source, connection)
    place = scopes.walk_draft(doc, data).place(path)
    if place is None or picker.step_operation(place.step) is None:
        raise CannotTest(
            "Only an action or a search can be tested on its own; choose its operation first."
        )
    if not isinstance(place.step.get("fields", {}), dict):
        raise CannotTest("This step's fields could not be read; reload the page.")
    operation = registry.get(place.step["operation"])
    if connection is None and (send or isinstance(operation, Search)):
        raise CannotTest("Connect a shop first: this step calls it.")
    step = {**place.step, "fields": place.step.get("fields") or {}}
    item = testrun.StepReport(0, str(step.get("key", "")), operation.label, operation.kind, "")
    testrun.run_operation(item, step, place.context, connection, send)
    found = StepTrial(
        path,
        item.key,
        operation.label,
        operation.kind,
        item.status,
        item.message,
        said,
        _notes(place),
        item.rendered,
        item.sent,
    )
    found.answer = (
        item.results
        if item.results is not None
        else (item.output if item.status == "sent" else None)
    )
    if item.status == "would_send":
        found.message = "Not sent yet. Check what would be sent, then “Send it” to do it for real."
    return found
