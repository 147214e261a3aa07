from django.urls import path

from notifications import views

app_name = "notifications"
urlpatterns = [
    path("test/", views.send_test, name="test"),
    path("email/", views.set_email, name="email"),
    path("email/resend/", views.resend_confirmation, name="resend"),
    path("email/confirm/<str:token>/", views.confirm, name="confirm"),
]
