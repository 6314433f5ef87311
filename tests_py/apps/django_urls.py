"""URLs of the Django site the adapter tests run: Baldur's endpoints and
two protected views."""

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


@baldur.protected("django-adapter-receipt", dlq=True, fallback=lambda: "queued")
def send_receipt(order_id: int) -> str:
    raise ConnectionError(f"mail server down for order {order_id}")


def receipt(request: HttpRequest, order_id: str) -> HttpResponse:
    return JsonResponse({"result": send_receipt(int(order_id))})


urlpatterns = [
    path("api/baldur/", include("baldur.adapters.django.urls")),
    path("orders/<str:order_id>/checkout/", checkout, name="checkout"),
    path("receipts/<str:order_id>/", receipt, name="receipt"),
]
