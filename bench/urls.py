"""The engine's URLconf plus one bare endpoint: the same server, middleware and JSON answer,
but no lookup, no HMAC, no INSERT and no publish (the receiver benchmark's denominator)."""

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config.urls import urlpatterns as engine_urlpatterns


@csrf_exempt
def bare(request: HttpRequest) -> JsonResponse:
    request.read(1024 * 1024 + 1)  # read the body as the receiver does
    return JsonResponse({"ok": True})


urlpatterns = [path("bench/bare/", bare, name="bench_bare"), *engine_urlpatterns]
