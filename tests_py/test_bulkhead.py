"""The bulkhead with real threads: a compartment's capacity, its line (first
come, first served, bounded, timed), its refusals and what answers them, and
every permit coming back."""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import baldur
import baldur.testing
from helpers import eventually

pytestmark = pytest.mark.timeout(30)

_names = itertools.count()


@pytest.fixture
def compartment() -> Callable[..., str]:
    """Registers a compartment of its own for the test (a compartment lives
    as long as the process) and returns its name."""

    def register(max_concurrent: int, max_waiting: int = 0, wait_timeout: float = 1.0) -> str:
        name = f"test-compartment-{next(_names)}"
        baldur.register_compartment(
            name, max_concurrent=max_concurrent, max_waiting=max_waiting, wait_timeout=wait_timeout
        )
        return name

    return register


def occupancy(name: str) -> tuple[int, int]:
    snapshot = baldur.compartments()[name]
    return snapshot.active, snapshot.waiting


class Holder:
    """A protected function that holds its permit until released."""

    def __init__(self, compartment: str, zone: str = "bulkhead-zone") -> None:
        self.release = threading.Event()
        self.running = 0
        self.most = 0
        self.order: list[str] = []
        self._lock = threading.Lock()

        @baldur.protected(zone, bulkhead=compartment)
        def hold(label: str) -> str:
            with self._lock:
                self.order.append(label)
                self.running += 1
                self.most = max(self.most, self.running)
            self.release.wait(10)
            with self._lock:
                self.running -= 1
            return label

        self.hold = hold
        self.results: dict[str, object] = {}
        self.threads: list[threading.Thread] = []

    def start(self, label: str) -> None:
        def run() -> None:
            try:
                self.results[label] = self.hold(label)
            except BaseException as error:  # reported to the test
                self.results[label] = error

        thread = threading.Thread(target=run)
        thread.start()
        self.threads.append(thread)

    def finish(self) -> None:
        self.release.set()
        for thread in self.threads:
            thread.join(10)


@pytest.fixture
def holders() -> Iterator[list[Holder]]:
    made: list[Holder] = []
    yield made
    for holder in made:
        holder.finish()


def holding(name: str, holders: list[Holder], zone: str = "bulkhead-zone") -> Holder:
    """A holder whose first call holds one of `name`'s permits."""
    holder = Holder(name, zone)
    holders.append(holder)
    holder.start("holding")
    eventually(lambda: occupancy(name)[0] == 1)
    return holder


def test_threads_never_run_more_calls_than_the_capacity(
    compartment: Callable[..., str], holders: list[Holder]
) -> None:
    name = compartment(2, max_waiting=10, wait_timeout=10)
    holder = Holder(name)
    holders.append(holder)
    for index in range(6):
        holder.start(f"call-{index}")
    eventually(lambda: occupancy(name) == (2, 4))
    holder.finish()
    assert holder.most == 2
    assert sorted(map(str, holder.results.values())) == [f"call-{index}" for index in range(6)]
    assert occupancy(name) == (0, 0)


def test_waiting_calls_are_served_first_come_first_served(
    compartment: Callable[..., str], holders: list[Holder]
) -> None:
    name = compartment(1, max_waiting=5, wait_timeout=10)
    holder = Holder(name)
    holders.append(holder)
    holder.start("first")
    eventually(lambda: occupancy(name) == (1, 0))
    for waiting, label in enumerate(["second", "third", "fourth"], 1):
        holder.start(label)
        eventually(lambda waiting=waiting: occupancy(name) == (1, waiting))  # type: ignore[misc]
    holder.finish()
    assert holder.order == ["first", "second", "third", "fourth"]


