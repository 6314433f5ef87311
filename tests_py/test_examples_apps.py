"""The example checkout services (examples/django_app, fastapi_app,
flask_app), each on its real server (gunicorn, uvicorn) with the flaky
gateway on another port, probed over HTTP: a checkout charges once per
order, a failing gateway gets the fallback answer and a dead-letter entry,
and Baldur's health endpoints answer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from example_servers import EXAMPLE_APPS, App, Gateway, new_order, require_server


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    server = Gateway(tmp_path_factory.mktemp("gateway") / "gateway.log")
    yield server
    server.stop()


@pytest.fixture(scope="module", params=EXAMPLE_APPS)
def app(
    request: pytest.FixtureRequest, gateway: Gateway, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[App]:
    example: str = request.param
    require_server(example)
    # The failures these tests provoke on purpose never add up to a trip
    # (the breaker across workers is test_examples_redis.py's).
    server = App(example, gateway, tmp_path_factory.mktemp(example), BALDUR_CB_MINIMUM_CALLS="1000")
    yield server
    server.stop()
    assert "Traceback" not in server.output(), server.output()


@pytest.fixture(autouse=True)
def healthy_gateway(gateway: Gateway) -> None:
    gateway.heal()


def test_a_checkout_charges_the_customer_and_the_order_says_paid(
    app: App, gateway: Gateway
) -> None:
    order_id = new_order()
    answer = app.checkout(order_id, 4200)
    assert answer.status == 201, (answer, app.output())
    assert answer.body["order"]["status"] == "paid"
    assert answer.body["order"]["charge_id"].startswith("ch_")
    assert gateway.charged(order_id) == 1
    shown = app.get(f"/orders/{order_id}")
    assert shown.status == 200
    assert shown.body["order"] == answer.body["order"]
    assert app.get(f"/orders/{new_order()}").status == 404


def test_a_repeated_checkout_of_one_order_reaches_the_gateway_once(
    app: App, gateway: Gateway
) -> None:
    order_id = new_order()
    assert app.checkout(order_id).status == 201
    again = app.checkout(order_id)
    assert again.status == 200, again
    assert again.body["duplicate"] == "completed"
    assert again.body["order"]["status"] == "paid"
    assert gateway.asked(order_id) == 1  # Baldur stopped the duplicate before the gateway


def test_a_bad_request_is_refused_without_calling_the_gateway(app: App, gateway: Gateway) -> None:
    before = gateway.total_requests()
    assert app.checkout(new_order(), amount_cents=-5).status in (400, 422)
    assert gateway.total_requests() == before


def test_a_failing_gateway_gets_the_fallback_answer_and_a_dead_letter_entry(
    app: App, gateway: Gateway
) -> None:
    gateway.behave(failure_rate=1.0)
    order_id = new_order()
    answer = app.checkout(order_id)
    assert answer.status == 202, (answer, app.output())
    assert answer.body["order"]["status"] == "payment_pending"
    assert "503" in answer.body["order"]["detail"]
    assert gateway.asked(order_id) == 3  # retried: the default three attempts
    assert gateway.charged(order_id) == 0
    [entry] = parked(app, order_id)
    assert entry["zone"] == "charge-customer"
    assert entry["reason"] == "exhausted"
    assert entry["replayable"] is True
    # Once the gateway is back, the parked charge is replayed and settles the order.
    gateway.heal()
    replayed = app.call("POST", "/payments/failed/replay")
    assert replayed.status == 200, (replayed, app.output())
    outcome = {(r["id"], r["ok"]) for r in replayed.body["replayed"]}
    assert (entry["id"], True) in outcome, replayed
    assert app.get(f"/orders/{order_id}").body["order"]["status"] == "paid"
    assert gateway.charged(order_id) == 1
    assert not [
        e for e in app.get("/payments/failed").body["entries"] if order_id in e["arguments"]
    ]
    # The replay completed the order's claim: a new checkout of it is a duplicate.
    assert app.checkout(order_id).body["duplicate"] == "completed"
    assert gateway.charged(order_id) == 1


def test_a_rate_limited_charge_is_retried_then_answered_by_the_fallback(
    app: App, gateway: Gateway
) -> None:
    gateway.behave(rate_limit_rate=1.0, retry_after=1)
    order_id = new_order()
    answer = app.checkout(order_id)
    assert answer.status == 202, (answer, app.output())
    assert "429" in answer.body["order"]["detail"]
    assert gateway.asked(order_id) == 3  # a 429 is the gateway's failure: retried
    assert [e["reason"] for e in parked(app, order_id)] == ["exhausted"]


def test_a_declined_card_is_neither_retried_nor_parked(app: App, gateway: Gateway) -> None:
    order_id = new_order()
    answer = app.checkout(order_id, amount_cents=5_000_000)  # over the gateway's limit
    assert answer.status == 402, (answer, app.output())
    assert answer.body["order"]["status"] == "declined"
    assert "402" in answer.body["order"]["detail"]
    assert gateway.asked(order_id) == 1  # a 4xx is the caller's problem: no retry
    assert parked(app, order_id) == []  # nor a dead-letter entry


def parked(app: App, order_id: str) -> list[dict[str, Any]]:
    """The dead-letter entries of the order's charge."""
    entries: list[dict[str, Any]] = app.get("/payments/failed").body["entries"]
    return [entry for entry in entries if order_id in entry["arguments"]]


def test_a_failed_checkout_can_be_retried_by_the_client(app: App, gateway: Gateway) -> None:
    gateway.behave(failure_rate=1.0)
    order_id = new_order()
    assert app.checkout(order_id).status == 202
    gateway.heal()  # the failed call released its idempotency claim
    retried = app.checkout(order_id)
    assert retried.status == 201, retried
    assert retried.body["order"]["status"] == "paid"
    assert gateway.charged(order_id) == 1


@pytest.mark.parametrize("app", ["fastapi"], indirect=True)
def test_a_protected_fastapi_endpoint_still_gets_its_dependencies(
    app: App, gateway: Gateway
) -> None:
    order_id = new_order()
    assert app.checkout(order_id).status == 201
    answer = app.get(f"/orders/{order_id}/charge")
    assert answer.status == 200, (answer, app.output())
    assert answer.body["order"]["status"] == "paid"  # from the injected order book
    assert answer.body["gateway"]["charges"] == 1
    gateway.stop()  # unreachable: the endpoint's fallback answers
    try:
        down = app.get(f"/orders/{order_id}/charge")
    finally:
        gateway.start("/health")
    assert down.status == 200, down
    assert down.body["gateway"] == "unreachable"


@pytest.mark.parametrize(
    "path",
    [
        "/api/baldur/health/",
        "/api/baldur/health/live/",
        "/api/baldur/health/ready/",
        "/api/baldur/health/ping/",
        "/api/baldur/health/pool/",
        "/api/baldur/metrics/",
        "/api/baldur/dashboard/summary/",
    ],
)
def test_the_health_endpoints_answer(app: App, path: str) -> None:
    answer = app.get(path)
    assert answer.status == 200, (path, answer)
