"""Replaying dead letters: in another process, under the same protection,
one replayer per entry, with a budget that ends in needs_review."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import baldur
from helpers import eventually, probed

APPS = Path(__file__).parent / "apps"


@pytest.fixture
def jobs(
    configure: Callable[..., None],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dlq_store: dict[str, str],
) -> Iterator[Path]:
    """The importable jobs module, a queue of this test's own (on each
    store), and the file the jobs mark each real run in."""
    marker = tmp_path / "runs.txt"
    monkeypatch.syspath_prepend(str(APPS))
    monkeypatch.setenv("BALDUR_TEST_MARKER", str(marker))
    if "redis_url" in dlq_store:  # for the processes the test starts
        monkeypatch.setenv("BALDUR_REDIS_URL", dlq_store["redis_url"])
    configure(data_dir=str(tmp_path), **dlq_store)
    sys.modules.pop("dlq_jobs", None)
    for zone in ("dlq-jobs", "dlq-jobs-async"):  # breakers live as long as the process
        with contextlib.suppress(KeyError):
            baldur.reset_circuit(zone)
    yield marker
    sys.modules.pop("dlq_jobs", None)


def run_in_new_process(tmp_path: Path, code: str, fail: bool, pythonpath: str = "") -> str:
    env = {
        **os.environ,
        "PYTHONPATH": pythonpath or str(APPS),
        "BALDUR_DATA_DIR": str(tmp_path),
        "BALDUR_TEST_FAIL": "1" if fail else "0",
    }
    done = subprocess.run(
        [sys.executable, "-c", "import baldur, dlq_jobs\n" + code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_an_entry_is_replayed_by_a_new_process_found_by_import_path(
    jobs: Path, tmp_path: Path
) -> None:
    entry_id = run_in_new_process(
        tmp_path,
        "r = baldur.protect_with_meta('x', lambda: None)\n"
        "try:\n    dlq_jobs.ship('o-1', quantity=2)\nexcept ConnectionError:\n    pass\n"
        "print(baldur.dlq.list(domain='dlq-jobs')[0]['id'])",
        fail=True,
    )
    assert not jobs.exists()  # it never ran
    outcome = run_in_new_process(tmp_path, f"print(baldur.dlq.replay({entry_id!r}))", fail=False)
    assert "'ok': True" in outcome
    assert jobs.read_text() == "o-1:2\n"
    assert baldur.dlq.get(entry_id) is None  # success removes it


def test_a_failing_replay_spends_its_budget_then_needs_review(
    jobs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BALDUR_TEST_FAIL", "1")
    import dlq_jobs

    with pytest.raises(ConnectionError):
        dlq_jobs.ship("o-2")
    [entry] = baldur.dlq.list(domain="dlq-jobs")
    states = [baldur.dlq.replay(entry["id"])["state"] for _ in range(3)]
    assert states == ["pending", "pending", "needs_review"]
    assert baldur.dlq.replay(entry["id"])["replayed"] is False  # never retried forever
    assert baldur.dlq.get(entry["id"])["last_replay_error"].startswith("ConnectionError")  # type: ignore[index]
    monkeypatch.setenv("BALDUR_TEST_FAIL", "0")
    assert baldur.dlq.redrive(entry["id"]) is True
    assert baldur.dlq.replay(entry["id"])["ok"] is True
    assert jobs.read_text() == "o-2:1\n"


def test_concurrent_replayers_never_run_one_entry_twice(
    jobs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BALDUR_TEST_FAIL", "1")
    import dlq_jobs

    for order in ("a", "b", "c"):
        with pytest.raises(ConnectionError):
            dlq_jobs.ship(order)
    monkeypatch.setenv("BALDUR_TEST_FAIL", "0")
    ids = [e["id"] for e in baldur.dlq.list(domain="dlq-jobs")]
    start = threading.Barrier(8)

    def replayer() -> None:
        start.wait()
        for entry_id in ids:
            baldur.dlq.replay(entry_id)

    threads = [threading.Thread(target=replayer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(jobs.read_text().split()) == ["a:1", "b:1", "c:1"]
    assert baldur.dlq.list(domain="dlq-jobs") == []


def test_batch_replay_by_domain_and_by_failure_type(
    jobs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BALDUR_TEST_FAIL", "1")
    import dlq_jobs

    for order in ("x", "y"):
        with pytest.raises(ConnectionError):
            dlq_jobs.ship(order)
    monkeypatch.setenv("BALDUR_TEST_FAIL", "0")
    none = baldur.dlq.replay_batch(failure_type="builtins.TimeoutError")
    assert none == []
    done = baldur.dlq.replay_batch(domain="dlq-jobs")
    assert [d["ok"] for d in done] == [True, True]
    assert sorted(jobs.read_text().split()) == ["x:1", "y:1"]


def test_an_async_entry_is_replayed_with_areplay(
    jobs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BALDUR_TEST_FAIL", "1")
    import dlq_jobs

    with pytest.raises(ConnectionError):
        asyncio.run(dlq_jobs.notify("ann"))
    [entry] = baldur.dlq.list(domain="dlq-jobs-async")
    with pytest.raises(TypeError, match="areplay"):
        baldur.dlq.replay(entry["id"])
    monkeypatch.setenv("BALDUR_TEST_FAIL", "0")
    assert baldur.dlq.redrive(entry["id"]) is False  # still pending, one replay spent
    outcome = asyncio.run(baldur.dlq.areplay(entry["id"]))
    assert outcome["ok"] is True
    assert jobs.read_text() == "notified ann\n"


def test_entries_are_replayed_when_the_breaker_closes_again(
    jobs: Path,
    monkeypatch: pytest.MonkeyPatch,
    configure: Callable[..., None],
    tmp_path: Path,
    dlq_store: dict[str, str],
) -> None:
    """The outage's letters go out by themselves once probing succeeds."""
    configure(
        **dlq_store,
        data_dir=str(tmp_path),
        cb_failure_threshold=2,
        cb_minimum_calls=2,
        cb_recovery_timeout=0.2,
        cb_half_open_max_calls=1,
    )
    monkeypatch.setenv("BALDUR_TEST_FAIL", "1")
    import dlq_jobs

    for order in ("p", "q"):
        with pytest.raises(ConnectionError):
            dlq_jobs.ship(order)
    assert baldur.circuit_state("dlq-jobs") == "open"
    with pytest.raises(baldur.CircuitOpenError):
        dlq_jobs.ship("r")  # rejected, and recorded too
    assert len(baldur.dlq.list(domain="dlq-jobs")) == 3
    monkeypatch.setenv("BALDUR_TEST_FAIL", "0")
    # The probe that closes the breaker (not itself dead-lettered: a shared
    # breaker may refuse a probe or two while the fleet's slot is settled).
    eventually(lambda: probed("dlq-jobs"), within=10)
    eventually(lambda: not baldur.dlq.list(domain="dlq-jobs"), within=10)
    assert baldur.dlq.list(domain="dlq-jobs") == []
    assert sorted(jobs.read_text().split()) == ["p:1", "q:1", "r:1"]


