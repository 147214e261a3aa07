from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("automations.api.urls")),
    path("connections/", include("connectors.urls")),
    path("hooks/cartly/", include("automations.urls_hooks")),
    path("", include("accounts.urls")),
]
