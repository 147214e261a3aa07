from django.urls import path

from automations.builder import views

app_name = "builder"

urlpatterns = [
    path("", views.recipe_list, name="list"),
    path("new/", views.recipe_new, name="new"),
    path("preview/", views.preview_view, name="preview"),
    path("validate/", views.validate_view, name="validate"),
    path("<int:pk>/edit/", views.recipe_edit, name="edit"),
    path("<int:pk>/test/", views.recipe_test, name="test"),
    path("<int:pk>/toggle/", views.recipe_toggle, name="toggle"),
    path("<int:pk>/delete/", views.recipe_delete, name="delete"),
]
