"""The flaky gateway the examples charge (examples/gateway): one charge per
idempotency key, and the failures it is told to make (503, 429 with
``Retry-After``)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest

from example_servers import EXAMPLES, Answer, call


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    from gateway.server import Behaviour, serve

    server = serve("127.0.0.1", 0, Behaviour())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(10)
    sys.modules.pop("gateway.server", None)


def charge(url: str, key: str | None, amount: int = 500) -> Answer:
    headers = {} if key is None else {"Idempotency-Key": key}
    payload = {"amount_cents": amount, "customer": "c-1"}
    return call(url + "/charge", "POST", payload, headers)


def test_a_key_is_charged_once_however_often_it_is_asked(gateway: str) -> None:
    first = charge(gateway, "k-1")
    again = charge(gateway, "k-1")
    assert first.status == again.status == 200
    assert first.body["replayed"] is False and again.body["replayed"] is True
    assert again.body["charge_id"] == first.body["charge_id"]
    about = call(gateway + "/charges/k-1").body
    assert (about["requests"], about["charges"]) == (2, 1)
    assert call(gateway + "/stats").body == {"requests": 2, "charges": 1}


def test_a_charge_needs_a_key_and_a_positive_amount_under_the_limit(gateway: str) -> None:
    assert charge(gateway, None).status == 400
    assert charge(gateway, "k-2", amount=0).status == 400
    assert charge(gateway, "k-2", amount=1_000_001).status == 402  # declined
    assert call(gateway + "/charges/k-2").body["charges"] == 0


def test_it_fails_and_rate_limits_when_told_to(gateway: str) -> None:
    assert call(gateway + "/control", "POST", {"failure_rate": 1.0}).status == 200
    assert charge(gateway, "k-3").status == 503
    limits = {"failure_rate": 0, "rate_limit_rate": 1.0, "retry_after": 7}
    assert call(gateway + "/control", "POST", limits).status == 200
    limited = charge(gateway, "k-3")
    assert limited.status == 429
    assert limited.headers["retry-after"] == "7"
    assert call(gateway + "/charges/k-3").body["charges"] == 0
    assert call(gateway + "/control", "POST", {"flakiness": 1}).status == 400
