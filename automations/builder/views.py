"""The builder's pages and JSON endpoints; thin, the logic lives in the modules beside it."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from automations import subscriptions, trash
from automations.builder import catalogue, drafts, listing, preview, steptest, testrun
from automations.documents import InvalidDocument, recipe_to_document, validate_document
from automations.models import Recipe

INVALID_STATUS = 422  # the page comes back with the problems beside the fields


def _own(request: HttpRequest, pk: int) -> Recipe:
    # Another user's recipe is a 404, never a 403: its existence is not theirs to know.
    return get_object_or_404(Recipe.objects.select_related("connection"), pk=pk, owner=request.user)


@login_required
def recipe_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "automations/builder/list.html",
        {
            "rows": listing.recipe_rows(request.user),
            "in_trash": trash.trashed_of(request.user).count(),
        },
    )


def _builder_page(request, recipe, doc, problems, connection_id, status=200) -> HttpResponse:
    data = {
        "document": doc,
        "problems": [p.as_dict() for p in problems],
        "catalogue": catalogue.catalogue(),
        "preview": preview.preview_document(doc),
        "urls": {
            "preview": reverse("builder:preview"),
            "validate": reverse("builder:validate"),
            "test_step": reverse("builder:test_step"),
        },
        "recipe": recipe.pk if recipe else None,
        "time_zone": timezone.get_current_timezone_name(),  # date pickers work in it
    }
    context = {
        "recipe": recipe,
        "doc": doc,
        "document_json": json.dumps(doc),
        "builder_data": data,
        "problems": problems,
        "summary": drafts.summary(doc),
        "connections": drafts.active_connections(request.user),
        "connection_id": connection_id,
        "triggers": data["catalogue"]["triggers"],
        "modes": Recipe.Mode.choices,
        "switch": _switch(recipe),
        "trigger_sample_json": json.dumps(preview.trigger_sample(doc), indent=2),
    }
    return render(request, "automations/builder/edit.html", context, status=status)


def _switch(recipe: Recipe | None) -> listing.SwitchState | None:
    if recipe is None:
        return None
    return listing.switch_state(recipe, listing.subscription_for(recipe))


def _builder(request: HttpRequest, recipe: Recipe | None) -> HttpResponse:
    if request.method != "POST":
        doc = recipe_to_document(recipe) if recipe else drafts.blank_document()
        first = drafts.active_connections(request.user).first()
        connection_id = recipe.connection_id if recipe else (first.pk if first else None)
        return _builder_page(request, recipe, doc, [], connection_id)
    submission = drafts.read_submission(request.POST, request.user, recipe)
    try:
        saved = drafts.save(request.user, recipe, submission)
    except InvalidDocument as exc:
        connection_id = submission.connection.pk if submission.connection else None
        return _builder_page(
            request, recipe, submission.document, exc.problems, connection_id, status=INVALID_STATUS
        )
    messages.success(request, f"Saved “{saved.name}” (version {saved.version}).")
    return redirect("builder:edit", pk=saved.pk)


@login_required
def recipe_new(request: HttpRequest) -> HttpResponse:
    return _builder(request, None)


@login_required
def recipe_edit(request: HttpRequest, pk: int) -> HttpResponse:
    recipe = _own(request, pk)
    if recipe.in_trash:
        messages.info(request, f"“{recipe.name}” is in the trash: restore it to edit it.")
        return redirect("builder:trash")
    return _builder(request, recipe)


def _posted_document(request: HttpRequest) -> object:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return None
    return body.get("document") if isinstance(body, dict) else None


@login_required
@require_POST
def preview_view(request: HttpRequest) -> JsonResponse:
    """`{"fields": {path: {"value"|"error"}}, "filters": {...}, "sources", "pickers"}`."""
    return JsonResponse(preview.preview_document(_posted_document(request)))


@login_required
@require_POST
def validate_view(request: HttpRequest) -> JsonResponse:
    """`{"problems": [{"path", "message"}]}`: empty when the draft can be saved."""
    problems = validate_document(_posted_document(request))
    return JsonResponse({"problems": [p.as_dict() for p in problems]})


def _test_connection(request: HttpRequest, body: dict):
    """The shop a step test talks to: the recipe's, or (a new recipe) the chosen one; only the
    user's own, active shops."""
    shops = drafts.active_connections(request.user)
    recipe_id = body.get("recipe")
    if recipe_id is not None:
        recipe = Recipe.objects.filter(pk=drafts.int_or_none(recipe_id), owner=request.user).first()
        return shops.filter(pk=recipe.connection_id).first() if recipe else None
    return shops.filter(pk=drafts.int_or_none(body.get("connection"))).first()


@login_required
@require_POST
def step_test_view(request: HttpRequest) -> JsonResponse:
    """`{"document", "path", "source": "sample"|"latest", "send": bool, "recipe"|"connection"}`
    → the step's rendered input and the answer as JSON, or `{"error"}` with a 400."""
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("path"), str):
        return JsonResponse(
            {"error": "Send the draft and the path of the step to test."}, status=400
        )
    try:
        trial = steptest.try_step(
            body.get("document"),
            body["path"],
            _test_connection(request, body),
            source=str(body.get("source") or testrun.SAMPLE),
            send=body.get("send") is True,
        )
    except steptest.CannotTest as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse(trial.as_dict(), json_dumps_params={"default": str})


@login_required
def recipe_test(request: HttpRequest, pk: int) -> HttpResponse:
    recipe = _own(request, pk)
    report = None
    source = request.POST.get("source", testrun.SAMPLE)
    live = request.POST.get("live") == "on"
    if request.method == "POST":
        source = source if source in testrun.SOURCES else testrun.SAMPLE
        report = testrun.try_recipe(recipe, source=source, live=live)
    context = {
        "recipe": recipe,
        "report": report,
        "source": source,
        "live": live,
        "sources": testrun.SOURCES.items(),
    }
    return render(request, "automations/builder/test.html", context)


def _back(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return default


@login_required
@require_POST
def recipe_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    recipe = _own(request, pk)
    back = _back(request, reverse("builder:list"))
    if recipe.enabled:
        subscriptions.disable_recipe(recipe)
    else:
        try:
            subscriptions.enable_recipe(recipe)
        except subscriptions.CannotEnable as exc:
            messages.error(request, f"“{recipe.name}” was not turned on. {exc}")
            return redirect(back)
    recipe.refresh_from_db()
    messages.info(request, listing.toggle_message(recipe, _switch(recipe)))
    return redirect(back)


@login_required
def recipe_delete(request: HttpRequest, pk: int) -> HttpResponse:
    recipe = _own(request, pk)
    if recipe.in_trash:
        return redirect("builder:trash")
    if request.method == "POST":
        trash.move_to_trash(recipe)  # off first: its REST Hook is released
        days = settings.TRASH_RETENTION_DAYS
        messages.success(
            request,
            f"Moved “{recipe.name}” to the trash. Its runs are kept; "
            f"you can restore it from the trash within {days} days.",
        )
        return redirect("builder:list")
    return render(
        request,
        "automations/builder/delete.html",
        {"recipe": recipe, "days": settings.TRASH_RETENTION_DAYS},
    )
