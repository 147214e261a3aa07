from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from automations import views_connections
from automations.views_dashboard import dashboard

urlpatterns = [
    # First: the busiest path, resolved on every delivery before any other pattern is tried.
    path("hooks/cartly/", include("automations.urls_hooks")),
    path("admin/", admin.site.urls),
    path("api/", include("automations.api.urls")),
    path("connections/<int:pk>/", views_connections.connection_detail, name="connection_detail"),
    path(
        "connections/<int:pk>/disconnect/",
        views_connections.disconnect,
        name="connection_disconnect",
    ),
    path(
        "connections/<int:pk>/recipes-back-on/",
        views_connections.turn_recipes_back_on,
        name="connection_recipes_back_on",
    ),
    path(
        "connections/<int:pk>/recipes-stay-off/",
        views_connections.leave_recipes_off,
        name="connection_recipes_stay_off",
    ),
    path("connections/", include("connectors.urls")),
    path("recipes/", include("automations.builder.urls")),
    path("runs/", include("automations.urls_runs")),
    path("notifications/", include("notifications.urls")),
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("", dashboard, name="home"),
    path("", include("accounts.urls")),
]
