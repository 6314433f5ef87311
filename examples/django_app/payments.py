"""Charging the customer through the payment gateway, under Baldur's full
protection: retry with backoff (a 429's ``Retry-After`` honoured), a
wall-clock timeout, a fallback that leaves the order pending, one charge per
order across every worker, and the dead-letter queue for replay."""

from __future__ import annotations

import os
from typing import Any

import baldur
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
    # The provider's idempotency key is derived from the order as well.
    return client.charge(GATEWAY_URL, f"order-{order_id}", amount_cents, customer)