def test_a_wait_ends_after_the_compartments_wait_timeout(
    compartment: Callable[..., str], holders: list[Holder]
) -> None:
    with baldur.testing.set_testing(True):  # the manual clock times the wait
        name = compartment(1, max_waiting=1, wait_timeout=2.0)
        holder = Holder(name)
        holders.append(holder)
        holder.start("holding")
        eventually(lambda: occupancy(name) == (1, 0))
        holder.start("waiting")
        eventually(lambda: occupancy(name) == (1, 1))
        baldur.testing.advance(1.9)
        assert occupancy(name) == (1, 1)
        baldur.testing.advance(0.1)
        holder.threads[1].join(5)
        refused = holder.results["waiting"]
        assert isinstance(refused, baldur.BulkheadFullError)
        assert str(refused) == f"{name}: 1/1 active, 1/1 waiting"
        assert occupancy(name) == (1, 0)
        assert baldur.compartments()[name].rejected == 1


def test_a_full_fail_fast_compartment_refuses_at_once_in_so_many_words(
    compartment: Callable[..., str], holders: list[Holder]
) -> None:
    name = compartment(1, max_waiting=0)
    holder = holding(name, holders)
    with pytest.raises(baldur.BulkheadFullError) as refused:
        holder.hold("refused")
    assert str(refused.value) == f"{name}: 1/1 active, 0/0 waiting"
    error = refused.value
    assert (error.compartment, error.active, error.capacity) == (name, 1, 1)
    assert (error.waiting, error.max_waiting) == (0, 0)
    assert isinstance(error, baldur.BaldurError)


def test_a_full_line_refuses_with_its_occupancy(
    compartment: Callable[..., str], holders: list[Holder]
) -> None:
    name = compartment(1, max_waiting=1, wait_timeout=10)
    holder = holding(name, holders)
    holder.start("waiting")
    eventually(lambda: occupancy(name) == (1, 1))
    with pytest.raises(baldur.BulkheadFullError, match=f"^{name}: 1/1 active, 1/1 waiting$"):
        holder.hold("refused")


def test_the_built_in_compartments() -> None:
    built_in = {
        name: (s.capacity, s.max_waiting, s.wait_timeout)
        for name, s in baldur.compartments().items()
        if name in ("database", "cache", "external_api", "message_queue")
    }
    assert built_in == {
        "database": (10, 0, 0.0),
        "cache": (20, 0, 0.0),
        "external_api": (5, 10, 5.0),
        "message_queue": (15, 0, 0.0),
    }


def test_a_fallback_answers_a_full_compartment_and_nothing_ran(
    compartment: Callable[..., str], holders: list[Holder]
) -> None:
    name = compartment(1)
    holding(name, holders)
    ran: list[int] = []

    @baldur.protected("bulkhead-fallback", bulkhead=name, fallback=lambda error: type(error))
    def call() -> str:
        ran.append(1)
        return "ran"

    assert call() is baldur.BulkheadFullError
    result = baldur.protect_with_meta(
        "bulkhead-fallback", lambda: ran.append(1), bulkhead=name, fallback=lambda: "cached"
    )
    assert (result.ok, result.value, result.fallback_used, result.attempts) == (
        False,
        "cached",
        True,
        0,
    )
    assert isinstance(result.error, baldur.BulkheadFullError)
    assert not result.rejected  # the breaker's refusal only
    assert ran == []


def test_the_breaker_does_not_count_a_full_compartment(
    compartment: Callable[..., str], holders: list[Holder]
) -> None:
    name = compartment(1)
    holder = holding(name, holders, zone="bulkhead-breaker")
    for _ in range(50):
        with pytest.raises(baldur.BulkheadFullError):
            holder.hold("refused")
    assert baldur.circuit_state("bulkhead-breaker") == "closed"
    holder.finish()
    assert holder.hold("after") == "after"


def test_a_permit_comes_back_after_an_error_and_a_timeout(
    compartment: Callable[..., str],
) -> None:
    name = compartment(1)

    @baldur.protected(
        "bulkhead-errors", bulkhead=name, retry=baldur.RetryPolicy(attempts=2, base_delay=0.0)
    )
    def failing() -> None:
        assert occupancy(name) == (1, 0)
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        failing()
    assert occupancy(name) == (0, 0)

    gate = threading.Event()

    @baldur.protected("bulkhead-timeout", bulkhead=name, timeout=0.05)
    def slow() -> None:
        gate.wait(5)

    with pytest.raises(baldur.ProtectTimeoutError):
        slow()
    gate.set()
    assert occupancy(name) == (0, 0)

    @baldur.protected("bulkhead-fallback-path", bulkhead=name, fallback=lambda: "answered")
    def broken() -> None:
        raise ConnectionError("down")

    assert broken() == "answered"
    assert occupancy(name) == (0, 0)


