from django.contrib import admin
from django.urls import include, path

from automations.views_connections import connection_detail
from automations.views_dashboard import dashboard

urlpatterns = [
    # First: the busiest path, resolved on every delivery before any other pattern is tried.
    path("hooks/cartly/", include("automations.urls_hooks")),
    path("admin/", admin.site.urls),
    path("api/", include("automations.api.urls")),
    path("connections/<int:pk>/", connection_detail, name="connection_detail"),
    path("connections/", include("connectors.urls")),
    path("recipes/", include("automations.builder.urls")),
    path("runs/", include("automations.urls_runs")),
    path("notifications/", include("notifications.urls")),
    path("", dashboard, name="home"),
    path("", include("accounts.urls")),
]
