"""The same stores on a real Redis Cluster: scripts are routed by their
keys' slot (a breaker's keys share one hash tag)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator

import pytest

import baldur
from helpers import Recorder, eventually
from redis_cluster import RedisCluster


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisCluster]:
    nodes = RedisCluster()
    nodes.start()
    yield nodes
    nodes.stop()


def test_idempotency_claims_live_in_the_cluster(
    cluster: RedisCluster, configure: Callable[..., None], zone_name: str
) -> None:
    configure(redis_url=cluster.url)
    charge = Recorder()
    protected = baldur.protected(zone_name, idempotency_key="order_id")(charge)
    for key in ("a", "b", "c", "d"):  # keys spread over the nodes' slots
        assert protected(key) == f"done {key}"
    with pytest.raises(baldur.IdempotencyDuplicateError):
        protected("c")
    assert charge.ran == ["a", "b", "c", "d"]


def test_breaker_state_is_shared_through_the_cluster(
    cluster: RedisCluster, configure: Callable[..., None], zone_name: str
) -> None:
    configure(redis_url=cluster.url)
    here = baldur.protected(zone_name)(lambda: "ok")
    assert here() == "ok"
    forced = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import baldur, time
            baldur.init()
            baldur.protected({zone_name!r})(lambda: None)()
            baldur.force_open_circuit({zone_name!r})
            time.sleep(0.6)
            """),
        ],
        env={**os.environ, "BALDUR_REDIS_URL": cluster.url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert forced.returncode == 0, forced.stderr
    eventually(lambda: baldur.circuit_state(zone_name) == "forced_open", within=2)
    with pytest.raises(baldur.CircuitOpenError):
        here()


def test_a_change_reaches_an_idle_worker_through_the_clusters_change_log(
    cluster: RedisCluster, configure: Callable[..., None]
) -> None:
    """A cluster has no pub/sub here: another worker's force-open of one of
    many idle breakers reaches this worker through the change log (the
    version checks alone would take 100 / 8 rounds)."""
    configure(redis_url=cluster.url)
    zones = [f"idle-{i}" for i in range(100)]
    for zone in zones:
        baldur.protected(zone)(lambda: "ok")()
    forced = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent("""
            import baldur
            baldur.init()
            baldur.force_open_circuit("idle-57")  # delivered before it returns
            """),
        ],
        env={**os.environ, "BALDUR_REDIS_URL": cluster.url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert forced.returncode == 0, forced.stderr
    eventually(lambda: baldur.circuit_state("idle-57") == "forced_open", within=2)
    assert baldur.circuit_state("idle-58") == "closed"


def test_breakers_of_one_hash_slot_share_a_script(
    cluster: RedisCluster, configure: Callable[..., None]
) -> None:
    """pair-548 and pair-3002 hash to one slot (14165): their syncs go in
    one script. A slot computed wrongly would send keys of two slots in one
    script (CROSSSLOT) and leave the store DEGRADED."""
    for name in ("pair-548", "pair-3002"):
        reply = cluster.nodes[0].command("CLUSTER", "KEYSLOT", f"{{baldur:cb:{name}}}:state")
        assert reply.strip() == b":14165"
    configure(redis_url=cluster.url)
    # "other" is in another slot: it must not share their script.
    names = ("pair-548", "pair-3002", "other")
    calls = [baldur.protected(name)(lambda: "ok") for name in names]
    for _ in range(3):
        for call in calls:
            call()
    baldur.force_open_circuit("pair-548")
    baldur.force_open_circuit("pair-3002")
    baldur.force_open_circuit("other")
    health = baldur.store_health()["redis:circuit_breaker"]
    assert not health["degraded"]
    assert health["degraded_entries"] == 0
    assert baldur.circuit_state("pair-548") == "forced_open"
    assert baldur.circuit_state("pair-3002") == "forced_open"
    assert baldur.circuit_state("other") == "forced_open"
