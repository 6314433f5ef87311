"""Many threads through one zone: only the expected errors, counts that add
up, and a breaker history that chains without gaps."""

from __future__ import annotations

import functools
import logging
import threading
from collections import Counter
from collections.abc import Callable

import pytest

import baldur
import baldur.testing
from helpers import AlwaysFails, Boom, Flaky, work

THREADS = 32
CALLS_PER_THREAD = 150
STATES = {"closed", "open", "half_open", "forced_open", "forced_closed"}

Configure = Callable[..., None]


def run_threads(count: int, target: Callable[[int], None]) -> list[BaseException]:
    """Runs ``target(index)`` on ``count`` threads released together; returns
    whatever escaped them."""
    barrier = threading.Barrier(count)
    escaped: list[BaseException] = []
    lock = threading.Lock()

    def body(index: int) -> None:
        try:
            barrier.wait(10)
            target(index)
        except BaseException as exc:  # reported by the test
            with lock:
                escaped.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return escaped


def transitions(caplog: pytest.LogCaptureFixture, zone: str) -> list[logging.LogRecord]:
    records = [
        r
        for r in caplog.records
        if getattr(r, "event", None) == "circuit_breaker.state_changed"
        and getattr(r, "zone", None) == zone
    ]
    return sorted(records, key=lambda r: r.generation)  # type: ignore[attr-defined, no-any-return]


def assert_history_chains(records: list[logging.LogRecord], expected_count: int) -> None:
    generations = [r.generation for r in records]  # type: ignore[attr-defined]
    assert generations == list(range(1, expected_count + 1)), "a transition went unlogged"
    previous = "closed"
    for record in records:
        assert record.from_state == previous, f"generation {record.generation} does not chain"  # type: ignore[attr-defined]
        assert record.to_state in STATES  # type: ignore[attr-defined]
        previous = record.to_state  # type: ignore[attr-defined]


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("testing_mode")
def test_many_threads_one_zone(
    zone_name: str, configure: Configure, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="baldur")
    configure(
        cb_failure_threshold=3,
        cb_minimum_calls=5,
        cb_recovery_timeout=0.01,
        cb_half_open_max_calls=2,
    )
    invocations = Counter[str]()
    lock = threading.Lock()

    def dependency(thread: int, call: int) -> int:
        # Bursts of failures and of health, out of step across threads.
        failing = ((call + thread) // 10) % 2 == 0 and (call + thread) % 3 != 0
        with lock:
            invocations["failed" if failing else "ok"] += 1
        work(0.0002)
        if failing:
            raise Boom(f"thread {thread} call {call}")
        return call

    policy = baldur.RetryPolicy(attempts=2, base_delay=0, max_delay=0)
    outcomes = Counter[str]()
    attempts_total = Counter[str]()

    def worker(thread: int) -> None:
        for call in range(CALLS_PER_THREAD):
            result = baldur.protect_with_meta(
                zone_name, functools.partial(dependency, thread, call), retry=policy
            )
            with lock:
                attempts_total["attempts"] += result.attempts
                if result.ok:
                    assert result.value == call
                    outcomes["ok"] += 1
                elif result.rejected:
                    assert isinstance(result.error, baldur.CircuitOpenError)
                    assert result.attempts == 0
                    outcomes["rejected"] += 1
                else:
                    assert isinstance(result.error, Boom), repr(result.error)
                    outcomes["failed"] += 1
            # Pace the callers so recovery timeouts elapse mid-run.
            baldur.testing.advance(0.001)

    escaped = run_threads(THREADS, worker)

    assert escaped == []
    assert sum(outcomes.values()) == THREADS * CALLS_PER_THREAD
    assert outcomes["ok"] > 0
    assert outcomes["failed"] > 0
    assert outcomes["rejected"] > 0  # the breaker did open under load
    # Every attempt a result reports reached the dependency, and no other did.
    assert attempts_total["attempts"] == invocations["ok"] + invocations["failed"]

    snapshot = baldur.circuits()[zone_name]
    assert snapshot["state"] in STATES
    assert 0 <= snapshot["failures"] <= snapshot["calls"]
    records = transitions(caplog, zone_name)
    assert len(records) == snapshot["transitions"] >= 2
    assert_history_chains(records, snapshot["transitions"])
    last: str = records[-1].to_state  # type: ignore[attr-defined]
    # An open breaker whose recovery timeout passed since reads half-open.
    assert snapshot["state"] == (
        "half_open" if last == "open" and snapshot["state"] != "open" else last
    )


@pytest.mark.timeout(60)
def test_operators_acting_while_threads_call(
    zone_name: str, configure: Configure, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="baldur")
    configure(cb_failure_threshold=2, cb_minimum_calls=3, cb_recovery_timeout=0.01)
    baldur.protect(zone_name, lambda: None)
    controls = [baldur.force_open_circuit, baldur.reset_circuit, baldur.force_close_circuit]

    def worker(thread: int) -> None:
        for call in range(100):
            if thread == 0:
                controls[call % len(controls)](zone_name)
                work(0.001)
                continue
            try:
                baldur.protect(zone_name, Flaky(value=call) if call % 2 else AlwaysFails())
            except (Boom, baldur.CircuitOpenError):
                pass

    escaped = run_threads(8, worker)

    assert escaped == []
    records = transitions(caplog, zone_name)
    count = baldur.circuits()[zone_name]["transitions"]
    assert len(records) == count
    assert_history_chains(records, count)


@pytest.mark.timeout(60)
def test_concurrent_decoration_of_one_name_makes_one_breaker(
    zone_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="baldur")
    functions: list[Callable[[], int]] = []
    lock = threading.Lock()

    def worker(thread: int) -> None:
        protected = baldur.protected(zone_name, retry=True)(lambda: thread)
        with lock:
            functions.append(protected)
        assert protected() == thread

    escaped = run_threads(THREADS, worker)

    assert escaped == []
    assert len(functions) == THREADS
    assert baldur.circuits()[zone_name]["calls"] == THREADS  # one shared window
    built = [
        r
        for r in caplog.records
        if getattr(r, "event", None) == "protect.composer_built"
        and getattr(r, "zone", None) == zone_name
    ]
    assert len(built) == 1


@pytest.mark.timeout(60)
def test_many_zones_at_once_stay_apart(new_name: Callable[[], str], configure: Configure) -> None:
    # One failure among twenty successes trips it: the count alone decides.
    configure(
        cb_failure_threshold=1,
        cb_minimum_calls=1,
        cb_recovery_timeout=30,
        cb_failure_rate_threshold=0.01,
    )
    names = [new_name() for _ in range(THREADS)]

    def worker(thread: int) -> None:
        name = names[thread]
        for _ in range(20):
            baldur.protect(name, lambda: "ok")
        if thread % 2:
            with pytest.raises(Boom):
                baldur.protect(name, AlwaysFails())

    escaped = run_threads(THREADS, worker)

    assert escaped == []
    everything = baldur.circuits()
    for index, name in enumerate(names):
        expected = "open" if index % 2 else "closed"
        assert everything[name]["state"] == expected, name
