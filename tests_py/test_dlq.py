"""The dead-letter queue: what is recorded, durably, within its caps."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

import baldur
from helpers import AlwaysFails, Boom, Slow


@pytest.fixture
def queue(configure: Callable[..., None], tmp_path: Path, dlq_store: dict[str, str]) -> Path:
    """A fresh queue of this test's own, on each store."""
    configure(data_dir=str(tmp_path), **dlq_store)
    return tmp_path


def test_an_exhausted_call_is_recorded_even_when_the_fallback_answers(
    queue: Path, zone_name: str
) -> None:
    policy = baldur.RetryPolicy(attempts=2, base_delay=0)

    @baldur.protected(zone_name, retry=policy, fallback=lambda: "queued", dlq=True)
    def charge(order_id: str, amount: int = 10) -> str:
        raise ConnectionError("gateway down")

    assert charge("o-1", amount=5) == "queued"
    [entry] = baldur.dlq.list(domain=zone_name)
    assert entry["function"].endswith(
        ":test_an_exhausted_call_is_recorded_even_when_the_fallback_answers.<locals>.charge"
    )
    assert entry["arguments"] == '{"args": ["o-1"], "kwargs": {"amount": 5}}'
    assert (entry["error_type"], entry["error_message"]) == (
        "builtins.ConnectionError",
        "gateway down",
    )
    assert (entry["attempts"], entry["reason"], entry["state"]) == (2, "exhausted", "pending")
    assert entry["created_at"] > 0


def test_a_rejection_and_a_timeout_are_recorded_with_their_reason(
    queue: Path, zone_name: str
) -> None:
    result = baldur.protect_with_meta(zone_name, AlwaysFails(), dlq=True)
    assert result.dlq_id is not None
    baldur.force_open_circuit(zone_name)
    rejected = baldur.protect_with_meta(zone_name, AlwaysFails(), dlq=True)
    assert rejected.rejected and rejected.dlq_id is not None
    assert baldur.dlq.get(rejected.dlq_id)["reason"] == "circuit_open"  # type: ignore[index]
    baldur.reset_circuit(zone_name)
    slow = baldur.protect_with_meta(zone_name, Slow(1), timeout=0.05, dlq=True)
    assert baldur.dlq.get(slow.dlq_id)["reason"] == "timeout"  # type: ignore[arg-type,index]


def test_successes_and_ignored_errors_are_not_recorded(queue: Path, zone_name: str) -> None:
    assert baldur.protect(zone_name, lambda: 1, dlq=True) == 1
    with pytest.raises(KeyError):
        baldur.protect(zone_name, lambda: {}["x"], dlq=True, ignore=(KeyError,))
    assert baldur.dlq.list(domain=zone_name) == []


