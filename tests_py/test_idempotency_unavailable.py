"""Fail-closed: when the idempotency store cannot answer, a call is refused
with IdempotencyUnavailableError rather than risking a duplicate, unless it
opted into fail-open, which runs it unclaimed and says so in the log."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest

import baldur
import baldur.testing
from helpers import Recorder


@pytest.fixture
def store_down() -> Iterator[None]:
    baldur.testing.inject_idempotency_store_fault("connection refused (injected)")
    yield
    baldur.testing.inject_idempotency_store_fault(None)


def test_a_fail_closed_call_is_refused_and_does_not_run(zone_name: str, store_down: None) -> None:
    charge = Recorder()
    protected = baldur.protected(zone_name, idempotency_key="order_id")(charge)
    with pytest.raises(baldur.IdempotencyUnavailableError, match="connection refused"):
        protected("o-1")
    assert charge.ran == []


def test_a_fail_open_call_runs_unclaimed_and_logs_it(
    zone_name: str, store_down: None, caplog: pytest.LogCaptureFixture
) -> None:
    charge = Recorder()
    protected = baldur.protected(zone_name, idempotency_key="order_id", idempotency_fail_open=True)(
        charge
    )
    with caplog.at_level(logging.WARNING, logger="baldur"):
        assert protected("o-1") == "done o-1"
        assert protected("o-1") == "done o-1"  # unclaimed: no dedup while down
    assert charge.ran == ["o-1", "o-1"]
    events = [r for r in caplog.records if getattr(r, "event", None) == "idempotency.claim_failed"]
    assert len(events) == 2


def test_idempotent_decorator_and_function_forms_are_fail_closed_too(
    zone_name: str, store_down: None
) -> None:
    ship = Recorder()
    guarded = baldur.idempotent(key="order_id")(ship)
    with pytest.raises(baldur.IdempotencyUnavailableError):
        guarded("o-2")
    with pytest.raises(baldur.IdempotencyUnavailableError):
        baldur.protect(zone_name, lambda: ship("o-3"), idempotency_key="o-3")
    result = baldur.protect_with_meta(zone_name, lambda: ship("o-4"), idempotency_key="o-4")
    assert isinstance(result.error, baldur.IdempotencyUnavailableError)
    assert ship.ran == []


def test_async_calls_are_fail_closed(zone_name: str, store_down: None) -> None:
    ran = []

    @baldur.protected(zone_name, idempotency_key="order_id")
    async def charge(order_id: str) -> str:
        ran.append(order_id)
        return order_id

    with pytest.raises(baldur.IdempotencyUnavailableError):
        asyncio.run(charge("o-5"))
    assert ran == []


def test_the_store_coming_back_restores_dedup(zone_name: str) -> None:
    charge = Recorder()
    protected = baldur.protected(zone_name, idempotency_key="order_id")(charge)
    baldur.testing.inject_idempotency_store_fault("down")
    try:
        with pytest.raises(baldur.IdempotencyUnavailableError):
            protected("o-6")
    finally:
        baldur.testing.inject_idempotency_store_fault(None)
    assert protected("o-6") == "done o-6"
    with pytest.raises(baldur.IdempotencyDuplicateError):
        protected("o-6")
