"""Orders in a SQLite file: every worker process of a service sees the
same rows. Each call opens its own connection (cheap for SQLite, and safe
across threads and forked workers)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: Where the orders live unless ``SHOP_DB`` says otherwise.
DEFAULT_PATH = "shop.sqlite3"

Order = dict[str, Any]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY,
    customer TEXT NOT NULL,
    amount_cents INTEGER NOT NULL,
    status TEXT NOT NULL,
    charge_id TEXT,
    detail TEXT
)
"""


class OrderBook:
    def __init__(self, path: str | None = None) -> None:
        self.path = path or os.environ.get("SHOP_DB", DEFAULT_PATH)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer
            db.execute(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection that commits on success and is closed either way."""
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        try:
            with db:
                yield db
        finally:
            db.close()

    def open(self, order_id: str, customer: str, amount_cents: int) -> Order:
        """The order, created as ``new`` unless it exists."""
        with self._connect() as db:
            db.execute(
                "INSERT OR IGNORE INTO orders VALUES (?, ?, ?, 'new', NULL, NULL)",
                (order_id, customer, amount_cents),
            )
        found = self.get(order_id)
        assert found is not None
        return found

    def get(self, order_id: str) -> Order | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM orders WHERE order_id = ?", (order_id,)).fetchone()
        return None if row is None else dict(row)

    def settle(
        self, order_id: str, status: str, charge_id: str | None = None, detail: str | None = None
    ) -> Order:
        """Records how the payment went (``paid``, ``payment_pending``, ...)."""
        with self._connect() as db:
            db.execute(
                "UPDATE orders SET status = ?, charge_id = COALESCE(?, charge_id), detail = ?"
                " WHERE order_id = ?",
                (status, charge_id, detail, order_id),
            )
        found = self.get(order_id)
        assert found is not None
        return found
