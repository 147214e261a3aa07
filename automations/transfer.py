"""Recipes in and out as JSON files: the same documents the API, `export_recipes` and
`import_recipes` exchange (docs/recipes.md), for the pages and the commands alike.

An export holds only recipe documents (no tokens, no shop details), so it can be shared.
An import is all or nothing: every document is checked first and every problem is listed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.db import transaction

from automations.documents import (
    EXPORT_FORMAT,
    create_recipe,
    document_for_version,
    validate_document,
)
from automations.models import Recipe
from connectors.models import Connection

# Far above any real export (a recipe is a few kilobytes); a larger upload is not ours.
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
# One upload makes at most this many recipes: more is a mistake, not a shop's workflow.
MAX_IMPORTED_RECIPES = 200
# A copy's name says what it is; the name field has room for the original's and this.
COPY_PREFIX = "Copy of "


class ImportRefused(Exception):
    """Nothing was imported; `problems` says why, each with where in the file."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def document_of(recipe: Recipe) -> dict[str, Any]:
    return document_for_version(recipe, recipe.version)


def export_of(recipes: Iterable[Recipe]) -> dict[str, Any]:
    """The export wrapper around the current document of each recipe."""
    return {"format": EXPORT_FORMAT, "recipes": [document_of(r) for r in recipes]}


def as_file_text(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def documents_in(data: Any) -> list[Any]:
    """The documents of a parsed file: one recipe document, or an export's list."""
    if isinstance(data, dict) and data.get("format") == EXPORT_FORMAT:
        if not isinstance(data.get("recipes"), list):
            raise ImportRefused(['"recipes" must be a list of recipe documents'])
        return data["recipes"]
    return [data]


def parse_file(raw: bytes, *, upload: bool = True) -> list[Any]:
    """The documents in a file's bytes. Raises ImportRefused.

    An upload is bounded (size, number of recipes); the operator's own file (the command) is not.
    """
    if upload and len(raw) > MAX_UPLOAD_BYTES:
        raise ImportRefused([f"The file is larger than {MAX_UPLOAD_BYTES // 1024} KB."])
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ImportRefused(["The file is not UTF-8 text: export it again."]) from None
    except json.JSONDecodeError as exc:
        raise ImportRefused([f"The file is not valid JSON: {exc}"]) from None
    except RecursionError:
        raise ImportRefused(["The file is nested too deeply to be a recipe."]) from None
    documents = documents_in(data)
    if not documents:
        raise ImportRefused(["The file holds no recipe."])
    if upload and len(documents) > MAX_IMPORTED_RECIPES:
        raise ImportRefused([f"At most {MAX_IMPORTED_RECIPES} recipes per file."])
    return documents


def problems_of(documents: list[Any]) -> list[str]:
    """Every problem of every document, each prefixed by where it is."""
    lines = []
    for i, doc in enumerate(documents):
        where = f"recipes[{i}]" if len(documents) > 1 else "document"
        lines += [f"{where}: {problem}" for problem in validate_document(doc)]
    return lines


def import_documents(owner, connection: Connection, documents: list[Any]) -> list[Recipe]:
    """New recipes, off, on `connection`; all or nothing. Raises ImportRefused."""
    problems = problems_of(documents)
    if problems:
        raise ImportRefused(problems)
    with transaction.atomic():
        return [create_recipe(owner, connection, doc) for doc in documents]


def duplicate(recipe: Recipe) -> Recipe:
    """A copy of the recipe's current version, off, on the same shop, named "Copy of …"."""
    doc = dict(document_of(recipe))
    limit = Recipe._meta.get_field("name").max_length
    doc["name"] = (COPY_PREFIX + recipe.name)[:limit]
    return create_recipe(recipe.owner, recipe.connection, doc)
