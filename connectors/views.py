"""Connection pages: list, connect (OAuth start and callback). Logic lives in
connectors.connections and connectors.cartly.oauth; these views only translate outcomes
into pages and messages. Disconnecting, which must show the recipes it stops, is a page of
automations (views_connections.disconnect)."""

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse

from connectors import connections
from connectors.cartly import oauth
from connectors.errors import ConnectorError
from connectors.models import Connection

log = logging.getLogger(__name__)
SESSION_KEY = "cartly_oauth"
DENIED_MESSAGE = "You declined the connection at Cartly, so nothing was connected."


def redirect_uri() -> str:
    return settings.PUBLIC_BASE_URL + reverse("connectors:callback")


@login_required
def connection_list(request):
    rows = Connection.objects.filter(owner=request.user)
    return render(request, "connectors/connection_list.html", {"connections": rows})


@login_required
def connect(request):
    if not (settings.CARTLY_CLIENT_ID and settings.CARTLY_CLIENT_SECRET):
        messages.error(
            request,
            "This engine has no Cartly app credentials yet (CARTLY_CLIENT_ID and "
            "CARTLY_CLIENT_SECRET). `make run` sets them from the sandbox.",
        )
        return redirect("connectors:list")
    start = oauth.start_authorization(redirect_uri())
    request.session[SESSION_KEY] = {"state": start.state, "verifier": start.code_verifier}
    return redirect(start.url)


def _callback_problem(request, pending: dict | None) -> str | None:
    """Why this callback cannot be trusted or used, in the merchant's words; None if fine."""
    if request.GET.get("error") == "access_denied":
        return DENIED_MESSAGE
    if request.GET.get("error"):
        detail = request.GET.get("error_description") or request.GET["error"]
        return f"Cartly could not connect the shop: {detail[:200]}."
    if not pending:
        return "That connection attempt has expired. Please click Connect again."
    if request.GET.get("state") != pending["state"]:
        return "That sign-in answer did not match the one we started, so we ignored it."
    if not request.GET.get("code"):
        return "Cartly's answer had no authorization code. Please try again."
    return None


@login_required
def callback(request):
    pending = request.session.pop(SESSION_KEY, None)
    problem = _callback_problem(request, pending)
    if problem:
        messages.error(request, problem)
        return redirect("connectors:list")
    # A shop connected again lands on its own page, which offers its recipes back.
    cut_off = set(
        Connection.objects.filter(owner=request.user)
        .exclude(status=Connection.Status.ACTIVE)
        .values_list("pk", flat=True)
    )
    try:
        token = oauth.exchange_code(request.GET["code"], redirect_uri(), pending["verifier"])
        connection = connections.connect(request.user, token)
    except ConnectorError as exc:
        log.info("cartly connect failed: %s", type(exc).__name__)
        messages.error(request, f"Cartly could not connect the shop: {exc}")
        return redirect("connectors:list")
    messages.success(request, f"Connected {connection.shop_name} ({connection.shop_domain}).")
    if connection.pk in cut_off:
        return redirect("connection_detail", pk=connection.pk)
    return redirect("connectors:list")
