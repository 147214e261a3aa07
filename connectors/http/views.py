"""The signing secret page: see it masked, make or rotate it (shown whole once, right then)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from connectors.http import request as outgoing
from connectors.http import signing


@never_cache  # the answer to the POST holds the secret: no cache may keep it
@login_required
@require_http_methods(["GET", "POST"])
def signing_secret(request: HttpRequest) -> HttpResponse:
    revealed = signing.rotate(request.user) if request.method == "POST" else None
    current = revealed or signing.current_secret(request.user)
    context = {
        "revealed": revealed,
        "masked": signing.masked(current) if current else None,
        "header": outgoing.SIGNATURE_HEADER,
    }
    return render(request, "connectors/http_signing.html", context)