def test_the_async_forms_answer_from_the_event_loop(
    jobs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BALDUR_TEST_FAIL", "1")
    import dlq_jobs

    for order in ("s1", "s2"):
        with pytest.raises(ConnectionError):
            dlq_jobs.ship(order)
    with pytest.raises(ConnectionError):
        asyncio.run(dlq_jobs.notify("a1"))
    monkeypatch.setenv("BALDUR_TEST_FAIL", "0")

    async def main() -> tuple[dict[str, object], list[dict[str, object]], int]:
        first, _ = await baldur.dlq.alist(domain="dlq-jobs")
        assert (await baldur.dlq.aget(first["id"]))["function"] == "dlq_jobs:ship"  # type: ignore[index]
        assert await baldur.dlq.aredrive(first["id"]) is False  # pending, not needs_review
        assert await baldur.dlq.apurge(domain="dlq-jobs", state="pending", confirm=True) == 2
        counts = await baldur.dlq.astats()
        replayed = await baldur.dlq.areplay_batch(domain="dlq-jobs-async")
        return counts, replayed, len(await baldur.dlq.alist())

    counts, replayed, left = asyncio.run(main())
    assert counts["total"] == 1
    assert [outcome["ok"] for outcome in replayed] == [True]
    assert jobs.read_text() == "notified a1\n"
    assert left == 0


def test_a_batch_sends_entries_whose_function_is_gone_to_review_and_carries_on(
    jobs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A function renamed, a module moved: the entry waits in needs_review
    with the error, its budget spent; the rest of the batch is replayed."""
    code = tmp_path / "code"
    code.mkdir()
    for module in ("moved_jobs", "renamed_jobs"):
        (code / f"{module}.py").write_text(
            "import baldur\n\n"
            "@baldur.protected('dlq-jobs', dlq=True)\n"
            "def old_ship(order_id):\n"
            "    raise ConnectionError('down')\n"
        )
    monkeypatch.syspath_prepend(str(code))
    import moved_jobs
    import renamed_jobs

    for ship in (moved_jobs.old_ship, renamed_jobs.old_ship):
        with pytest.raises(ConnectionError):
            ship("gone")
    monkeypatch.setenv("BALDUR_TEST_FAIL", "1")
    import dlq_jobs

    with pytest.raises(ConnectionError):
        dlq_jobs.ship("kept")
    # The next release: one module moved away, one function renamed.
    (code / "moved_jobs.py").unlink()
    (code / "renamed_jobs.py").write_text(
        "import baldur\n\n"
        "@baldur.protected('dlq-jobs', dlq=True)\n"
        "def new_ship(order_id):\n"
        "    return order_id\n"
    )
    for module in ("moved_jobs", "renamed_jobs"):
        del sys.modules[module]
    outcome = run_in_new_process(
        tmp_path,
        "import json\nprint(json.dumps(baldur.dlq.replay_batch(domain='dlq-jobs')))",
        fail=False,
        pythonpath=f"{APPS}{os.pathsep}{code}",
    )
    moved, renamed, kept = json.loads(outcome)
    assert (moved["state"], renamed["state"], kept["state"]) == ("needs_review",) * 2 + ("done",)
    assert "No module named 'moved_jobs'" in moved["error"]
    assert "renamed_jobs:old_ship" in renamed["error"]
    for entry_id in (moved["id"], renamed["id"]):
        entry = baldur.dlq.get(entry_id)
        assert entry is not None
        assert (entry["state"], entry["replays_left"]) == ("needs_review", 0)
    assert jobs.read_text() == "kept:1\n"


def test_an_entry_of_a_local_function_is_not_replayable_and_sweeps_say_nothing(
    jobs: Path, zone_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    @baldur.protected(zone_name, dlq=True)
    def local_job(order_id: str) -> None:
        raise ConnectionError("down")

    with caplog.at_level(logging.WARNING, logger="baldur"), pytest.raises(ConnectionError):
        local_job("o-9")
    [entry] = baldur.dlq.list(domain=zone_name)
    assert entry["replayable"] is False
    [warned] = [
        r for r in caplog.records if getattr(r, "event", None) == "dlq.argument_not_replayable"
    ]
    assert "local function or lambda" in warned.getMessage()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="baldur"):
        baldur.dlq.sweep_in_background(zone_name).join(30)
        assert baldur.dlq.replay_batch(domain=zone_name) == []
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_replaying_an_idempotent_call_whose_work_completed_since_is_done(
    jobs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BALDUR_TEST_FAIL", "1")
    import dlq_jobs

    with pytest.raises(ConnectionError):
        dlq_jobs.reserve("o-5")
    with pytest.raises(ConnectionError):
        asyncio.run(dlq_jobs.areserve("o-6"))
    monkeypatch.setenv("BALDUR_TEST_FAIL", "0")
    assert dlq_jobs.reserve("o-5") == "o-5"  # the client retried, and it went through
    assert asyncio.run(dlq_jobs.areserve("o-6")) == "o-6"
    [entry] = baldur.dlq.list(domain="dlq-jobs-idempotent")
    [async_entry] = baldur.dlq.list(domain="dlq-jobs-idempotent-async")
    assert baldur.dlq.replay(entry["id"]) == {
        "id": entry["id"],
        "replayed": True,
        "ok": True,
        "state": "done",
    }
    assert asyncio.run(baldur.dlq.areplay(async_entry["id"]))["state"] == "done"
    assert baldur.dlq.get(entry["id"]) is None
    assert baldur.dlq.get(async_entry["id"]) is None
    assert jobs.read_text() == "reserved o-5\nreserved o-6\n"  # each ran once


def test_arguments_are_replayed_exactly_as_they_were_passed(
    jobs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BALDUR_TEST_FAIL", "1")
    import dlq_jobs

    order = {1: "a", (2, 3): ["b", ("c",)], "__baldur__": {"tuple": True}}
    with pytest.raises(ConnectionError):
        dlq_jobs.ship(order, quantity=(1, 2))
    [entry] = baldur.dlq.list(domain="dlq-jobs")
    assert entry["replayable"] is True
    monkeypatch.setenv("BALDUR_TEST_FAIL", "0")
    assert baldur.dlq.replay(entry["id"])["ok"] is True
    assert jobs.read_text() == f"{order}:{(1, 2)}\n"


class _Level(enum.IntEnum):
    HIGH = 1


@pytest.mark.parametrize(
    "order",
    [_Level.HIGH, collections.OrderedDict(a=1), {"x": {1, 2}}, collections.namedtuple("P", "x")(1)],
    ids=["int-enum", "ordered-dict", "set", "namedtuple"],
)
def test_arguments_that_would_come_back_different_make_the_entry_not_replayable(
    jobs: Path, monkeypatch: pytest.MonkeyPatch, order: object
) -> None:
    """JSON would hand the replay an int, a dict, a list, a tuple: equal
    perhaps, but not what was passed."""
    monkeypatch.setenv("BALDUR_TEST_FAIL", "1")
    import dlq_jobs

    with pytest.raises(ConnectionError):
        dlq_jobs.ship(order)
    [entry] = baldur.dlq.list(domain="dlq-jobs")
    assert entry["replayable"] is False
