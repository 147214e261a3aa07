"""The dashboard at `/`: shops and their health, recipes on or off, runs per day, failures,
and runs waiting for Cartly."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from automations import history, run_page
from connectors.models import Connection
from notifications.confirmation import is_confirmed
from notifications.views import EmailForm

# Enough to see an outage at a glance; the run history lists every waiting run.
WAITING_SHOWN = 5


@login_required
def dashboard(request):
    user = request.user
    days = history.runs_per_day(user)
    connections = list(Connection.objects.filter(owner=user))
    circuits = run_page.open_circuits([c.shop_id for c in connections])
    return render(
        request,
        "automations/dashboard.html",
        {
            "connections": [(c, circuits.get(c.shop_id)) for c in connections],
            "recipes": history.recipes_of(user),
            "chart": history.build_chart(days),
            "days": days,
            "failures": history.recent_failures(user),
            "waiting": run_page.waiting_on_service(user, circuits, WAITING_SHOWN),
            "email_form": None if user.email else EmailForm(),
            "email_confirmed": is_confirmed(user),
        },
    )
