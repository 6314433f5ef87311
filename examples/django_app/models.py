"""One order per checkout; its status says how the payment went."""

from __future__ import annotations

from typing import Any

from django.db import models


class Order(models.Model):
    # Field types spelled out: mypy --strict without django-stubs' plugin
    # (which would need these settings importable for every mypy run).
    order_id: models.CharField[str, str] = models.CharField(max_length=64, primary_key=True)
    customer: models.CharField[str, str] = models.CharField(max_length=64)
    amount_cents: models.PositiveIntegerField[int, int] = models.PositiveIntegerField()
    #: new, paid, payment_pending (the DLQ holds the charge), payment_unavailable
    status: models.CharField[str, str] = models.CharField(max_length=32, default="new")
    charge_id: models.CharField[str | None, str | None] = models.CharField(
        max_length=64, null=True, blank=True
    )
    detail: models.TextField[str | None, str | None] = models.TextField(null=True, blank=True)

    def as_json(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "customer": self.customer,
            "amount_cents": self.amount_cents,
            "status": self.status,
            "charge_id": self.charge_id,
            "detail": self.detail,
        }
