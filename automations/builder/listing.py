"""The recipes list: each recipe with the real state of its switch at Cartly and its last run."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Max, OuterRef, Subquery

from automations.models import Recipe, Run, Subscription
from connectors import registry


@dataclass(frozen=True)
class SwitchState:
    """What the on/off switch says: `css` is ok, bad, or waiting; `text` is for people."""

    on: bool
    text: str
    css: str


def switch_state(recipe: Recipe, subscription: Subscription | None) -> SwitchState:
    """The recipe's state as Cartly sees it: a recipe that is on but whose REST Hook is not
    registered does not run, and the merchant must see why."""
    if not recipe.enabled:  # the switch itself says "Off"; only a reason is worth a badge
        return SwitchState(False, recipe.paused_reason, "off")
    if recipe.paused_reason:
        return SwitchState(True, recipe.paused_reason, "bad")
    if recipe.mode == Recipe.Mode.POLLING:
        return SwitchState(True, "Active (polling)", "ok")
    status = subscription.status if subscription else Subscription.Status.PENDING
    if status == Subscription.Status.ACTIVE:
        return SwitchState(True, "Active", "ok")
    if status == Subscription.Status.FAILED:
        reason = subscription.status_reason or "no reason given"
        return SwitchState(True, f"Could not register: {reason}", "bad")
    return SwitchState(True, Subscription.Status.PENDING.label, "waiting")  # "Registering"


def toggle_message(recipe: Recipe, state: SwitchState) -> str:
    """What a click on the switch did, said once ("is off", never "is off: Off")."""
    name = f"“{recipe.name}”"
    if not state.on:
        return f"{name} is off." + (f" {state.text}" if state.text else "")
    if state.css == "ok":
        return f"{name} is on" + (
            " and checks the shop by polling."
            if recipe.mode == Recipe.Mode.POLLING
            else " and runs instantly."
        )
    if state.css == "waiting":
        return f"{name} is on; Cartly is still registering its notification."
    return f"{name} is on but not running yet: {state.text}"


def live_subscriptions(connection_ids) -> dict[tuple[int, str], Subscription]:
    rows = Subscription.objects.filter(connection_id__in=connection_ids).exclude(
        status=Subscription.Status.DELETED
    )
    return {(s.connection_id, s.event_type): s for s in rows}


def subscription_for(recipe: Recipe) -> Subscription | None:
    return live_subscriptions([recipe.connection_id]).get((recipe.connection_id, recipe.event_type))


def trigger_label(key: str) -> str:
    try:
        return registry.get_trigger(key).label
    except registry.UnknownOperation:
        return key


@dataclass(frozen=True)
class RecipeRow:
    recipe: Recipe
    trigger_label: str
    switch: SwitchState

    @property
    def last_run_label(self) -> str:
        status = getattr(self.recipe, "last_run_status", None)
        return Run.Status(status).label if status else ""


def recipe_rows(owner) -> list[RecipeRow]:
    """The owner's recipes in three queries, whatever their number."""
    last_status = Run.objects.filter(recipe=OuterRef("pk")).order_by("-created_at", "-id")
    recipes = list(
        Recipe.objects.filter(owner=owner, deleted_at__isnull=True)
        .select_related("connection")
        .annotate(
            last_run_at=Max("runs__created_at"),
            last_run_status=Subquery(last_status.values("status")[:1]),
        )
    )
    subscriptions = live_subscriptions({r.connection_id for r in recipes})
    return [
        RecipeRow(
            r,
            trigger_label(r.trigger),
            switch_state(r, subscriptions.get((r.connection_id, r.event_type))),
        )
        for r in recipes
    ]
