"""Charging the customer through the payment gateway from async code, under
Baldur's full protection (breaker, retry, timeout, fallback, idempotency and
the DLQ all work on ``async def``). Recording the payment on the order is
part of it, so a charge replayed from the dead-letter queue settles its
order too."""

from __future__ import annotations

import os
from typing import Any

import httpx

import baldur
from shop.checkout import payment_pending
from shop.orders import Order, OrderBook

GATEWAY_URL = os.environ.get("GATEWAY_URL", "http://127.0.0.1:8081")
CHARGE_TIMEOUT = float(os.environ.get("CHARGE_TIMEOUT_SECONDS", "10"))

orders = OrderBook()


@baldur.protected(
    "charge-customer",
    # 503s and connection errors are retried with backoff; a 429's
    # Retry-After is honoured (Baldur reads it off httpx's HTTPStatusError).
    retry=baldur.RetryPolicy(attempts=3, base_delay=0.05, max_delay=2.0),
    fallback=payment_pending,
    timeout=CHARGE_TIMEOUT,
    idempotency_key="order_id",
    dlq=True,
)
async def charge_customer(order_id: str, customer: str, amount_cents: int) -> Order:
    """The paid order; the fallback's ``{"pending": True, ...}`` when the
    gateway could not be reached."""
    async with httpx.AsyncClient(base_url=GATEWAY_URL, timeout=5.0) as gateway:
        response = await gateway.post(
            "/charge",
            json={"amount_cents": amount_cents, "customer": customer},
            # The provider's own idempotency key, derived from the order.
            headers={"Idempotency-Key": f"order-{order_id}"},
        )
        response.raise_for_status()
        charge: dict[str, Any] = response.json()
    return orders.settle(order_id, "paid", charge_id=str(charge["charge_id"]))
