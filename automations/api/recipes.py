"""Recipes: list, read (with the document), create, update (a new version), on/off, delete.

Deleting moves a recipe to the trash, as the pages do (automations/trash.py): its runs stay
readable; to the API it is gone (404) until it is restored in the UI.
"""

import json
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from ninja import Router, Status
from ninja.errors import HttpError

from automations.api.schemas import (
    ErrorOut,
    ProblemsOut,
    RecipeCreateIn,
    RecipeDetailOut,
    RecipeOut,
)
from automations.documents import apply_document, create_recipe
from automations.models import Recipe
from connectors.models import Connection

router = Router(tags=["recipes"])

# The PUT body is a whole recipe document, read as-is so any shape gets listed problems.
DOCUMENT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object", "description": "A recipe document (docs/recipes.md)"}
            }
        },
    }
}


def recipe_of(request: HttpRequest, recipe_id: int) -> Recipe:
    """The caller's recipe; another user's is a 404, exactly like one that does not exist."""
    mine = Recipe.objects.filter(owner=request.auth, deleted_at__isnull=True)
    recipe = mine.filter(pk=recipe_id).first()
    if recipe is None:
        raise HttpError(404, f"No recipe {recipe_id}")
    return recipe


def json_body(request: HttpRequest) -> Any:
    try:
        body = request.body
    except RequestDataTooBig:
        raise HttpError(413, "The body is too large for a recipe document") from None
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HttpError(400, f"The body is not valid JSON: {exc}") from None
    except RecursionError:
        raise HttpError(400, "The body is nested too deeply to be a recipe document") from None


@router.get("/recipes", response=list[RecipeOut])
def list_recipes(request: HttpRequest):
    return Recipe.objects.filter(owner=request.auth, deleted_at__isnull=True)


@router.get("/recipes/{recipe_id}", response={200: RecipeDetailOut, 404: ErrorOut})
def get_recipe(request: HttpRequest, recipe_id: int):
    return recipe_of(request, recipe_id)


@router.post("/recipes", response={201: RecipeDetailOut, 404: ErrorOut, 422: ProblemsOut})
def create(request: HttpRequest, payload: RecipeCreateIn):
    """A new recipe, disabled, from a document and one of your connections."""
    connection = Connection.objects.filter(owner=request.auth, pk=payload.connection).first()
    if connection is None:
        raise HttpError(404, f"No connection {payload.connection}")
    return Status(201, create_recipe(request.auth, connection, payload.document))


@router.put(
    "/recipes/{recipe_id}",
    response={200: RecipeDetailOut, 400: ErrorOut, 404: ErrorOut, 413: ErrorOut, 422: ProblemsOut},
    openapi_extra=DOCUMENT_BODY,
)
def update(request: HttpRequest, recipe_id: int):
    """Replace the recipe with the document in the body: a new version (runs keep theirs)."""
    document = json_body(request)
    recipe = recipe_of(request, recipe_id)
    return apply_document(recipe, document)


@router.post("/recipes/{recipe_id}/enable", response={200: RecipeOut, 404: ErrorOut, 409: ErrorOut})
def enable(request: HttpRequest, recipe_id: int):
    """409 when it cannot be on (its shop is disconnected), with the reason."""
    from automations.subscriptions import CannotEnable, enable_recipe

    recipe = recipe_of(request, recipe_id)
    try:
        enable_recipe(recipe)
    except CannotEnable as exc:
        raise HttpError(409, str(exc)) from None
    recipe.refresh_from_db()
    return recipe


@router.post("/recipes/{recipe_id}/disable", response={200: RecipeOut, 404: ErrorOut})
def disable(request: HttpRequest, recipe_id: int):
    from automations.subscriptions import disable_recipe

    recipe = recipe_of(request, recipe_id)
    disable_recipe(recipe)
    recipe.refresh_from_db()
    return recipe


@router.delete("/recipes/{recipe_id}", response={204: None, 404: ErrorOut})
def delete(request: HttpRequest, recipe_id: int):
    """Turn the recipe off (its hook is released) and move it to the trash; runs are kept."""
    from automations.trash import move_to_trash

    move_to_trash(recipe_of(request, recipe_id))
    return Status(204, None)
