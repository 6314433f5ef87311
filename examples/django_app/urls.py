from __future__ import annotations

from django.urls import include, path

from django_app import views

urlpatterns = [
    path("checkout", views.checkout, name="checkout"),
    path("orders/<str:order_id>", views.show_order, name="order"),
    path("payments/failed", views.failed_payments, name="failed_payments"),
    path("payments/failed/replay", views.replay_failed_payments, name="replay_failed_payments"),
    # health/, health/live/, health/ready/, ..., metrics/, dashboard/summary/
    path("api/baldur/", include("baldur.adapters.django.urls")),
]
