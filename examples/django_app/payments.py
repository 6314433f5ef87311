"""Charging the customer through the payment gateway, under Baldur's full
protection: retry with backoff (a 429's ``Retry-After`` honoured), a
wall-clock timeout, a fallback that leaves the order pending, one charge per
order across every worker, and the dead-letter queue for replay. Recording
the payment on the order is part of it, so a replayed charge settles its
order too."""

from __future__ import annotations

import os
from typing import Any

import baldur
from django_app.models import Order
from gateway import client
from shop.checkout import payment_pending

GATEWAY_URL = os.environ.get("GATEWAY_URL", "http://127.0.0.1:8081")
CHARGE_TIMEOUT = float(os.environ.get("CHARGE_TIMEOUT_SECONDS", "10"))


@baldur.protected(
    "charge-customer",
    retry=baldur.RetryPolicy(attempts=3, base_delay=0.05, max_delay=2.0),
    fallback=payment_pending,
    timeout=CHARGE_TIMEOUT,
    idempotency_key="order_id",
    dlq=True,
)
def charge_customer(order_id: str, customer: str, amount_cents: int) -> dict[str, Any]:
    """The paid order (as JSON); the fallback's ``{"pending": True, ...}``
    when the gateway could not be reached."""
    # The provider's idempotency key is derived from the order as well.
    charge = client.charge(GATEWAY_URL, f"order-{order_id}", amount_cents, customer)
    order = Order.objects.get(order_id=order_id)
    order.status, order.charge_id, order.detail = "paid", str(charge["charge_id"]), None
    order.save(update_fields=["status", "charge_id", "detail"])
    return order.as_json()
