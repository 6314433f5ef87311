"""The standing DLQ replay worker: on the leader, every
BALDUR_DLQ_REPLAY_INTERVAL_SECONDS, a bounded batch of each closed zone's
pending entries replayed; an open zone's left alone."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import baldur
import baldur._replay_worker as replay_worker
from helpers import eventually

APPS = Path(__file__).parent / "apps"

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def jobs(
    configure: Callable[..., None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """The importable jobs module failing, a queue of this test's own, and
    the file the jobs mark each real run in."""
    marker = tmp_path / "runs.txt"
    monkeypatch.syspath_prepend(str(APPS))
    monkeypatch.setenv("BALDUR_TEST_MARKER", str(marker))
    monkeypatch.setenv("BALDUR_TEST_FAIL", "1")
    configure(data_dir=str(tmp_path))
    sys.modules.pop("dlq_jobs", None)
    for zone in ("dlq-jobs", "dlq-jobs-idempotent"):
        with contextlib.suppress(KeyError):
            baldur.reset_circuit(zone)
    yield marker
    sys.modules.pop("dlq_jobs", None)
    baldur.scheduler.cancel(replay_worker.NAME)


def _pending(zone: str) -> int:
    return len(baldur.dlq.list(domain=zone, state="pending"))


def test_the_worker_replays_a_closed_zone_and_leaves_an_open_one_alone(
    jobs: Path,
    configure: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import dlq_jobs

    with pytest.raises(ConnectionError):
        dlq_jobs.ship("o-1")
    with pytest.raises(ConnectionError):
        dlq_jobs.reserve("o-2")
    assert _pending("dlq-jobs") == 1 and _pending("dlq-jobs-idempotent") == 1
    baldur.force_open_circuit("dlq-jobs-idempotent")
    monkeypatch.setenv("BALDUR_TEST_FAIL", "0")  # the dependency is back

    with caplog.at_level(logging.INFO, logger="baldur.replay"):
        configure(dlq_replay_interval_seconds=0.3)
        eventually(lambda: _pending("dlq-jobs") == 0)
        eventually(lambda: (baldur.scheduler.task(replay_worker.NAME) or _none).runs >= 2)

    assert jobs.read_text().splitlines() == ["o-1:1"]
    assert _pending("dlq-jobs-idempotent") == 1  # its breaker is open
    task = baldur.scheduler.task(replay_worker.NAME)
    assert task is not None and task.leader_only and task.every == 0.3
    replayed = [r for r in caplog.records if getattr(r, "event", None) == "replay.worker_replayed"]
    assert [(r.zone, r.replayed) for r in replayed] == [("dlq-jobs", 1)]  # type: ignore[attr-defined]


class _NoTask:
    runs = 0


_none = _NoTask()


def test_a_round_replays_at_most_one_batch_per_zone(
    jobs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dlq_jobs

    monkeypatch.setattr(replay_worker, "BATCH_PER_ZONE", 2)
    for n in range(3):
        with pytest.raises(ConnectionError):
            dlq_jobs.ship(f"o-{n}")
    monkeypatch.setenv("BALDUR_TEST_FAIL", "0")
    assert replay_worker.replay_round() == {"dlq-jobs": 2}
    assert _pending("dlq-jobs") == 1
    assert replay_worker.replay_round() == {"dlq-jobs": 1}
    assert replay_worker.replay_round() == {}


def test_init_schedules_the_worker_at_the_configured_interval(
    configure: Callable[..., None],
) -> None:
    configure()
    task = baldur.scheduler.task(replay_worker.NAME)
    assert task is not None and task.every == 60.0 and task.leader_only
    configure(dlq_replay_interval_seconds=5)
    task = baldur.scheduler.task(replay_worker.NAME)
    assert task is not None and task.every == 5.0


@pytest.mark.parametrize("bad", ["0", "-1", "soon", ""])
def test_a_bad_interval_is_a_config_error(
    bad: str, monkeypatch: pytest.MonkeyPatch, configure: Callable[..., None]
) -> None:
    monkeypatch.setenv("BALDUR_DLQ_REPLAY_INTERVAL_SECONDS", bad)
    with pytest.raises(baldur.ConfigError) as refused:
        configure()
    assert refused.value.key == "BALDUR_DLQ_REPLAY_INTERVAL_SECONDS"
