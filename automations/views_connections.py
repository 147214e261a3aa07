"""One connection's page: its health, scopes, recipes, REST Hook subscriptions and repairs.

The connect, reconnect and disconnect actions stay in connectors.views; this page links and
posts to them. Nothing here reads or renders a token.
"""

from django.apps import apps
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Model, QuerySet
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from automations import disconnects
from automations.models import Event, Recipe, RejectedDelivery, Subscription
from connectors.models import Connection

# Repairs shown on the page, newest first; older ones are in the admin.
REPAIRS_SHOWN = 20
# A repair column whose name holds one of these is never shown, whatever the model grows.
HIDDEN_FIELD_WORDS = ("token", "secret", "password", "raw")


def repair_model() -> type[Model] | None:
    """The subscription repairs model, once the polling and sweeps work has added it."""
    try:
        return apps.get_model("automations", "SubscriptionRepair")
    except LookupError:
        return None


def _cell(row: Model, name: str):
    """A field's value as a merchant reads it: a choice's label rather than its key."""
    display = getattr(row, f"get_{name}_display", None)
    return display() if display else getattr(row, name)


def repairs_of(connection: Connection) -> tuple[list[str], list[list]] | None:
    """(column labels, rows) of the connection's latest repairs; None without the model."""
    model = repair_model()
    if model is None:
        return None
    names = {f.name for f in model._meta.get_fields()}
    if "connection" in names:
        rows: QuerySet = model.objects.filter(connection=connection)
    elif "subscription" in names:
        rows = model.objects.filter(subscription__connection=connection)
    else:
        return None
    columns = [
        f
        for f in model._meta.concrete_fields
        if not f.is_relation
        and f.name != "id"
        and not any(word in f.name for word in HIDDEN_FIELD_WORDS)
    ]
    latest = rows.order_by("-pk")[:REPAIRS_SHOWN]
    values = [[_cell(row, f.name) for f in columns] for row in latest]
    return [str(f.verbose_name).capitalize() for f in columns], values


def delivery_problems(connection: Connection) -> dict:
    """Deliveries from Cartly that ran nothing: refused after a valid signature (kept in the
    admin for inspection), and those that arrived too late to run (stored as stale)."""
    refused = RejectedDelivery.objects.filter(connection=connection)
    return {
        "refused_count": refused.count(),
        "refused_latest": refused.order_by("-last_seen_at").first(),
        "stale_count": Event.objects.filter(
            connection=connection, status=Event.Status.STALE
        ).count(),
    }


@login_required
def connection_detail(request, pk: int):
    connection = get_object_or_404(Connection, pk=pk, owner=request.user)
    subscriptions = Subscription.objects.filter(connection=connection).order_by(
        "status", "event_type", "-id"
    )
    recipes = Recipe.objects.filter(connection=connection, deleted_at__isnull=True).order_by(
        "name", "id"
    )
    repairs = repairs_of(connection)
    return render(
        request,
        "automations/connection_detail.html",
        {
            "connection": connection,
            "subscriptions": [s for s in subscriptions if s.status != Subscription.Status.DELETED],
            "removed": [s for s in subscriptions if s.status == Subscription.Status.DELETED],
            "recipes": recipes,
            "offer_back": disconnects.recipes_to_offer_back(connection),
            "repairs_available": repairs is not None,
            "repair_columns": repairs[0] if repairs else [],
            "repairs": repairs[1] if repairs else [],
            **delivery_problems(connection),
        },
    )


def _owned(request, pk: int) -> Connection:
    return get_object_or_404(Connection, pk=pk, owner=request.user)


@login_required
def disconnect(request, pk: int):
    """GET: what a disconnect will switch off; POST: do it (connectors.connections.disconnect)."""
    connection = _owned(request, pk)
    if request.method != "POST":
        return render(
            request,
            "automations/connection_disconnect.html",
            {
                "connection": connection,
                "stopping": disconnects.recipes_a_disconnect_would_stop(connection),
            },
        )
    if connection.status == Connection.Status.DISCONNECTED:
        messages.info(request, f"{connection.shop_name} is already disconnected.")
        return redirect("connection_detail", pk=connection.pk)
    stopped, problems = disconnects.disconnect(connection)
    for problem in problems:
        messages.warning(request, problem)
    turned = (
        f" Switched off {len(stopped)} recipe{'s' * (len(stopped) != 1)}; reconnect "
        "the shop to get them back in one click."
        if stopped
        else ""
    )
    messages.success(request, f"Disconnected {connection.shop_name}. Its history is kept.{turned}")
    return redirect("connectors:list")


@login_required
@require_POST
def turn_recipes_back_on(request, pk: int):
    connection = _owned(request, pk)
    outcome = disconnects.turn_back_on(connection)
    if outcome.recipes:
        names = ", ".join(f"“{r.name}”" for r in outcome.recipes)
        messages.success(request, f"Turned back on: {names}.")
    for recipe, reason in outcome.refused:
        messages.error(request, f"“{recipe.name}” was not turned on. {reason}")
    return redirect("connection_detail", pk=connection.pk)


@login_required
@require_POST
def leave_recipes_off(request, pk: int):
    connection = _owned(request, pk)
    count = disconnects.leave_off(connection)
    messages.info(request, f"Left {count} recipe{'s' * (count != 1)} off.")
    return redirect("connection_detail", pk=connection.pk)