def test_arguments_that_are_not_json_make_the_entry_not_replayable(
    queue: Path, zone_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    @baldur.protected(zone_name, dlq=True)
    def upload(blob: object, name: str) -> None:
        raise Boom("storage down")

    with caplog.at_level(logging.WARNING, logger="baldur"), pytest.raises(Boom):
        upload(object(), name="x")
    [entry] = baldur.dlq.list(domain=zone_name)
    assert entry["replayable"] is False
    assert '"__repr__": "<object object' in entry["arguments"]
    warned = [
        r for r in caplog.records if getattr(r, "event", None) == "dlq.argument_not_replayable"
    ]
    assert warned and "args[0]" in warned[0].arguments  # type: ignore[attr-defined]
    assert baldur.dlq.replay(entry["id"])["replayed"] is False


def test_an_acknowledged_entry_survives_kill_9(queue: Path, dlq_store: dict[str, str]) -> None:
    script = textwrap.dedent(
        f"""
        import os, signal, baldur
        baldur.init(data_dir={str(queue)!r}, **{dlq_store!r})
        result = baldur.protect_with_meta("dlq-crash", lambda: 1 / 0, dlq=True)
        print(result.dlq_id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    crashed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert crashed.returncode == -signal.SIGKILL
    entry_id = crashed.stdout.strip()
    assert entry_id.startswith("dlq-crash:" if dlq_store else "")
    entry = baldur.dlq.get(entry_id)
    assert entry is not None and entry["error_type"] == "builtins.ZeroDivisionError"


@pytest.mark.parametrize("strategy", ["drop_oldest", "compress_oldest"])
def test_a_full_queue_evicts_the_oldest_and_says_so(
    configure: Callable[..., None],
    tmp_path: Path,
    zone_name: str,
    strategy: str,
    caplog: pytest.LogCaptureFixture,
    dlq_store: dict[str, str],
) -> None:
    configure(data_dir=str(tmp_path), dlq_max_size=3, dlq_overflow_strategy=strategy, **dlq_store)
    with caplog.at_level(logging.WARNING, logger="baldur"):
        for i in range(5):
            baldur.protect_with_meta(zone_name, raising_boom(i), dlq=True)
    entries = baldur.dlq.list(domain=zone_name)
    assert [e["error_message"] for e in entries] == ["2", "3", "4"]
    stats = baldur.dlq.stats()
    assert stats["evicted"] == 2  # counted in the store itself
    assert any(getattr(r, "event", None) == "dlq.entries_evicted" for r in caplog.records)
    if strategy == "compress_oldest":
        [(zone, error_type, count)] = stats["compressed_summaries"]
        assert (zone, count) == (zone_name, 2) and error_type.endswith("Boom")


def test_a_full_queue_that_rejects_fails_the_call_loudly(
    configure: Callable[..., None], tmp_path: Path, zone_name: str, dlq_store: dict[str, str]
) -> None:
    configure(data_dir=str(tmp_path), dlq_max_size=1, dlq_overflow_strategy="reject", **dlq_store)
    baldur.protect_with_meta(zone_name, raising_boom(0), dlq=True)
    with pytest.raises(baldur.DeadLetterQueueFullError) as full:
        baldur.protect(zone_name, raising_boom(1), dlq=True)
    assert isinstance(full.value.__cause__, Boom)


def test_the_per_domain_cap_evicts_within_the_domain(
    configure: Callable[..., None],
    tmp_path: Path,
    new_name: Callable[[], str],
    dlq_store: dict[str, str],
) -> None:
    configure(data_dir=str(tmp_path), dlq_max_per_domain=2, **dlq_store)
    busy, quiet = new_name(), new_name()
    baldur.protect_with_meta(quiet, raising_boom(0), dlq=True)
    for i in range(4):
        baldur.protect_with_meta(busy, raising_boom(i), dlq=True)
    assert len(baldur.dlq.list(domain=busy)) == 2
    assert len(baldur.dlq.list(domain=quiet)) == 1


def test_purge_is_explicit(queue: Path, zone_name: str) -> None:
    baldur.protect_with_meta(zone_name, raising_boom(0), dlq=True)
    with pytest.raises(ValueError, match="confirm"):
        baldur.dlq.purge(domain=zone_name)
    assert baldur.dlq.purge(domain=zone_name, confirm=True) == 1


def raising_boom(i: int) -> Callable[[], None]:
    def fail() -> None:
        raise Boom(str(i))

    return fail


def test_bad_dlq_settings_are_config_errors(configure: Callable[..., None]) -> None:
    with pytest.raises(baldur.ConfigError) as caught:
        configure(dlq_overflow_strategy="drop_newest")
    assert caught.value.key == "dlq_overflow_strategy"
    with pytest.raises(baldur.ConfigError):
        configure(dlq_max_size=0)


class _BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


class _BadStr(ConnectionError):
    def __str__(self) -> str:
        raise RuntimeError("no str for you")


def _nested(depth: int) -> list[object]:
    value: list[object] = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "argument", [_nested(5000), 10**5000, _BadRepr()], ids=["deep", "huge-int", "bad-repr"]
)
def test_an_argument_that_cannot_be_encoded_never_changes_the_outcome(
    queue: Path, zone_name: str, argument: object, caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0

    def charge(order: object) -> str:
        nonlocal calls
        calls += 1
        raise ConnectionError("down")

    with caplog.at_level(logging.WARNING, logger="baldur"):
        fallback = baldur.protected(zone_name, dlq=True, fallback=lambda: "queued")(charge)
        assert fallback(argument) == "queued"
        bare = baldur.protected(zone_name, dlq=True)(charge)
        with pytest.raises(ConnectionError, match="down"):
            bare(argument)
    assert calls == 2
    entries = baldur.dlq.list(domain=zone_name)
    assert len(entries) == 2
    for entry in entries:
        assert entry["replayable"] is False
        assert json.loads(entry["arguments"])["args"][0].keys() == {"__repr__"}
    warned = [
        r for r in caplog.records if getattr(r, "event", None) == "dlq.argument_not_replayable"
    ]
    assert warned and all("args[0]" in r.arguments for r in warned)  # type: ignore[attr-defined]


def test_an_error_whose_str_raises_is_still_recorded(
    queue: Path, zone_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    def charge() -> None:
        raise _BadStr()

    result = baldur.protect_with_meta(zone_name, charge, dlq=True, fallback=lambda: "queued")
    assert (result.value, type(result.error)) == ("queued", _BadStr)
    with pytest.raises(_BadStr):
        baldur.protect(zone_name, charge, dlq=True)
    entries = baldur.dlq.list(domain=zone_name)
    assert len(entries) == 2
    assert all(e["error_type"].endswith("_BadStr") for e in entries)
    assert all("_BadStr" in e["error_message"] for e in entries)  # a placeholder


def test_aprotect_with_meta_records_the_call_as_protect_with_meta_does(
    queue: Path, zone_name: str
) -> None:
    async def down() -> None:
        raise ConnectionError("down")

    async def calls() -> list[baldur.ProtectResult]:
        gave_up = await baldur.aprotect_with_meta(
            zone_name, down, dlq=True, fallback=lambda: "queued"
        )
        baldur.force_open_circuit(zone_name)
        rejected = await baldur.aprotect_with_meta(zone_name, down, dlq=True)
        baldur.reset_circuit(zone_name)
        return [gave_up, rejected]

    gave_up, rejected = asyncio.run(calls())
    assert gave_up.value == "queued" and gave_up.dlq_id is not None
    assert rejected.rejected and rejected.dlq_id is not None
    recorded = {e["id"]: e["reason"] for e in baldur.dlq.list(domain=zone_name)}
    assert recorded == {gave_up.dlq_id: "exhausted", rejected.dlq_id: "circuit_open"}
    sync = baldur.protect_with_meta(zone_name, lambda: 1 / 0, dlq=True)
    assert sync.dlq_id is not None  # the same as the sync form
