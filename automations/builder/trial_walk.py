""" "Test this recipe" through the engine's own walk (automations/engine/walk.py), so a test
goes where a run would: filters, paths, every item of a loop, fallbacks and "go on" after a
failure. The walk decides; this module only performs the operation steps it asks for (as a
dry run or live, testrun.run_operation) and keeps the rows in memory: a test writes no Run.

A delay is not waited for: the report says until when a run would wait, and the test goes on.
"""

from __future__ import annotations

from django.utils import timezone

from automations.builder.testrun import StepReport, TrialReport, run_operation
from automations.engine import flow, walk
from automations.engine.tree import kind_of, sort_key, step_at
from connectors import registry

# Operation steps one test performs at most: a loop of 100 items with a few steps each fits;
# a bigger test is cut short with a message instead of holding the page.
MAX_TRIAL_OPERATIONS = 500
KIND_LABELS = {"filter": "Filter", "loop": "For each", "paths": "Paths", "delay": "Delay"}
TEST_EVENT_ID = "evt_TEST"


def _label(step: dict) -> tuple[str, str]:
    kind = kind_of(step)
    if kind != walk.OPERATION:
        return KIND_LABELS[kind], kind
    operation = registry.get(step["operation"])
    return operation.label, operation.kind


def heading(where: str) -> str:
    """The heading of the group a nested step opens, as the run page words it."""
    part = where.rsplit(".", 2)[1]
    if part.startswith("i"):
        return f"Item {int(part[1:]) + 1}"
    if part.startswith("b"):
        return f"Path {int(part[1:]) + 1}"
    return "Otherwise" if part == "o" else "Because it failed, instead"


class _Trial:
    def __init__(
        self, document: dict, connection, trigger_data: dict, live: bool, report: TrialReport
    ):
        self.steps, self.connection, self.live, self.report = (
            document["steps"],
            connection,
            live,
            report,
        )
        self.now = timezone.now()
        trigger = registry.get_trigger(document["trigger"])
        self.base = {
            "trigger": trigger_data,
            "now": self.now,
            "event": {"id": TEST_EVENT_ID, "type": trigger.event, "time": self.now.isoformat()},
        }
        self.rows: dict[str, walk.Row] = {}
        self.reports: dict[str, StepReport] = {}
        self.groups: set[str] = set()

    def item(self, where: str) -> StepReport:
        """The report of the step at `where`, made the first time the walk reaches it."""
        if where not in self.reports:
            step = step_at(self.steps, where)
            label, kind = _label(step)
            group = where.rsplit(".", 1)[0] if "." in where else ""
            first = bool(group) and group not in self.groups
            self.groups.add(group)
            self.reports[where] = StepReport(
                int(where.split(".")[0]),
                step["key"],
                label,
                kind,
                "",
                where=where,
                heading=heading(where) if first else "",
            )
            self.report.steps.append(self.reports[where])
        return self.reports[where]

    def keep(self, plan: walk.Plan) -> None:
        """The walk's decisions (filters, paths, loops, delays) as rows and reports."""
        for values in plan.new_rows:
            where = values["address"] or str(values["position"])
            self.rows[where] = walk.Row(
                where,
                values["status"],
                values["key"],
                values.get("output"),
                values.get("items"),
                values.get("error", ""),
                operation=values["operation"],
            )
            if values["kind"] != walk.OPERATION:
                self.decided(where, values)
        for where, values in plan.updates.items():
            if where in self.rows and "status" in values:
                self.rows[where].status = values["status"]

    def decided(self, where: str, values: dict) -> None:
        item = self.item(where)
        status, output = values["status"], values.get("output") or {}
        item.output = output or None
        if values["kind"] == "filter":
            item.status = {"succeeded": "passed", "filtered": "filtered"}.get(status, "failed")
            item.message = values.get("error") or "The conditions pass."
        elif status == walk.FAILED:
            item.status, item.message = "failed", values.get("error", "")
        elif values["kind"] == "paths":
            item.status = "decided"
            ran = ", ".join(output.get("ran") or []) or "none"
            item.message = f"Paths that run: {ran}."
        elif values["kind"] == "loop":
            item.status = "decided"
            item.message = f"Goes over {output.get('count', 0)} item(s)." + (
                f" {output['note']}" if output.get("note") else ""
            )
        elif status == walk.WAITING:
            item.status = "would_wait"
            until = values["next_attempt_at"]
            item.message = f"A run would wait until {flow.shown(until)}; the test goes on at once."
        else:
            item.status = "passed"
            item.message = "No wait: that time has passed, so a run goes on at once."

    def perform(self, where: str) -> None:
        context = walk.plan(self.steps, self.rows, self.base, self.now, target=where).context
        step = step_at(self.steps, where)
        item = self.item(where)
        went_on = run_operation(item, step, context, self.connection, self.live)
        status = (
            walk.SUCCEEDED
            if went_on
            else (walk.HALTED if item.status == "not_found" else walk.FAILED)
        )
        self.rows[where] = walk.Row(
            where,
            status,
            step["key"],
            item.output,
            item.results,
            item.message if not went_on else "",
            operation=step["operation"],
        )


def _not_reached(trial: _Trial) -> None:
    for index, step in enumerate(trial.steps):
        if str(index) not in trial.reports:
            label, kind = _label(step)
            trial.report.steps.append(StepReport(index, step["key"], label, kind, "not_reached"))


def run_document(
    document: dict, connection, trigger_data: dict, *, live: bool, report: TrialReport
) -> TrialReport:
    """Go through a valid (normalized) document as a run would, recording each step."""
    trial = _Trial(document, connection, trigger_data, live, report)
    first = walk.plan(trial.steps, {}, trial.base, trial.now, recipe_filter=document["filter"])
    if (
        first.state == walk.DONE
        and first.where is None
        and not first.new_rows
        and first.status in (walk.FILTERED, walk.FAILED)
    ):
        report.filter_message = first.reason
        report.outcome = "The recipe's own filter would stop this run before any step."
        _not_reached(trial)
        return report
    for _ in range(MAX_TRIAL_OPERATIONS):
        plan = walk.plan(trial.steps, trial.rows, trial.base, trial.now)
        trial.keep(plan)
        if plan.state == walk.DONE:
            report.outcome = _outcome(plan, live)
            break
        if plan.state == walk.WAIT:  # a delay: said in its report, not waited for
            trial.rows[plan.where].status = walk.SUCCEEDED
            continue
        trial.perform(plan.where)
    else:
        report.outcome = (
            f"The test stopped after {MAX_TRIAL_OPERATIONS} steps; a run would go on with the rest."
        )
    _not_reached(trial)
    report.steps.sort(key=lambda item: sort_key(item.place))
    return report


def _outcome(plan: walk.Plan, live: bool) -> str:
    if plan.status == walk.SUCCEEDED:
        return (
            "Every step went through."
            if live
            else ("Every step would go through. Nothing was sent to Cartly.")
        )
    if plan.status == walk.FILTERED:
        return f"A filter would stop the run here: {plan.reason}"
    if plan.status == walk.HALTED:
        return f"The run would stop here (halted): {plan.reason}"
    return f"The run would fail: {plan.reason}"
