"""Mounted under /api/ by config/urls.py."""

from django.urls import path

from automations.api import api

urlpatterns = [path("", api.urls)]