def test_an_unknown_compartment_is_named_with_the_registered_ones() -> None:
    # A fresh process: this one holds the compartments the other tests registered.
    script = (
        "import baldur\n"
        "try:\n"
        "    baldur.protected('bulkhead-unknown', bulkhead='x')\n"
        "except baldur.ConfigError as error:\n"
        "    print(error)\n"
    )
    printed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=20
    ).stdout
    assert printed == (
        "compartment not found: 'x'; registered: cache, database, external_api, message_queue\n"
    )


def test_an_unknown_compartment_fails_the_decoration_or_the_call() -> None:
    with pytest.raises(
        baldur.ConfigError,
        match=r"^compartment not found: 'nowhere'; registered: .*cache, database",
    ):
        baldur.protected("bulkhead-unknown", bulkhead="nowhere")
    with pytest.raises(baldur.ConfigError, match=r"^compartment not found: 'nowhere'"):
        baldur.protected("bulkhead-unknown", bulkhead="nowhere")(lambda: 1)
    calls: list[int] = []
    with pytest.raises(baldur.ConfigError) as at_call:
        baldur.protect("bulkhead-unknown", lambda: calls.append(1), bulkhead="nowhere")
    assert (at_call.value.key, at_call.value.value) == ("bulkhead", "nowhere")
    assert calls == []
    with pytest.raises(baldur.ConfigError, match="bulkhead"):
        baldur.protected("bulkhead-unknown", bulkhead=5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("keywords", "key"),
    [
        ({"max_concurrent": 0}, "max_concurrent"),
        ({"max_concurrent": True}, "max_concurrent"),
        ({"max_concurrent": 1, "max_waiting": -1}, "max_waiting"),
        ({"max_concurrent": 1, "wait_timeout": -1.0}, "wait_timeout"),
        ({"max_concurrent": 1, "wait_timeout": "1"}, "wait_timeout"),
    ],
)
def test_bad_limits_are_config_errors_naming_the_key(keywords: dict[str, Any], key: str) -> None:
    with pytest.raises(baldur.ConfigError) as refused:
        baldur.register_compartment("bad-compartment", **keywords)
    assert refused.value.key == key
    assert "bad-compartment" not in baldur.compartments()


def test_the_metrics_count_each_compartment(
    compartment: Callable[..., str], holders: list[Holder]
) -> None:
    name = compartment(1)
    holder = holding(name, holders)
    with pytest.raises(baldur.BulkheadFullError):
        holder.hold("refused")
    counts = baldur.metrics_snapshot()["bulkheads"][name]
    assert counts == {"active": 1, "waiting": 0, "capacity": 1, "rejected": 1}
    if baldur.metrics.prometheus_available():
        text = baldur.metrics.prometheus_text()[0].decode()
        assert f'baldur_bulkhead_rejected_total{{compartment="{name}"}} 1.0' in text
        assert f'baldur_bulkhead_active{{compartment="{name}"}} 1.0' in text


def test_a_full_compartment_is_not_a_dead_letter(
    compartment: Callable[..., str],
    holders: list[Holder],
    configure: Callable[..., None],
    tmp_path: Path,
) -> None:
    configure(data_dir=str(tmp_path))
    name = compartment(1)
    holding(name, holders)
    result = baldur.protect_with_meta("bulkhead-dlq", lambda: "ran", bulkhead=name, dlq=True)
    assert isinstance(result.error, baldur.BulkheadFullError)
    assert result.dlq_id is None
    assert baldur.dlq.list(domain="bulkhead-dlq") == []
