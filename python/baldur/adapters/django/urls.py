"""``path("api/baldur/", include("baldur.adapters.django.urls"))``."""

from __future__ import annotations

from django.urls import path

from baldur.adapters import _serving
from baldur.adapters.django.views import endpoint

app_name = "baldur"

urlpatterns = [path(route, endpoint(route), name=name) for route, name in _serving.ROUTES]
