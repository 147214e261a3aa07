"""The recipe document a run executes: the snapshot of the version the run recorded."""

from functools import lru_cache

from automations.models import RecipeVersion

# Versions never change once written, so a process may keep them; bounded to cap memory.
CACHED_VERSIONS = 512


@lru_cache(maxsize=CACHED_VERSIONS)
def version_document(recipe_id: int, version: int) -> dict:
    return RecipeVersion.objects.values_list("document", flat=True).get(
        recipe_id=recipe_id, version=version
    )
