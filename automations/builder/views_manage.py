"""Managing recipes as things: duplicate, export and import, versions, the trash.

Thin: the logic is in automations.transfer, automations.trash and builder.versions.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from automations import transfer, trash
from automations.builder import drafts, versions
from automations.documents import InvalidDocument, apply_document
from automations.models import Recipe

INVALID_STATUS = 422


def _own(request: HttpRequest, pk: int, *, trashed: bool = False) -> Recipe:
    recipes = Recipe.objects.select_related("connection").filter(
        owner=request.user, deleted_at__isnull=not trashed
    )
    return get_object_or_404(recipes, pk=pk)


def _download(data: dict, filename: str) -> HttpResponse:
    response = HttpResponse(transfer.as_file_text(data), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _refused(request: HttpRequest, what: str, problems: list) -> None:
    listed = "; ".join(str(p) for p in problems[:5])
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    messages.error(request, f"{what}: {listed}{more}")


@login_required
@require_POST
def duplicate(request: HttpRequest, pk: int) -> HttpResponse:
    recipe = _own(request, pk)
    try:
        copy = transfer.duplicate(recipe)
    except InvalidDocument as exc:
        _refused(request, "The recipe could not be copied", exc.problems)
        return redirect("builder:edit", pk=recipe.pk)
    messages.success(request, f"Made “{copy.name}”, a copy of “{recipe.name}”. It is off.")
    return redirect("builder:edit", pk=copy.pk)


@login_required
def export_one(request: HttpRequest, pk: int) -> HttpResponse:
    recipe = _own(request, pk)
    name = slugify(recipe.name) or f"recipe-{recipe.pk}"
    return _download(transfer.document_of(recipe), f"{name}.json")


@login_required
def export_all(request: HttpRequest) -> HttpResponse:
    recipes = trash.live(Recipe.objects.filter(owner=request.user)).order_by("name", "id")
    return _download(transfer.export_of(recipes), "recipes.json")


class ImportForm(forms.Form):
    file = forms.FileField(label="Recipe file (.json)")
    connection = forms.ModelChoiceField(queryset=None, label="Shop", empty_label=None)

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["connection"].queryset = drafts.active_connections(user)


@login_required
def import_recipes(request: HttpRequest) -> HttpResponse:
    form = ImportForm(request.user, request.POST or None, request.FILES or None)
    problems: list[str] = []
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            # Never more than the limit is read, whatever the upload's size.
            documents = transfer.parse_file(upload.read(transfer.MAX_UPLOAD_BYTES + 1))
            made = transfer.import_documents(
                request.user, form.cleaned_data["connection"], documents
            )
        except transfer.ImportRefused as exc:
            problems = exc.problems
        else:
            names = ", ".join(f"“{r.name}”" for r in made)
            messages.success(
                request,
                f"Imported {len(made)} recipe{'s' * (len(made) != 1)}: "
                f"{names}. They are off until you turn them on.",
            )
            return redirect("builder:list")
    status = INVALID_STATUS if request.method == "POST" else 200
    return render(
        request,
        "automations/builder/import.html",
        {"form": form, "problems": problems},
        status=status,
    )


def _chosen(request: HttpRequest, rows: list, name: str, default: int) -> int:
    numbers = {row.version for row in rows}
    try:
        value = int(request.GET.get(name, default))
    except ValueError:
        return default
    return value if value in numbers else default


@login_required
def version_history(request: HttpRequest, pk: int) -> HttpResponse:
    recipe = _own(request, pk)
    rows = versions.history(recipe)
    newest = rows[0].version if rows else recipe.version
    older = rows[1].version if len(rows) > 1 else newest
    old, new = _chosen(request, rows, "from", older), _chosen(request, rows, "to", newest)
    documents = {row.version: row.document for row in rows}
    lines = versions.diff(documents.get(old), documents.get(new)) if rows else []
    return render(
        request,
        "automations/builder/versions.html",
        {
            "recipe": recipe,
            "rows": rows,
            "old": old,
            "new": new,
            "lines": lines,
            "changes": sum(line.kind != "same" for line in lines),
        },
    )


@login_required
@require_POST
def restore_version(request: HttpRequest, pk: int, version: int) -> HttpResponse:
    recipe = _own(request, pk)
    document = versions.stored_document(recipe, version)
    if document is None:
        messages.error(request, f"Version {version} is not stored.")
        return redirect("builder:versions", pk=recipe.pk)
    try:
        saved = apply_document(recipe, document)
    except InvalidDocument as exc:
        _refused(request, f"Version {version} cannot be restored", exc.problems)
        return redirect("builder:versions", pk=recipe.pk)
    if saved.version == version:
        messages.info(request, f"Version {version} is already the current one.")
    else:
        messages.success(request, f"Restored version {version} as version {saved.version}.")
    return redirect("builder:edit", pk=recipe.pk)


@login_required
def trash_list(request: HttpRequest) -> HttpResponse:
    rows = [(r, trash.purge_date(r)) for r in trash.trashed_of(request.user)]
    return render(
        request,
        "automations/builder/trash.html",
        {"rows": rows, "days": settings.TRASH_RETENTION_DAYS},
    )


@login_required
@require_POST
def trash_restore(request: HttpRequest, pk: int) -> HttpResponse:
    recipe = trash.restore(_own(request, pk, trashed=True))
    messages.success(request, f"Restored “{recipe.name}”. It is off until you turn it on.")
    return redirect("builder:edit", pk=recipe.pk)


@login_required
@require_POST
def trash_delete(request: HttpRequest, pk: int) -> HttpResponse:
    recipe = _own(request, pk, trashed=True)
    trash.delete_now(recipe)
    messages.success(request, f"Deleted “{recipe.name}” and its runs for good.")
    return redirect("builder:trash")
