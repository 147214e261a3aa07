"""The dashboard at `/`: shops and their health, recipes on or off, runs per day, failures."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from automations import history
from connectors.models import Connection
from notifications.confirmation import is_confirmed
from notifications.views import EmailForm


@login_required
def dashboard(request):
    user = request.user
    days = history.runs_per_day(user)
    return render(request, "automations/dashboard.html", {
        "connections": Connection.objects.filter(owner=user),
        "recipes": history.recipes_of(user),
        "chart": history.build_chart(days),
        "days": days,
        "failures": history.recent_failures(user),
        "email_form": None if user.email else EmailForm(),
        "email_confirmed": is_confirmed(user),
    })
