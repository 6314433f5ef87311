"""URLs of the Django site the adapter tests run: Baldur's endpoints and
one protected view."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path

import baldur


@baldur.protected("django-adapter-charge", fallback=lambda: "queued")
def charge(order_id: int) -> str:
    if order_id < 0:
        raise ConnectionError("gateway down")
    return f"charged {order_id}"


def checkout(request: HttpRequest, order_id: str) -> HttpResponse:
    return JsonResponse({"result": charge(int(order_id))})


urlpatterns = [
    path("api/baldur/", include("baldur.adapters.django.urls")),
    path("orders/<str:order_id>/checkout/", checkout, name="checkout"),
]
