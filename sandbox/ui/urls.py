"""The merchant's shop UI (namespace "sandbox")."""

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.urls import path
from django.views.generic import TemplateView

app_name = "sandbox"
urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="sandbox/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "",
        login_required(TemplateView.as_view(template_name="sandbox/base.html")),
        name="home",
    ),
]
