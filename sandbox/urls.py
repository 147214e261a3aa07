"""The sandbox's URLs: Cartly's paths (cartly-api.md) plus the merchant's shop UI."""

from django.contrib import admin
from django.urls import include, path

from sandbox.oauth import ConsentView

urlpatterns = [
    path("admin/", admin.site.urls),
    # The consent page with the shop on it; DOT's other endpoints stay as they are.
    path("oauth/authorize/", ConsentView.as_view(), name="oauth-consent"),
    path("oauth/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("apps/api/", include("sandbox.api.urls")),
    path("", include("sandbox.ui.urls")),
]
