"""Scheduled tasks: run repeatedly on the scheduler's thread, a raising one
retried, counted and logged, leader-only ones on the leader, in a forked
child too, stopped at exit; and bad schedules refused by name."""

from __future__ import annotations

import logging
import multiprocessing
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import baldur
import baldur.scheduler
from helpers import eventually

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def names() -> Iterator[Callable[[str], str]]:
    """Task names for this test, cancelled when it ends (tasks live as long
    as the process's scheduler)."""
    taken: list[str] = []

    def name(base: str) -> str:
        taken.append(base)
        return base

    yield name
    for base in taken:
        baldur.scheduler.cancel(base)


def test_a_task_runs_repeatedly_on_the_scheduler_thread(
    names: Callable[[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    threads: list[str] = []

    @baldur.scheduled(names("tick"), every=0.2)
    def tick() -> None:
        threads.append(threading.current_thread().name)

    with caplog.at_level(logging.DEBUG, logger="baldur.scheduler"):
        eventually(lambda: len(threads) >= 3)
        # Each run is an event (DEBUG: a task may run every second).
        eventually(
            lambda: any(
                getattr(r, "event", None) == "scheduler.run_completed"
                and getattr(r, "task", None) == "tick"
                for r in caplog.records
            )
        )
    assert threads[0] != threading.main_thread().name
    status = baldur.scheduler.status()
    assert status.running
    task = status.tasks["tick"]
    assert (task.every, task.at, task.leader_only) == (0.2, None, False)
    assert task.runs >= 3 and task.failures == 0 and task.last_error is None
    assert time.time() - 1 < task.next_run < time.time() + 1
    assert tick() is None  # the function itself, still callable


def test_a_raising_task_is_retried_each_tick_counted_and_logged(
    names: Callable[[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[float] = []

    @baldur.scheduled(names("flaky"), every=0.2)
    def flaky() -> None:
        calls.append(time.monotonic())
        raise ValueError("cannot reach redis://user:hunter2@cache:6379/0")

    with caplog.at_level(logging.WARNING, logger="baldur.scheduler"):
        eventually(lambda: (baldur.scheduler.task("flaky") or _none).failures >= 3)
    task = baldur.scheduler.task("flaky")
    assert task is not None and task.runs == 0
    assert task.last_error is not None and task.last_error.startswith("ValueError: ")
    assert "hunter2" not in task.last_error
    # Retried on the next tick, not later: about one interval apart.
    assert calls[2] - calls[1] < 1.0
    failed = [r for r in caplog.records if getattr(r, "event", None) == "scheduler.run_failed"]
    assert len(failed) >= 3
    assert failed[0].task == "flaky"  # type: ignore[attr-defined]
    assert failed[0].error_type == "ValueError"  # type: ignore[attr-defined]
    assert "hunter2" not in failed[0].getMessage()
    assert baldur.scheduler.status().running  # the scheduler survived


class _NoTask:
    failures = 0


_none = _NoTask()


def test_a_task_that_raises_a_custom_error_is_named_by_its_module(
    names: Callable[[str], str],
) -> None:
    class Broken(Exception):
        pass

    def broken() -> None:
        raise Broken("no")

    baldur.scheduler.schedule(names("broken"), broken, every=0.1)
    eventually(lambda: (baldur.scheduler.task("broken") or _none).failures >= 1)
    task = baldur.scheduler.task("broken")
    assert task is not None and task.last_error == f"{__name__}.{Broken.__qualname__}: no"


def test_a_leader_only_task_runs_on_the_leader(names: Callable[[str], str]) -> None:
    # Without Redis every process leads itself: never a silent "never leader".
    runs: list[int] = []

    @baldur.scheduled(names("lead"), every=0.2, leader_only=True)
    def lead() -> None:
        runs.append(1)

    eventually(lambda: len(runs) >= 2)
    task = baldur.scheduler.task("lead")
    assert task is not None and task.leader_only and task.not_leader == 0


def test_a_daily_task_is_due_at_its_local_time(names: Callable[[str], str]) -> None:
    @baldur.scheduled(names("nightly"), at="03:30")
    def nightly() -> None:  # pragma: no cover - not due during the test
        pass

    task = baldur.scheduler.task("nightly")
    assert task is not None and (task.every, task.at, task.runs) == (None, "03:30", 0)
    local = time.localtime(task.next_run)
    assert (local.tm_hour, local.tm_min) == (3, 30)
    assert 0 < task.next_run - time.time() <= 24 * 3600


@pytest.mark.parametrize(
    ("keywords", "key"),
    [
        ({"every": 0}, "every"),
        ({"every": -1}, "every"),
        ({"every": float("nan")}, "every"),
        ({"every": "5"}, "every"),
        ({"every": True}, "every"),
        ({"at": "24:00"}, "at"),
        ({"at": "9:30"}, "at"),
        ({"at": 930}, "at"),
        ({"every": 5, "at": "09:30"}, "every/at"),
        ({}, "every/at"),
        ({"every": 5, "leader_only": "yes"}, "leader_only"),
    ],
)
def test_a_bad_schedule_is_a_config_error_naming_the_key(
    keywords: dict[str, object], key: str
) -> None:
    with pytest.raises(baldur.ConfigError) as refused:
        baldur.scheduled("bad", **keywords)(lambda: None)  # type: ignore[arg-type]
    assert refused.value.key == key
    assert refused.value.allowed
    assert baldur.scheduler.task("bad") is None


def test_a_name_is_scheduled_once(names: Callable[[str], str]) -> None:
    baldur.scheduler.schedule(names("once"), lambda: None, every=60)
    with pytest.raises(baldur.ConfigError) as refused:
        baldur.scheduler.schedule("once", lambda: None, every=30)
    assert refused.value.key == "name"
    task = baldur.scheduler.task("once")
    assert task is not None and task.every == 60


def test_an_async_function_is_refused() -> None:
    async def job() -> None:  # pragma: no cover - never run
        pass

    with pytest.raises(baldur.ConfigError):
        baldur.scheduled("async-job", every=1)(job)  # type: ignore[type-var]


def test_a_cancelled_task_stops_running(names: Callable[[str], str]) -> None:
    runs: list[int] = []
    baldur.scheduler.schedule(names("brief"), lambda: runs.append(1), every=0.1)
    eventually(lambda: len(runs) >= 1)
    assert baldur.scheduler.cancel("brief")
    assert not baldur.scheduler.cancel("brief")
    seen = len(runs)
    time.sleep(0.4)
    assert len(runs) <= seen + 1  # at most the run under way when cancelled


def _wait_in_child(seconds: float) -> None:
    time.sleep(seconds)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_task_runs_in_a_forked_child_too(names: Callable[[str], str], tmp_path: Path) -> None:
    marks = tmp_path / "pids.txt"

    def mark() -> None:
        with marks.open("a") as out:
            out.write(f"{os.getpid()}\n")

    baldur.scheduler.schedule(names("forked"), mark, every=0.1)
    eventually(lambda: marks.exists())
    child = multiprocessing.get_context("fork").Process(target=_wait_in_child, args=(1.5,))
    child.start()
    child.join(10)
    assert child.exitcode == 0
    pids = {int(line) for line in marks.read_text().split()}
    assert child.pid in pids and os.getpid() in pids


def test_the_scheduler_stops_at_exit_within_its_bound(tmp_path: Path) -> None:
    # A task that is mid-run when the interpreter exits: the exit waits for
    # it (the GIL released) at most the bound, and nothing crashes after.
    code = textwrap.dedent(
        """
        import time, baldur
        baldur.init()

        @baldur.scheduled("slow", every=0.05)
        def slow():
            time.sleep(0.3)

        time.sleep(0.2)
        print(baldur.scheduler.status().running, flush=True)
        """
    )
    env = {**os.environ, "BALDUR_DATA_DIR": str(tmp_path), "BALDUR_ADMIN_PORT": "0"}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
    assert done.stderr == ""
    assert time.monotonic() - started < 10


def test_a_run_longer_than_its_missed_beats_is_reported_stalled(
    names: Callable[[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    release = threading.Event()
    runs: list[int] = []

    @baldur.scheduled(names("stuck"), every=0.1)
    def stuck() -> None:
        runs.append(1)
        release.wait(10)

    def stalled_loops() -> set[str]:
        return {
            r.loop  # type: ignore[attr-defined]
            for r in caplog.records
            if getattr(r, "event", None) == "watchdog.loop_stalled"
        }

    with caplog.at_level(logging.INFO, logger="baldur.watchdog"):
        # 3 intervals of 0.1 s: the task's loop, and the thread held up by it.
        eventually(lambda: {"stuck", "scheduler"} <= stalled_loops())
        release.set()
        eventually(
            lambda: any(
                getattr(r, "event", None) == "watchdog.loop_recovered"
                and getattr(r, "loop", None) == "stuck"
                for r in caplog.records
            )
        )
    assert len(runs) >= 1


def test_runs_and_failures_are_in_the_metrics(names: Callable[[str], str]) -> None:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from baldur._collector import BaldurCollector

    baldur.scheduler.schedule(names("counted"), lambda: None, every=0.1)
    eventually(lambda: baldur.metrics_snapshot()["scheduled"]["counted"]["runs"] >= 2)
    assert baldur.metrics_snapshot()["scheduled"]["counted"]["failures"] == 0
    registry = CollectorRegistry()
    registry.register(BaldurCollector(baldur.metrics_snapshot))
    samples = {
        (s.name, tuple(s.labels.items())): s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
    }
    assert samples[("baldur_scheduled_runs_total", (("task", "counted"),))] >= 2
    assert samples[("baldur_scheduled_failures_total", (("task", "counted"),))] == 0
