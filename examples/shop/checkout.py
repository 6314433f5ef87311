"""The checkout request, validated the same way by every example."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from baldur import CircuitOpenError


@dataclass(frozen=True)
class CheckoutRequest:
    """``{"order_id": "o-1", "customer": "c-1", "amount_cents": 1250}``."""

    order_id: str
    customer: str
    amount_cents: int

    @classmethod
    def parse(cls, body: object) -> CheckoutRequest:
        """Raises ``ValueError`` naming the field that is wrong."""
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        fields: dict[str, Any] = body
        order_id, customer, amount = (
            fields.get("order_id"),
            fields.get("customer"),
            fields.get("amount_cents"),
        )
        if not isinstance(order_id, str) or not order_id:
            raise ValueError("order_id must be a non-empty string")
        if not isinstance(customer, str) or not customer:
            raise ValueError("customer must be a non-empty string")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise ValueError("amount_cents must be a positive integer")
        return cls(order_id, customer, amount)


def retry_after(error: CircuitOpenError) -> int:
    """The whole seconds a client should wait before trying again (at least 1)."""
    return max(1, round(error.retry_after or 1))


def payment_pending(error: BaseException) -> dict[str, Any]:
    """The fallback of ``charge-customer``: the gateway could not be
    reached in time, so the order waits for payment (the dead-letter queue
    holds the charge for replay) instead of failing the customer."""
    return {"pending": True, "reason": f"{type(error).__name__}: {error}"}
