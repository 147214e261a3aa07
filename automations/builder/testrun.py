""" "Test this recipe": run a recipe once, by hand, and show what each step would send.

A dry run renders every step, converts its input, and calls searches (reads, through the real
connection) but performs no action: an action's declared sample stands in for its output so
later steps can still be rendered. A live test performs the actions for real, each with a fresh
idempotency key, since a merchant who tests twice means to act twice. Neither leaves Run rows:
a test is not part of the shop's history.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.utils import timezone

from automations.documents import recipe_to_document
from automations.engine import render
from automations.models import Recipe
from connectors import registry, tokens
from connectors.base import Search, Trigger
from connectors.cartly import iter_pages
from connectors.contract import check_result
from connectors.convert import ConversionError, convert_inputs
from connectors.errors import ConnectorError
from connectors.http.signing import http_client_for

SAMPLE, LATEST = "sample", "latest"
SOURCES = {SAMPLE: "The trigger's sample data", LATEST: "The shop's latest real object"}
# Look for the latest object in growing windows of recent changes before reading everything:
# a busy shop has its newest order in the first window, an idle one in a later window.
LATEST_WINDOWS_DAYS = (1, 7, 30, 365, None)
# Bound on the objects read for one window; beyond it the newest seen so far is used.
MAX_SCANNED_OBJECTS = 2500


STATUS_LABELS = {
    "would_send": "Would send",
    "sent": "Sent",
    "found": "Found",
    "not_found": "Nothing found",
    "passed": "Passed",
    "filtered": "Stopped by filter",
    "failed": "Failed",
    "not_reached": "Not reached",
    "decided": "Decided",
    "would_wait": "Would wait",
}


@dataclass
class StepReport:
    position: int
    key: str
    label: str
    kind: str  # action, search, filter, loop, paths or delay
    status: str  # would_send, sent, found, not_found, passed, filtered, failed, not_reached…
    message: str = ""
    rendered: dict[str, str] | None = None  # what the templates produced
    sent: dict[str, Any] | None = None  # converted, as the call takes them
    results: list[dict] | None = None  # a search's matches
    output: dict | None = None  # what later steps see as steps.<key>
    where: str = ""  # the step's place in the tree ("2", "2.i0.0"); "" means str(position)
    heading: str = ""  # above the first report of a loop item, path or fallback

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def place(self) -> str:
        return self.where or str(self.position)

    @property
    def dom_id(self) -> str:
        return self.place.replace(".", "-")

    @property
    def number(self) -> str:
        """ "3", or "3.1" for the first step inside step 3, as the run page numbers steps."""
        return ".".join(str(int(p) + 1) for p in self.place.split(".")[::2])

    @property
    def depth(self) -> int:
        return self.place.count(".") // 2


@dataclass
class TrialReport:
    source: str
    source_message: str
    trigger_data: dict
    live: bool
    filter_message: str = ""
    outcome: str = ""
    steps: list[StepReport] = field(default_factory=list)


class NoObjectFound(Exception):
    """The shop has no object of the trigger's kind to test with."""


def _object_time(trigger: Trigger, obj: dict) -> str:
    return str(obj.get("updated_at") if trigger.dedupe_on_updated_at else obj.get("id"))


def latest_object(connection, trigger: Trigger) -> dict:
    """The shop's newest object this trigger is about, read through the list endpoint."""
    if not trigger.polls:
        raise NoObjectFound(f"Cartly has no list of {trigger.noun.lower()}s to read from.")
    filters = trigger.poll_filter.query(None)

    def newest(client) -> dict | None:
        list_method = getattr(client, f"list_{trigger.resource}")
        for days in LATEST_WINDOWS_DAYS:
            since = {} if days is None else {"updated_since": timezone.now() - timedelta(days)}
            best = None
            for count, obj in enumerate(iter_pages(list_method, **filters, **since)):
                if best is None or _object_time(trigger, obj) >= _object_time(trigger, best):
                    best = obj
                if count >= MAX_SCANNED_OBJECTS:
                    break
            if best is not None:
                return best
        return None

    found = tokens.call(connection, newest)
    if found is not None and trigger.poll_levels is not None:
        found = _first_level(trigger, found)
    if found is None:
        raise NoObjectFound(f"The shop has no {trigger.noun.lower()} to test with yet.")
    return check_result(trigger, found)


