from django.urls import path

from connectors import views

app_name = "connectors"
urlpatterns = [
    path("", views.connection_list, name="list"),
    path("cartly/connect/", views.connect, name="connect"),
    path("cartly/callback/", views.callback, name="callback"),
]
