"""The face's internal signals (``baldur._bus``): what a lower floor
announces, a higher one acts on, without the lower importing the higher."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from baldur import _bus


@pytest.fixture
def topic() -> Iterator[str]:
    name = "test.signal"
    yield name
    _bus._subscribers.pop(name, None)


def test_subscribers_run_in_order_with_the_fields(topic: str) -> None:
    heard: list[tuple[str, object]] = []
    _bus.subscribe(topic, lambda zone: heard.append(("first", zone)))
    _bus.subscribe(topic, lambda zone: heard.append(("second", zone)))
    _bus.publish(topic, zone="payments")
    assert heard == [("first", "payments"), ("second", "payments")]


def test_a_failing_subscriber_is_logged_and_the_rest_still_run(
    topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    heard: list[str] = []

    def broken() -> None:
        raise RuntimeError("subscriber bug")

    _bus.subscribe(topic, broken)
    _bus.subscribe(topic, lambda: heard.append("ran"))
    with caplog.at_level(logging.ERROR, logger="baldur"):
        _bus.publish(topic)
    assert heard == ["ran"]
    assert any("bus.subscriber_failed" in r.getMessage() for r in caplog.records)


def test_a_topic_nobody_heard_is_fine() -> None:
    _bus.publish("nobody.listens", anything=1)


def test_the_package_wires_its_floors_once() -> None:
    import baldur

    assert baldur.health.invalidate_cache in _bus._subscribers[_bus.HEALTH_CHANGED]
    assert len(_bus._subscribers[_bus.CONFIG_APPLIED]) == 1
    assert len(_bus._subscribers[_bus.BREAKER_RECOVERED]) == 1