def _first_level(trigger: Trigger, listed: dict) -> dict | None:
    """A level read out of the newest listed object (e.g. a product's first variant's stock).

    Only a comparison knows the previous level; a test shows it unchanged.
    """
    levels = trigger.poll_levels.expand(listed)
    if not levels:
        return None
    level = levels[0]
    return {**level, trigger.poll_levels.previous: level.get(trigger.poll_levels.value)}


def _search(item: StepReport, step: dict, operation: Search, values: dict, connection) -> bool:
    found = tokens.call(connection, lambda client: operation.perform(client, values))
    item.results = check_result(operation, found)
    if item.results:
        item.status, item.output = "found", item.results[0]
        item.message = f"Found {len(item.results)}; later steps use the first."
        return True
    if step.get("if_not_found") == "continue":
        item.status, item.output = "not_found", {}
        item.message = f"{operation.nothing_found} The run would go on with an empty result."
        return True
    item.status = "not_found"
    item.message = f"{operation.nothing_found} The run would stop here (halted)."
    return False


def _operation_step(item: StepReport, step: dict, context: dict, connection, live: bool) -> bool:
    operation = registry.get(step["operation"])
    labels = {f.key: f.label for f in operation.input_fields}
    item.rendered = render.render_fields(step.get("fields", {}), context, labels)
    item.sent = convert_inputs(operation.input_fields, item.rendered)
    if isinstance(operation, Search):
        return _search(item, step, operation, item.sent, connection)
    if not live:
        item.status, item.output = "would_send", dict(operation.sample)
        item.message = "Not sent (dry run). Later steps use this action's sample output."
        return True
    key = f"test-{uuid.uuid4().hex}"  # a fresh key: each live test is meant to act
    if operation.app == "http":  # the HTTP step calls the merchant's system, not Cartly
        result = operation.perform(http_client_for(connection.owner), item.sent, key)
    else:
        result = tokens.call(connection, lambda client: operation.perform(client, item.sent, key))
    item.status, item.output = "sent", check_result(operation, result)
    item.message = "Sent." if operation.app == "http" else "Sent to Cartly."
    return True


def run_operation(item: StepReport, step: dict, context: dict, connection, live: bool) -> bool:
    """Render, convert and (for a search, or a live action) call one operation step; whether
    the run would go on. The report says what was sent and what came back."""
    try:
        return _operation_step(item, step, context, connection, live)
    except render.RenderError as exc:
        item.message = f"This step's input cannot be filled in: {exc}"
    except ConversionError as exc:
        item.message = f"This step's input is not valid: {exc}"
    except ConnectorError as exc:
        item.message = f"{_service(step)} answered with an error: {exc}"
    item.status = "failed"
    return False


def _service(step: dict) -> str:
    operation = registry.get(step["operation"])
    return "Cartly" if operation.app == "cartly" else "The other system"


def try_recipe(recipe: Recipe, *, source: str = SAMPLE, live: bool = False) -> TrialReport:
    """Run `recipe`'s current version against sample or real trigger data; no Run rows."""
    document = recipe_to_document(recipe)
    trigger = registry.get_trigger(document["trigger"])
    report = TrialReport(source, SOURCES.get(source, ""), dict(trigger.sample), live)
    if source == LATEST:
        try:
            report.trigger_data = latest_object(recipe.connection, trigger)
            report.source_message = f"The shop's latest {trigger.noun.lower()}."
        except (NoObjectFound, ConnectorError) as exc:
            report.outcome = f"Could not read the shop's latest {trigger.noun.lower()}: {exc}"
            return report
    # Imported here: the walk uses this module's reports and run_operation.
    from automations.builder.trial_walk import run_document

    return run_document(document, recipe.connection, report.trigger_data, live=live, report=report)
