"""``POST /checkout`` charges the customer; ``GET /orders/<id>`` shows the
order; ``GET /payments/failed`` lists the charges parked in the dead-letter
queue and ``POST /payments/failed/replay`` charges them again. Baldur's
health endpoints are under ``/api/baldur/``.

Beside it, ``Baldur(app)``'s ``init()`` starts the admin server: the console
on http://127.0.0.1:9090/ (../README.md, "The console beside it").

Run: ``gunicorn -w 3 flask_app.app:app`` (see README.md)."""

from __future__ import annotations

import os
from typing import Any
from urllib.error import HTTPError

from flask import Flask, Response, jsonify, request

import baldur
from baldur.adapters.flask import Baldur
from flask_app.payments import charge_customer, orders
from shop.checkout import CheckoutRequest, retry_after

app = Flask(__name__)
# BALDUR_* keys of app.config are init() settings, on top of the BALDUR_*
# environment variables (which give BALDUR_REDIS_URL). The drain ends before
# gunicorn's graceful timeout (30 s) would kill a worker mid-charge.
app.config["BALDUR_SHUTDOWN_DRAIN_SECONDS"] = 25
Baldur(app)


def _reply(payload: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    response = jsonify(payload)
    response.status_code = status
    response.headers["X-Served-By"] = str(os.getpid())  # which worker answered
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


@app.post("/checkout")
def checkout() -> Response:
    try:
        wanted = CheckoutRequest.parse(request.get_json(force=True, silent=True))
    except ValueError as bad:
        return _reply({"error": str(bad)}, 400)
    orders.open(wanted.order_id, wanted.customer, wanted.amount_cents)
    try:
        charge = charge_customer(wanted.order_id, wanted.customer, wanted.amount_cents)
    except baldur.IdempotencyDuplicateError as duplicate:
        # This order's charge already ran (or is running): never twice.
        order = orders.get(wanted.order_id)
        return _reply({"order": order, "duplicate": duplicate.state}, 200)
    except baldur.CircuitOpenError as open_circuit:
        order = orders.settle(wanted.order_id, "payment_unavailable", detail=str(open_circuit))
        return _reply({"order": order}, 503, {"Retry-After": str(retry_after(open_circuit))})
    except HTTPError as refused:
        # A 4xx (a declined card): the gateway answered; Baldur neither
        # retried it nor parked it, and the breaker counts it as a success.
        order = orders.settle(
            wanted.order_id, "declined", detail=f"{refused.code} {refused.reason}"
        )
        return _reply({"order": order}, 402)
    if charge.get("pending"):
        order = orders.settle(wanted.order_id, "payment_pending", detail=charge["reason"])
        return _reply({"order": order}, 202)
    return _reply({"order": charge}, 201)


@app.get("/orders/<order_id>")
def show_order(order_id: str) -> Response:
    order = orders.get(order_id)
    if order is None:
        return _reply({"error": f"no order {order_id}"}, 404)
    return _reply({"order": order}, 200)


@app.get("/payments/failed")
def failed_payments() -> Response:
    entries = baldur.dlq.list(domain="charge-customer")
    return _reply({"entries": list(entries), "complete": entries.complete}, 200)


@app.post("/payments/failed/replay")
def replay_failed_payments() -> Response:
    """Once the gateway is back: each parked charge runs again, under the
    same protection; a successful one settles its order."""
    return _reply({"replayed": baldur.dlq.replay_batch(domain="charge-customer")}, 200)
