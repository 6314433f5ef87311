"""The meta-watchdog: a background loop that stops beating is reported (an
event, the ``baldur.watchdog`` health check), and one that beats again is
reported recovered. Baldur's own loops (the breaker sync, the DLQ flusher)
are watched while they run."""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import baldur
import baldur._core as _core
from baldur.exceptions import ConfigError
from helpers import eventually
from redis_server import RedisServer


def loops() -> dict[str, dict[str, Any]]:
    return {loop["name"]: loop for loop in _core.watchdog_status()}


@pytest.fixture
def drill() -> Iterator[str]:
    """A loop of the test's own, forgotten afterwards."""
    yield "drill"
    _core.watchdog_forget("drill")


def watchdog_check() -> Any:
    return baldur.check_health(nocache=True).checks["baldur.watchdog"]


def test_a_loop_that_stops_beating_is_reported_and_its_recovery_too(
    drill: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="baldur.watchdog")
    _core.watchdog_watch(drill, 0.05)
    eventually(lambda: loops()[drill]["stalled"], within=10)
    stalled = [r for r in caplog.records if "watchdog.loop_stalled" in r.getMessage()]
    assert len(stalled) == 1
    assert stalled[0].levelno == logging.ERROR
    assert "'drill'" in stalled[0].getMessage()
    check = watchdog_check()
    assert check.status == "degraded"
    assert check.data["stalled"] == [drill]
    # Reported once, not on every look.
    _core.watchdog_beat(drill)
    eventually(lambda: not loops()[drill]["stalled"], within=10)
    assert [r for r in caplog.records if "watchdog.loop_recovered" in r.getMessage()]
    assert len([r for r in caplog.records if "watchdog.loop_stalled" in r.getMessage()]) == 1


def test_a_loop_that_beats_is_healthy(drill: str) -> None:
    _core.watchdog_watch(drill, 0.05)
    for _ in range(3):
        _core.watchdog_beat(drill)
    assert loops()[drill]["beats"] == 3
    assert not loops()[drill]["stalled"]
    assert watchdog_check().status == "healthy"


def test_the_allowance_is_a_setting(configure: Callable[..., None], drill: str) -> None:
    with pytest.raises(ConfigError) as raised:
        configure(watchdog_missed_beats=0)
    assert "watchdog_missed_beats" in str(raised.value)
    configure(watchdog_missed_beats=1000)
    _core.watchdog_watch(drill, 0.01)
    # 30 intervals of silence, within the 1000 allowed.
    time.sleep(0.3)
    assert not loops()[drill]["stalled"]


def test_the_breaker_sync_loop_is_watched_while_it_runs(
    redis_server: RedisServer, configure: Callable[..., None]
) -> None:
    configure(redis_url=redis_server.url)
    baldur.protected("watched")(lambda: 1)()
    eventually(lambda: loops().get("breaker_sync", {}).get("beats", 0) >= 3, within=10)
    assert not loops()["breaker_sync"]["stalled"]
    configure(redis_url=None)
    assert "breaker_sync" not in loops()


def _child_loops(queue: Any) -> None:
    queue.put(sorted(loops()))


def test_a_forked_child_watches_none_of_its_parents_loops(drill: str) -> None:
    _core.watchdog_watch(drill, 60)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child_loops, args=(queue,))
    child.start()
    # Only the loops of its own scheduler, whose thread restarts in the child.
    assert set(queue.get(timeout=30)) <= {"scheduler", *baldur.scheduler.status().tasks}
    child.join(30)
    assert drill in loops()
