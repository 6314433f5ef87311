"""Graceful shutdown in-process: the drain state, what the endpoints answer
while draining, waiting for calls in flight, and the drain setting."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

import pytest

import baldur
from baldur import _settings, _shutdown, endpoints
from helpers import eventually


@pytest.fixture(autouse=True)
def serving_again() -> Iterator[None]:
    yield
    _shutdown.reset_for_tests()


class Held:
    """A protected call on a thread of its own, held until released."""

    def __init__(self, zone: str) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.thread = threading.Thread(target=baldur.protect, args=(zone, self.run))
        self.thread.start()
        assert self.started.wait(5)

    def run(self) -> str:
        self.started.set()
        self.release.wait(10)
        return "done"

    def finish(self) -> None:
        self.release.set()
        self.thread.join(10)


def test_serving_until_a_shutdown_begins() -> None:
    assert not baldur.is_shutting_down()
    assert endpoints.shutdown_refusal() is None
    assert endpoints.dispatch("health/ready/").status == 200


def test_a_drain_turns_readiness_503_and_keeps_live_and_ping_200(
    configure: Callable[..., None],
) -> None:
    configure(shutdown_drain_seconds=7)
    assert baldur.begin_shutdown()
    ready = endpoints.dispatch("health/ready/")
    assert ready.status == 503
    assert ready.headers["Retry-After"] in ("6", "7")
    assert ready.headers["Cache-Control"] == "no-store"
    assert ready.payload["status"] == "shutting_down"
    assert endpoints.dispatch("health/live/").status == 200
    assert endpoints.dispatch("health/ping/").status == 200
    assert endpoints.dispatch("health/", {"nocache": "1"}).payload["shutting_down"] is True


def test_adapters_get_a_503_with_retry_after_for_new_work() -> None:
    baldur.begin_shutdown(timeout=5)
    refusal = endpoints.shutdown_refusal()
    assert refusal is not None
    assert refusal.status == 503
    assert refusal.headers["Retry-After"] in ("4", "5")
    assert refusal.headers["Cache-Control"] == "no-store"
    assert refusal.payload["error"] == "shutting down"


def test_a_second_begin_keeps_the_first_deadline() -> None:
    assert baldur.begin_shutdown(timeout=5)
    assert not baldur.begin_shutdown(timeout=600)
    refusal = endpoints.shutdown_refusal()
    assert refusal is not None and int(refusal.headers["Retry-After"]) <= 5


def test_calls_in_flight_are_counted(zone_name: str) -> None:
    before = baldur.calls_in_flight()
    held = Held(zone_name)
    assert baldur.calls_in_flight() == before + 1
    held.finish()
    assert baldur.calls_in_flight() == before


def test_async_calls_in_flight_are_counted(zone_name: str) -> None:
    seen: list[int] = []

    @baldur.protected(zone_name)
    async def call() -> None:
        seen.append(baldur.calls_in_flight())
        await asyncio.sleep(0)

    before = baldur.calls_in_flight()
    asyncio.run(call())
    assert seen == [before + 1]
    assert baldur.calls_in_flight() == before


def test_a_failed_async_call_leaves_the_count(zone_name: str) -> None:
    @baldur.protected(zone_name, fallback=lambda: "fallback")
    async def call() -> None:
        raise ConnectionError("down")

    before = baldur.calls_in_flight()
    assert asyncio.run(call()) == "fallback"
    assert baldur.calls_in_flight() == before


def test_an_async_call_is_in_flight_until_its_fallback_is_done(zone_name: str) -> None:
    """As on the sync path: a drain waits for the fallback, not only for
    the attempts (an async fallback may await for a while)."""
    before = baldur.calls_in_flight()
    seen: list[int] = []

    async def fallback() -> str:
        await asyncio.sleep(0)
        seen.append(baldur.calls_in_flight())
        return "fallback"

    @baldur.protected(zone_name, fallback=fallback)
    async def call() -> None:
        raise ConnectionError("down")

    @baldur.protected(zone_name + "-dlq", fallback=fallback, dlq=True)
    async def recorded() -> None:
        raise ConnectionError("down")

    async def down() -> None:
        raise ConnectionError("down")

    async def with_meta() -> object:
        return (await baldur.aprotect_with_meta(zone_name + "-meta", down, fallback=fallback)).value

    assert asyncio.run(call()) == "fallback"
    assert asyncio.run(recorded()) == "fallback"
    assert asyncio.run(with_meta()) == "fallback"
    assert seen == [before + 1] * 3
    assert baldur.calls_in_flight() == before


def test_shutdown_waits_for_calls_in_flight(zone_name: str) -> None:
    held = Held(zone_name)
    threading.Timer(0.2, held.release.set).start()
    report = baldur.shutdown(timeout=10)
    held.thread.join(10)
    assert report.drained and report.in_flight == 0
    assert report.waited_s >= 0.15


def test_shutdown_stops_waiting_at_its_deadline(
    zone_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    held = Held(zone_name)
    try:
        report = baldur.shutdown(timeout=0.2)
        assert not report.drained and report.in_flight == 1
        assert 0.15 <= report.waited_s < 5
        assert any(r.getMessage().startswith("shutdown.drain_timeout") for r in caplog.records)
    finally:
        held.finish()


def test_the_metrics_show_the_drain() -> None:
    baldur.begin_shutdown(timeout=5)
    assert baldur.metrics_snapshot()["shutting_down"] is True


def test_the_drain_setting_defaults_to_30_seconds_and_is_validated() -> None:
    assert _settings.load({}, {}).shutdown_drain_seconds == 30.0
    assert (
        _settings.load({}, {"BALDUR_SHUTDOWN_DRAIN_SECONDS": "2.5"}).shutdown_drain_seconds == 2.5
    )
    assert _settings.load({}, {"BALDUR_SHUTDOWN_DRAIN_SECONDS": "0"}).shutdown_drain_seconds == 0
    for bad in ("-1", "soon", "nan"):
        with pytest.raises(baldur.ConfigError, match="BALDUR_SHUTDOWN_DRAIN_SECONDS"):
            _settings.load({}, {"BALDUR_SHUTDOWN_DRAIN_SECONDS": bad})
    with pytest.raises(baldur.ConfigError, match="timeout"):
        baldur.shutdown(timeout=-1)


def test_the_handler_chains_and_uninstalls(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[int, bool]] = []

    def server(signum: int, frame: FrameType | None) -> None:
        seen.append((signum, baldur.is_shutting_down()))

    previous = signal.signal(signal.SIGUSR1, server)
    try:
        baldur.install_shutdown_handler(signal.SIGUSR1)
        baldur.install_shutdown_handler(signal.SIGUSR1)  # twice: still one link
        signal.raise_signal(signal.SIGUSR1)
        eventually(lambda: seen != [])  # the server's handler runs once the drain is over
        assert seen == [(signal.SIGUSR1, True)]
        _shutdown.uninstall_shutdown_handler(signal.SIGUSR1)
        assert signal.getsignal(signal.SIGUSR1) is server
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_an_ignored_signal_still_flips_readiness_without_exiting() -> None:
    previous = signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    try:
        baldur.install_shutdown_handler(signal.SIGUSR2)
        signal.raise_signal(signal.SIGUSR2)
        assert baldur.is_shutting_down()
        assert endpoints.dispatch("health/ready/").status == 503
    finally:
        _shutdown.uninstall_shutdown_handler(signal.SIGUSR2)
        signal.signal(signal.SIGUSR2, previous)
