from django.urls import path

from automations.builder import views, views_manage

app_name = "builder"

urlpatterns = [
    path("", views.recipe_list, name="list"),
    path("new/", views.recipe_new, name="new"),
    path("preview/", views.preview_view, name="preview"),
    path("validate/", views.validate_view, name="validate"),
    path("test-step/", views.step_test_view, name="test_step"),
    path("export/", views_manage.export_all, name="export_all"),
    path("import/", views_manage.import_recipes, name="import"),
    path("trash/", views_manage.trash_list, name="trash"),
    path("trash/<int:pk>/restore/", views_manage.trash_restore, name="trash_restore"),
    path("trash/<int:pk>/delete/", views_manage.trash_delete, name="trash_delete"),
    path("<int:pk>/edit/", views.recipe_edit, name="edit"),
    path("<int:pk>/test/", views.recipe_test, name="test"),
    path("<int:pk>/toggle/", views.recipe_toggle, name="toggle"),
    path("<int:pk>/delete/", views.recipe_delete, name="delete"),
    path("<int:pk>/duplicate/", views_manage.duplicate, name="duplicate"),
    path("<int:pk>/export/", views_manage.export_one, name="export"),
    path("<int:pk>/versions/", views_manage.version_history, name="versions"),
    path(
        "<int:pk>/versions/<int:version>/restore/",
        views_manage.restore_version,
        name="restore_version",
    ),
]
