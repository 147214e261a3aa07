from django.urls import path

from automations import views_runs

app_name = "runs"
urlpatterns = [
    path("", views_runs.run_list, name="list"),
    path("<int:pk>/", views_runs.run_detail, name="detail"),
    path("<int:pk>/replay/", views_runs.run_replay, name="replay"),
    path("<int:pk>/retry/", views_runs.run_retry, name="retry"),
    path("<int:pk>/retry-now/", views_runs.run_retry_now, name="retry_now"),
    path("<int:pk>/cancel/", views_runs.run_cancel, name="cancel"),
]
