"""Where Cartly delivers REST Hooks: /hooks/cartly/<subscription token>/ (included by config)."""

from django.urls import path

from automations import views_hooks

app_name = "hooks"
urlpatterns = [
    path("<str:token>/", views_hooks.cartly_hook, name="cartly"),
]
