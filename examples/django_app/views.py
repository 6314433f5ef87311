"""``POST /checkout``, ``GET /orders/<id>``, ``GET /payments/failed``,
``POST /payments/failed/replay``."""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.error import HTTPError

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

import baldur
from django_app.models import Order
from django_app.payments import charge_customer
from shop.checkout import CheckoutRequest, retry_after


def _reply(payload: dict[str, Any], status: int, wait_seconds: int | None = None) -> JsonResponse:
    response = JsonResponse(payload, status=status)
    response["X-Served-By"] = str(os.getpid())  # which worker answered
    if wait_seconds is not None:
        response["Retry-After"] = str(wait_seconds)
    return response


@csrf_exempt  # an API called by other services, not a browser form
@require_POST
def checkout(request: HttpRequest) -> JsonResponse:
    try:
        wanted = CheckoutRequest.parse(json.loads(request.body or b"null"))
    except ValueError as bad:  # JSONDecodeError is a ValueError too
        return _reply({"error": str(bad)}, 400)
    order, _ = Order.objects.get_or_create(
        order_id=wanted.order_id,
        defaults={"customer": wanted.customer, "amount_cents": wanted.amount_cents},
    )
    try:
        charge = charge_customer(wanted.order_id, wanted.customer, wanted.amount_cents)
    except baldur.IdempotencyDuplicateError as duplicate:
        # This order's charge already ran (or is running): never twice.
        order.refresh_from_db()
        return _reply({"order": order.as_json(), "duplicate": duplicate.state}, 200)
    except baldur.CircuitOpenError as open_circuit:
        order.status, order.detail = "payment_unavailable", str(open_circuit)
        order.save(update_fields=["status", "detail"])
        return _reply({"order": order.as_json()}, 503, retry_after(open_circuit))
    except HTTPError as refused:
        # A 4xx (a declined card): the gateway answered; Baldur neither
        # retried it nor parked it, and the breaker counts it as a success.
        order.status, order.detail = "declined", f"{refused.code} {refused.reason}"
        order.save(update_fields=["status", "detail"])
        return _reply({"order": order.as_json()}, 402)
    if charge.get("pending"):
        order.status, order.detail = "payment_pending", str(charge["reason"])
        order.save(update_fields=["status", "detail"])
        return _reply({"order": order.as_json()}, 202)
    return _reply({"order": charge}, 201)


@require_GET
def show_order(request: HttpRequest, order_id: str) -> JsonResponse:
    order = Order.objects.filter(order_id=order_id).first()
    if order is None:
        return _reply({"error": f"no order {order_id}"}, 404)
    return _reply({"order": order.as_json()}, 200)


@require_GET
def failed_payments(request: HttpRequest) -> JsonResponse:
    entries = baldur.dlq.list(domain="charge-customer")
    return _reply({"entries": list(entries), "complete": entries.complete}, 200)


@csrf_exempt
@require_POST
def replay_failed_payments(request: HttpRequest) -> JsonResponse:
    """Once the gateway is back: each parked charge runs again, under the
    same protection; a successful one settles its order."""
    return _reply({"replayed": baldur.dlq.replay_batch(domain="charge-customer")}, 200)
