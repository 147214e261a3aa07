from django.urls import path

from connectors import views
from connectors.http import views as http_views

app_name = "connectors"
urlpatterns = [
    path("", views.connection_list, name="list"),
    path("cartly/connect/", views.connect, name="connect"),
    path("cartly/callback/", views.callback, name="callback"),
    path("http/signing-secret/", http_views.signing_secret, name="http_signing_secret"),
]
