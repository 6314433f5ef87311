"""The dead-letter queue on a real Redis Cluster (each domain's keys share
one hash tag, so every script runs on one slot, and what spans domains --
list, stats, the overall cap, purge -- visits them one by one) and through
Redis Sentinel."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import baldur
from helpers import Boom, failed_job
from redis_cluster import RedisCluster
from redis_sentinel import RedisSentinel


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisCluster]:
    nodes = RedisCluster()
    nodes.start()
    yield nodes
    nodes.stop()


def fail(i: int) -> Callable[[], None]:
    def failing() -> None:
        raise Boom(str(i))

    return failing


def test_the_queue_spans_the_clusters_slots(
    cluster: RedisCluster,
    configure: Callable[..., None],
    tmp_path: Path,
    new_name: Callable[[], str],
) -> None:
    configure(
        redis_url=cluster.url,
        data_dir=str(tmp_path),
        dlq_max_size=5,
        dlq_max_per_domain=2,
        cb_failure_threshold=1000,
    )
    zones = [new_name() for _ in range(4)]  # spread over the nodes' slots
    for i, zone in enumerate(zones * 2):
        baldur.protect_with_meta(zone, fail(i), dlq=True)
    listed = baldur.dlq.list(limit=100)
    assert listed.complete
    # Eight records, five kept: the overall cap evicted the fleet's oldest.
    assert sorted(e["error_message"] for e in listed) == ["3", "4", "5", "6", "7"]
    counts = baldur.dlq.stats()
    assert counts["total"] == 5 and counts["store"] == "redis"
    assert baldur.dlq.purge(domain=zones[3], confirm=True) == 2
    assert baldur.dlq.stats()["total"] == 3


def test_an_entry_is_replayed_through_the_cluster(
    cluster: RedisCluster,
    configure: Callable[..., None],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configure(redis_url=cluster.url, data_dir=str(tmp_path), cb_failure_threshold=1000)
    entry = failed_job(monkeypatch, str(tmp_path / "runs.txt"), "cluster")
    assert baldur.dlq.replay(entry["id"])["ok"] is True
    assert baldur.dlq.get(entry["id"]) is None
    assert (tmp_path / "runs.txt").read_text() == "cluster:1\n"


def test_the_queue_lives_on_the_master_sentinel_names(
    configure: Callable[..., None], tmp_path: Path, zone_name: str
) -> None:
    watched = RedisSentinel()
    watched.start()
    try:
        configure(redis_url=watched.url, data_dir=str(tmp_path))
        recorded = baldur.protect_with_meta(zone_name, fail(0), dlq=True)
        assert recorded.dlq_id is not None and recorded.dlq_id.startswith(f"{zone_name}:")
        assert baldur.dlq.list(domain=zone_name).complete
        stream = f"baldur:dlq:{{{zone_name}}}:stream"
        assert watched.master.command("XLEN", stream).startswith(b":1")
    finally:
        watched.stop()
