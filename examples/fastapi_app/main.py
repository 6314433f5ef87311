"""``POST /checkout`` charges the customer; ``GET /orders/{id}`` shows the
order; ``GET /orders/{id}/charge`` asks the gateway about its charge (a
protected endpoint, dependencies injected); ``GET /payments/failed`` lists
the charges parked in the dead-letter queue and ``POST
/payments/failed/replay`` charges them again. Baldur's health endpoints are
under ``/api/baldur/``.

Beside it, ``with_baldur``'s ``init()`` starts the admin server: the console
on http://127.0.0.1:9090/ (../README.md, "The console beside it").

Run: ``uvicorn fastapi_app.main:app`` (see README.md)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

import baldur
from baldur.adapters.fastapi import BaldurMiddleware, router, with_baldur
from fastapi_app import payments
from fastapi_app.payments import GATEWAY_URL, charge_customer
from shop.checkout import retry_after
from shop.orders import OrderBook


@asynccontextmanager
async def shop_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The app's own startup, run inside Baldur's (after ``init()``)."""
    app.state.orders = payments.orders
    yield


app = FastAPI(title="checkout", lifespan=with_baldur(shop_lifespan))
app.include_router(router)  # /api/baldur/health/, .../live/, .../ready/, ...
app.add_middleware(BaldurMiddleware)  # 503 + Retry-After while draining


class Checkout(BaseModel):
    order_id: str = Field(min_length=1, max_length=64)
    customer: str = Field(min_length=1, max_length=64)
    amount_cents: int = Field(gt=0)


def order_book() -> OrderBook:
    orders: OrderBook = app.state.orders
    return orders


Orders = Annotated[OrderBook, Depends(order_book)]


def _reply(payload: dict[str, Any], status: int, wait_seconds: int | None = None) -> JSONResponse:
    headers = {"X-Served-By": str(os.getpid())}  # which worker answered
    if wait_seconds is not None:
        headers["Retry-After"] = str(wait_seconds)
    return JSONResponse(payload, status_code=status, headers=headers)


@app.post("/checkout")
async def checkout(wanted: Checkout, orders: Orders) -> JSONResponse:
    orders.open(wanted.order_id, wanted.customer, wanted.amount_cents)
    try:
        charge = await charge_customer(wanted.order_id, wanted.customer, wanted.amount_cents)
    except baldur.IdempotencyDuplicateError as duplicate:
        # This order's charge already ran (or is running): never twice.
        return _reply({"order": orders.get(wanted.order_id), "duplicate": duplicate.state}, 200)
    except baldur.CircuitOpenError as open_circuit:
        order = orders.settle(wanted.order_id, "payment_unavailable", detail=str(open_circuit))
        return _reply({"order": order}, 503, retry_after(open_circuit))
    except httpx.HTTPStatusError as refused:
        # A 4xx (a declined card): the gateway answered; Baldur neither
        # retried it nor parked it, and the breaker counts it as a success.
        status = refused.response.status_code
        order = orders.settle(wanted.order_id, "declined", detail=f"{status} {refused}")
        return _reply({"order": order}, 402)
    if charge.get("pending"):
        order = orders.settle(wanted.order_id, "payment_pending", detail=str(charge["reason"]))
        return _reply({"order": order}, 202)
    return _reply({"order": charge}, 201)


@app.get("/orders/{order_id}")
async def show_order(order_id: str, orders: Orders) -> JSONResponse:
    order = orders.get(order_id)
    if order is None:
        return _reply({"error": f"no order {order_id}"}, 404)
    return _reply({"order": order}, 200)


def _gateway_unknown(error: BaseException) -> dict[str, Any]:
    return {"gateway": "unreachable", "reason": f"{type(error).__name__}: {error}"}


@app.get("/orders/{order_id}/charge")
@baldur.protected("gateway-lookup", retry=True, timeout=5.0, fallback=_gateway_unknown)
async def gateway_charge(order_id: str, orders: Orders) -> dict[str, Any]:
    """The gateway's view of the order's charge. The decorator keeps the
    signature, so FastAPI still injects ``orders`` and validates ``order_id``."""
    order = orders.get(order_id)
    async with httpx.AsyncClient(base_url=GATEWAY_URL, timeout=2.0) as gateway:
        response = await gateway.get(f"/charges/order-{order_id}")
        response.raise_for_status()
        return {"order": order, "gateway": response.json()}


@app.get("/payments/failed")
async def failed_payments() -> JSONResponse:
    entries = await baldur.dlq.alist(domain="charge-customer")
    return _reply({"entries": list(entries), "complete": entries.complete}, 200)


@app.post("/payments/failed/replay")
async def replay_failed_payments() -> JSONResponse:
    """Once the gateway is back: each parked charge runs again, under the
    same protection; a successful one settles its order."""
    replayed = await baldur.dlq.areplay_batch(domain="charge-customer")
    return _reply({"replayed": replayed}, 200)
