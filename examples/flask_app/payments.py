"""The one call that leaves the service: charging the customer through the
payment gateway, under Baldur's full protection. Recording the payment on
the order is part of it, so a charge replayed from the dead-letter queue
settles its order too."""

from __future__ import annotations

import os

import baldur
from gateway import client
from shop.checkout import payment_pending
from shop.orders import Order, OrderBook

GATEWAY_URL = os.environ.get("GATEWAY_URL", "http://127.0.0.1:8081")
#: The whole charge, every attempt and backoff included, never takes longer.
CHARGE_TIMEOUT = float(os.environ.get("CHARGE_TIMEOUT_SECONDS", "10"))

orders = OrderBook()


@baldur.protected(
    "charge-customer",
    # 503s and timeouts are retried with backoff; a 429's Retry-After is honoured.
    retry=baldur.RetryPolicy(attempts=3, base_delay=0.05, max_delay=2.0),
    fallback=payment_pending,
    timeout=CHARGE_TIMEOUT,
    # One charge per order, whichever worker gets the duplicate request.
    idempotency_key="order_id",
    dlq=True,
)
def charge_customer(order_id: str, customer: str, amount_cents: int) -> Order:
    """The paid order; the fallback's ``{"pending": True, ...}`` when the
    gateway could not be reached."""
    # The gateway's own idempotency key is the order too: a charge that
    # succeeded at the gateway but timed out here is not made twice on retry.
    charge = client.charge(GATEWAY_URL, f"order-{order_id}", amount_cents, customer)
    return orders.settle(order_id, "paid", charge_id=str(charge["charge_id"]))
