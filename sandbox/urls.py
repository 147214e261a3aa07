"""The sandbox's URLs: Cartly's paths (cartly-api.md) plus the merchant's shop UI."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("oauth/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("apps/api/", include("sandbox.api.urls")),
    path("", include("sandbox.ui.urls")),
]
