"""Run history and run detail pages, with replay and retry buttons.

Queries live in automations.history, replay/retry in automations.engine.replay; these views
read the request, call them and turn outcomes into pages and messages.
"""

import json

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from automations import history, run_page, run_tree
from automations.documents import save_version
from automations.engine.replay import CannotRetry, replay_run
from automations.models import Recipe, RecipeVersion, Run, StepRun
from connectors import registry

RUNS_PER_PAGE = 25


class RunFilterForm(forms.Form):
    recipe = forms.ModelChoiceField(
        queryset=Recipe.objects.none(), required=False, empty_label="All recipes"
    )
    status = forms.ChoiceField(choices=[("", "Any status"), *Run.Status.choices], required=False)
    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    q = forms.CharField(
        required=False,
        max_length=200,
        label="Order number or email",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "1001 or ana@example.com"}),
    )

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["recipe"].queryset = Recipe.objects.filter(owner=user).only("id", "name")
        for name, f in self.fields.items():
            f.widget.attrs.setdefault("id", f"filter-{name}")

    def filters(self) -> history.RunFilters:
        if not self.is_bound:
            return history.RunFilters()
        # A field that does not validate is left out (and its error shown); the others apply.
        self.is_valid()
        data = self.cleaned_data
        recipe = data.get("recipe")
        return history.RunFilters(
            recipe_id=recipe.pk if recipe else None,
            status=data.get("status") or "",
            since=data.get("since"),
            until=data.get("until"),
            q=data.get("q") or "",
        )


@login_required
def run_list(request):
    form = RunFilterForm(request.user, request.GET or None)
    runs = history.filter_runs(request.user, form.filters())
    page = Paginator(runs, RUNS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [
        (run, {**history.run_summary(run), "times": history.run_times(run)})
        for run in page.object_list
    ]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "automations/runs/run_list.html",
        {
            "form": form,
            "page": page,
            "rows": rows,
            "query": query.urlencode(),
            "filtered": any(v for k, v in request.GET.items() if k != "page"),
        },
    )


def owned_run(request, pk: int) -> Run:
    return get_object_or_404(
        Run.objects.select_related("recipe", "event", "replay_of"),
        pk=pk,
        recipe__owner=request.user,
    )


KIND_LABELS = {"filter": "Filter", "loop": "For each", "paths": "Paths", "delay": "Delay"}


def operation_label(key: str, kind: str = "operation") -> str:
    if not key:
        return KIND_LABELS.get(kind, "Filter")
    try:
        return registry.get(key).label
    except KeyError:
        return key


def pretty(value) -> str:
    return "" if value is None else json.dumps(value, indent=2, sort_keys=True, default=str)


def attempt_view(attempt) -> dict:
    """An earlier attempt as the page lists it: its input, and Cartly's answer or the error."""
    return {
        "attempt": attempt,
        "input": pretty(attempt.rendered_input),
        "answer": pretty(attempt.output),
        "when": attempt.started_at or attempt.finished_at,
    }


def step_view(step: StepRun, entry: run_tree.Entry | None = None) -> dict:
    fields = step.error_fields if isinstance(step.error_fields, dict) else {}
    return {
        "step": step,
        "label": operation_label(step.operation, step.kind),
        "input": pretty(step.rendered_input),
        "output": pretty(step.output),
        "field_errors": [
            (name, msgs if isinstance(msgs, list) else [msgs]) for name, msgs in fields.items()
        ],
        "dom_id": step.where.replace(".", "-"),
        "number": entry.number if entry else str(step.position + 1),
        "depth": entry.depth if entry else 0,
        "heading": entry.heading if entry else "",
        "attempts": [attempt_view(a) for a in (entry.attempts if entry else [])],
        "paths": step.output.get("branches") if step.kind == "paths" and step.output else None,
        "otherwise": True
        if step.kind == "paths" and (step.output or {}).get("otherwise")
        else None,
        "loop": step.output if step.kind == "loop" and isinstance(step.output, dict) else None,
        "until": _until(step),
    }


def _until(step: StepRun):
    """When a delay step's wait ended (or ends), from its output."""
    if step.kind != StepRun.Kind.DELAY or not isinstance(step.output, dict):
        return None
    return parse_datetime(str(step.output.get("until") or ""))


@login_required
def run_detail(request, pk: int):
    run = owned_run(request, pk)
    entries = run_tree.entries(run.pk)
    offer = run_page.offer(run, [entry.row for entry in entries])
    return render(
        request,
        "automations/runs/run_detail.html",
        {
            "run": run,
            "event": run.event,
            "payload": pretty(run.event.payload),
            "steps": [step_view(entry.row, entry) for entry in entries],
            "times": history.run_times(run),
            "offer": offer,
            "replays": list(run.replays.order_by("-created_at", "-id")),
        },
    )


@login_required
@require_POST
def run_replay(request, pk: int):
    run = owned_run(request, pk)
    repeats = run_page.replay_repeats(run_page.ordered_rows(run))
    if repeats and request.POST.get("confirm") != "yes":
        messages.error(
            request,
            "Nothing was replayed: tick the box to confirm that these "
            f"actions happen again: {'; '.join(repeats)}.",
        )
        return redirect("runs:detail", pk=run.pk)
    use_current = request.POST.get("version") == run_page.CURRENT
    if use_current:
        save_version(run.recipe)  # a recipe edited row by row may lack its snapshot
    try:
        new_run = replay_run(run, use_current_version=use_current)
    except RecipeVersion.DoesNotExist:
        messages.error(
            request,
            "That version of the recipe is no longer stored, so it cannot "
            "be replayed. Try the current version.",
        )
        return redirect("runs:detail", pk=run.pk)
    messages.success(
        request,
        f"Replaying run {run.pk} with version {new_run.recipe_version} "
        f"of “{run.recipe.name}”: this is the new run.",
    )
    return redirect("runs:detail", pk=new_run.pk)


@login_required
@require_POST
def run_retry(request, pk: int):
    run = owned_run(request, pk)
    version = request.POST.get("version", run_page.ORIGINAL)
    try:
        step = run_page.retry(run, version if version in run_page.VERSIONS else run_page.ORIGINAL)
    except CannotRetry as exc:
        messages.error(request, str(exc))
    else:
        run.refresh_from_db(fields=["recipe_version"])
        messages.success(
            request,
            f"Retrying from {run_page.describe(step)} with version "
            f"{run.recipe_version} of the recipe.",
        )
    return redirect("runs:detail", pk=run.pk)


@login_required
@require_POST
def run_retry_now(request, pk: int):
    run = owned_run(request, pk)
    try:
        step = run_page.retry_now(run)
    except run_page.NotNow as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Trying {run_page.describe(step)} again now.")
    return redirect("runs:detail", pk=run.pk)


@login_required
@require_POST
def run_cancel(request, pk: int):
    run = owned_run(request, pk)
    try:
        run_page.cancel(run)
    except run_page.NotNow as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Canceled run {run.pk}: nothing more of it runs.")
    return redirect("runs:detail", pk=run.pk)
