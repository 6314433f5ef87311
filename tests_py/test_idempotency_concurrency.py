"""Idempotency over time and under threads: the memory TTL of a completed
key, the execution window after which a running claim is taken over (owner
tokens keep the old owner's late end from touching the new claim), and many
threads racing for one key. Time passes on the manual clock."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

import baldur
import baldur.testing
from helpers import Boom, Recorder

Duplicate = baldur.IdempotencyDuplicateError


def start(target: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    """Runs ``target`` on a thread; its answer (or exception) lands in the list."""
    outcome: list[object] = []

    def body() -> None:
        try:
            outcome.append(target())
        except BaseException as exc:  # inspected by the test
            outcome.append(exc)

    thread = threading.Thread(target=body)
    thread.start()
    return thread, outcome


def events(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [getattr(r, "event", "") for r in caplog.records if r.name == "baldur.idempotency"]


@pytest.mark.usefixtures("testing_mode")
@pytest.mark.parametrize("source", ["init", "environment"])
def test_a_completed_key_blocks_for_the_memory_ttl(
    zone_name: str, configure: Any, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    if source == "init":
        configure(idempotency_gate_memory_ttl_seconds=0.1)
    else:
        monkeypatch.setenv("BALDUR_IDEMPOTENCY_GATE_MEMORY_TTL_SECONDS", "0.1")
        configure()
    side_effect = Recorder()
    charge = baldur.protected(zone_name, idempotency_key="order_id")(side_effect)
    charge("o-1")
    with pytest.raises(Duplicate, match="completed"):
        charge("o-1")
    baldur.testing.advance(0.3)
    assert charge("o-1") == "done o-1" and side_effect.ran == ["o-1", "o-1"]


@pytest.mark.usefixtures("testing_mode")
@pytest.mark.parametrize("old_owner", ["returns", "raises"])
def test_a_claim_past_its_execution_window_is_taken_over(
    zone_name: str, caplog: pytest.LogCaptureFixture, old_owner: str
) -> None:
    gates = {"old": threading.Event(), "new": threading.Event()}
    started = {"old": threading.Event(), "new": threading.Event()}
    ran: list[str] = []

    @baldur.protected(zone_name, idempotency_key="order_id", idempotency_execution_ttl=0.3)
    def charge(order_id: str, who: str) -> str:
        ran.append(who)
        if who in gates:
            started[who].set()
            gates[who].wait(10)
        if who == "old" and old_owner == "raises":
            raise Boom("the old owner failed late")
        return who

    caplog.set_level(logging.WARNING, logger="baldur.idempotency")
    old, old_outcome = start(lambda: charge("o-1", "old"))
    assert started["old"].wait(10)
    with pytest.raises(Duplicate, match="in_progress"):
        charge("o-1", "early")  # still inside the window
    baldur.testing.advance(0.4)
    new, new_outcome = start(lambda: charge("o-1", "new"))  # takes the claim over
    try:
        assert started["new"].wait(10)
        gates["old"].set()
        old.join(10)
        # The old owner's late end left the new owner's claim alone.
        with pytest.raises(Duplicate) as info:
            charge("o-1", "third")
        assert info.value.state == "in_progress"
    finally:
        gates["old"].set()
        gates["new"].set()
        new.join(10)
    assert new_outcome == ["new"] and ran == ["old", "new"]
    with pytest.raises(Duplicate, match="completed"):
        charge("o-1", "late")
    if old_owner == "returns":
        assert old_outcome == ["old"]  # its caller still gets its answer
    else:
        assert isinstance(old_outcome[0], Boom)
    assert "idempotency.claim_taken_over" in events(caplog)
    assert ("idempotency.completion_blocked" in events(caplog)) == (old_owner == "returns")


@pytest.mark.usefixtures("testing_mode")
def test_idempotent_execution_ttl_and_a_blocked_late_completion(
    zone_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    unblock = threading.Event()
    side_effect = Recorder()

    @baldur.idempotent(key="order_id", operation=zone_name, execution_ttl=0.05)
    def ship(order_id: str, hang: bool) -> str:
        if hang:
            unblock.wait(10)
        return side_effect(order_id)

    caplog.set_level(logging.WARNING, logger="baldur.idempotency")
    stuck, stuck_outcome = start(lambda: ship("o-1", True))
    try:
        baldur.testing.advance(0.2)
        assert ship("o-1", False) == "done o-1"  # took the stale claim over
    finally:
        unblock.set()
        stuck.join(10)
    assert stuck_outcome == ["done o-1"]  # its caller still gets its answer
    with pytest.raises(Duplicate, match="completed"):
        ship("o-1", False)
    blocked = [
        r for r in caplog.records if getattr(r, "event", "") == "idempotency.completion_blocked"
    ]
    assert len(blocked) == 1 and blocked[0].levelno == logging.WARNING
    assert blocked[0].key == f"{zone_name}:o-1"  # type: ignore[attr-defined]


def run_threads(count: int, target: Callable[[int], None]) -> None:
    barrier = threading.Barrier(count)
    threads = [
        threading.Thread(target=lambda i=i: (barrier.wait(10), target(i))) for i in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"


def test_sixteen_threads_one_key_exactly_one_runs(zone_name: str) -> None:
    everyone_refused = threading.Event()
    refused: list[str] = []
    answers: list[Any] = []
    lock = threading.Lock()

    @baldur.protected(zone_name, idempotency_key="order_id")
    def charge(order_id: str) -> str:
        everyone_refused.wait(10)  # slow: holds the claim until the others were refused
        return "charged"

    def call(_: int) -> None:
        try:
            answers.append(charge("o-1"))
        except Duplicate as duplicate:
            with lock:
                refused.append(duplicate.state)
                if len(refused) == 15:
                    everyone_refused.set()

    run_threads(16, call)
    assert answers == ["charged"] and refused == ["in_progress"] * 15
    with pytest.raises(Duplicate, match="completed"):
        charge("o-1")


def test_threads_racing_over_many_keys_run_each_key_once(zone_name: str) -> None:
    runs: Counter[str] = Counter()
    lock = threading.Lock()

    @baldur.protected(zone_name, idempotency_key="order_id")
    def charge(order_id: str) -> None:
        with lock:
            runs[order_id] += 1

    def call(_: int) -> None:
        for n in range(200):
            try:
                charge(f"o-{n}")
            except Duplicate:
                pass

    run_threads(16, call)
    assert runs == Counter({f"o-{n}": 1 for n in range(200)})
