"""``path("api/baldur/", include("baldur.adapters.django.urls"))``."""

from __future__ import annotations

from django.urls import path

from baldur.adapters.django.views import endpoint

app_name = "baldur"

urlpatterns = [
    path("health/", endpoint("health/"), name="health"),
    path("health/live/", endpoint("health/live/"), name="live"),
    path("health/ready/", endpoint("health/ready/"), name="ready"),
    path("health/pool/", endpoint("health/pool/"), name="pool"),
    path("health/ping/", endpoint("health/ping/"), name="ping"),
    path("metrics/", endpoint("metrics/"), name="metrics"),
    path("metrics/json/", endpoint("metrics/json/"), name="metrics_json"),
    path("dashboard/summary/", endpoint("dashboard/summary/"), name="dashboard_summary"),
]
