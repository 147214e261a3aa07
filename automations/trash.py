"""Deleting a recipe moves it to the trash: off, out of the lists, its runs and their pages
kept, restorable, and purged for good after settings.TRASH_RETENTION_DAYS (beat's purge_trash).

Links in failure emails point at run pages, so a run must outlive its recipe's deletion by
the retention time at least.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from automations.models import Recipe
from automations.subscriptions import disable_recipe

# Recipes purged per beat tick: each takes its runs and step runs with it, so a big trash is
# emptied over a few ticks rather than in one long transaction.
PURGE_BATCH = 100


def live(recipes: QuerySet) -> QuerySet:
    """Only recipes not in the trash."""
    return recipes.filter(deleted_at__isnull=True)


def trashed_of(owner) -> QuerySet:
    return (
        Recipe.objects.filter(owner=owner, deleted_at__isnull=False)
        .select_related("connection")
        .order_by("-deleted_at", "-id")
    )


def purge_date(recipe: Recipe):
    return recipe.deleted_at + timedelta(days=settings.TRASH_RETENTION_DAYS)


def move_to_trash(recipe: Recipe) -> Recipe:
    """Turn the recipe off (releasing its REST Hook) and put it in the trash."""
    disable_recipe(recipe)
    now = timezone.now()
    Recipe.objects.filter(pk=recipe.pk).update(
        deleted_at=now, off_by_disconnect=False, updated_at=now
    )
    recipe.deleted_at, recipe.enabled = now, False
    return recipe


def restore(recipe: Recipe) -> Recipe:
    """Back from the trash, still off: the merchant turns it on when ready."""
    Recipe.objects.filter(pk=recipe.pk).update(deleted_at=None, updated_at=timezone.now())
    recipe.deleted_at = None
    return recipe


def delete_now(recipe: Recipe) -> None:
    """Gone for good with its runs (the merchant asked, from the trash)."""
    disable_recipe(recipe)
    with transaction.atomic():
        Recipe.objects.filter(pk=recipe.pk, deleted_at__isnull=False).delete()


def purge_expired(now=None, limit: int = PURGE_BATCH) -> int:
    """Delete recipes in the trash for longer than the retention; how many went."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.TRASH_RETENTION_DAYS)
    ids = list(
        Recipe.objects.filter(deleted_at__lt=cutoff, enabled=False)
        .order_by("deleted_at")
        .values_list("id", flat=True)[:limit]
    )
    if not ids:
        return 0
    with transaction.atomic():
        Recipe.objects.filter(pk__in=ids, deleted_at__lt=cutoff).delete()
    return len(ids)
