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
