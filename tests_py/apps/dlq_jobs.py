"""Functions protected with dlq=True, importable by a replay in another
process (their import path is what the queue records)."""

from __future__ import annotations

import os

import baldur

MARKER = os.environ.get("BALDUR_TEST_MARKER", "")


@baldur.protected("dlq-jobs", dlq=True)
def ship(order_id: str, quantity: int = 1) -> str:
    if os.environ.get("BALDUR_TEST_FAIL") == "1":
        raise ConnectionError("warehouse down")
    if MARKER:
        with open(MARKER, "a") as out:
            out.write(f"{order_id}:{quantity}\n")
    return f"shipped {order_id}"


@baldur.protected("dlq-jobs-async", dlq=True)
async def notify(user: str) -> str:
    if os.environ.get("BALDUR_TEST_FAIL") == "1":
        raise ConnectionError("mailer down")
    if MARKER:
        with open(MARKER, "a") as out:
            out.write(f"notified {user}\n")
    return user


@baldur.protected("dlq-jobs-idempotent", idempotency_key="order_id", dlq=True)
def reserve(order_id: str) -> str:
    if os.environ.get("BALDUR_TEST_FAIL") == "1":
        raise ConnectionError("stock service down")
    if MARKER:
        with open(MARKER, "a") as out:
            out.write(f"reserved {order_id}\n")
    return order_id


@baldur.protected("dlq-jobs-idempotent-async", idempotency_key="order_id", dlq=True)
async def areserve(order_id: str) -> str:
    return reserve.__wrapped__(order_id)  # type: ignore[attr-defined,no-any-return]


def unprotected(order_id: str) -> str:
    """Importable, but no dlq=True zone: replay must never call it."""
    if MARKER:
        with open(MARKER, "a") as out:
            out.write(f"unprotected {order_id}\n")
    return order_id
