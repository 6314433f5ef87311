"""What the breaker sync asks of Redis: nothing for an idle zone, one
script for many busy ones, and a change reaching idle workers through the
announcement, the change log or the version check. Counted with Redis's
own per-command counters (INFO commandstats), never timed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import baldur
from helpers import eventually, throughout
from redis_server import RedisServer

ZONES = [f"zone-{i}" for i in range(30)]


def command_counts(server: RedisServer) -> dict[str, int]:
    """Calls per command so far, scripts' own commands included."""
    text = server.command("INFO", "commandstats").decode()
    counts: dict[str, int] = {}
    for line in text.splitlines():
        if line.startswith("cmdstat_"):
            name, _, stats = line.partition(":")
            counts[name.removeprefix("cmdstat_")] = int(stats.split(",")[0].split("=")[1])
    return counts


def window_reads(server: RedisServer) -> int:
    # Only a breaker's sync reads its fleet window (HGETALL): one per zone.
    return command_counts(server).get("hgetall", 0)


def touch_every_zone() -> None:
    for zone in ZONES:
        baldur.protected(zone)(lambda: "ok")()


def settled(server: RedisServer) -> None:
    """Waits until the rounds that followed the calls (their counts, the
    refresh of zones the change log named) are over: no zone synced for
    half a second (a few rounds)."""
    seen = {"reads": -1, "since": time.monotonic()}

    def quiet() -> bool:
        reads = window_reads(server)
        if reads != seen["reads"]:
            seen["reads"], seen["since"] = reads, time.monotonic()
        return time.monotonic() - seen["since"] >= 0.5

    eventually(quiet)


def test_idle_zones_cost_no_sync(redis_server: RedisServer, configure: Callable[..., None]) -> None:
    configure(redis_url=redis_server.url)
    touch_every_zone()
    settled(redis_server)
    before = command_counts(redis_server)
    throughout(lambda: window_reads(redis_server) == before.get("hgetall", 0), during=1.5)
    after = command_counts(redis_server)
    scripts = after.get("evalsha", 0) - before.get("evalsha", 0)
    # About one round (one script) per 200 ms interval, whatever the zones.
    assert scripts < len(ZONES), f"{scripts} scripts for {len(ZONES)} idle zones"


def test_busy_zones_sync_in_one_script_per_round(
    redis_server: RedisServer, configure: Callable[..., None]
) -> None:
    configure(redis_url=redis_server.url)
    touch_every_zone()
    settled(redis_server)
    before = command_counts(redis_server)
    stop = threading.Event()
    calls = [baldur.protected(zone)(lambda: "ok") for zone in ZONES]

    def busy() -> None:
        while not stop.is_set():
            for call in calls:
                call()

    worker = threading.Thread(target=busy)
    worker.start()
    try:
        eventually(lambda: window_reads(redis_server) - before.get("hgetall", 0) >= 5 * len(ZONES))
    finally:
        stop.set()
        worker.join()
    after = command_counts(redis_server)
    synced = after["hgetall"] - before.get("hgetall", 0)
    scripts = after["evalsha"] - before.get("evalsha", 0)
    assert scripts * 10 < synced, f"{scripts} scripts carried {synced} zone syncs"


def test_a_change_is_logged_under_the_zone_name(
    redis_server: RedisServer, configure: Callable[..., None]
) -> None:
    configure(redis_url=redis_server.url)
    touch_every_zone()
    before = int(redis_server.command("GET", "{baldur:cb:log}:position").split(b"\r\n")[1])
    baldur.force_open_circuit("zone-7")  # delivered before it returns
    after = int(redis_server.command("GET", "{baldur:cb:log}:position").split(b"\r\n")[1])
    assert after > before
    score = redis_server.command("ZSCORE", "{baldur:cb:log}:changed", "zone-7").split(b"\r\n")[1]
    assert before < int(score) <= after


def test_a_change_not_announced_reaches_an_idle_worker(
    redis_server: RedisServer, configure: Callable[..., None]
) -> None:
    """Another worker's change whose announcement this one missed (its
    pub/sub connection was down) arrives through the change log."""
    configure(redis_url=redis_server.url)
    touch_every_zone()
    settled(redis_server)
    key = "{baldur:cb:zone-3}:state"
    version = int(redis_server.command("HGET", key, "version").split(b"\r\n")[1])
    epoch = str(int(time.time() * 1000))
    # What the sync script does for a force-open, without the PUBLISH.
    redis_server.command(
        "HSET", key, "state", "forced_open", "version", str(version + 1), "epoch", epoch
    )
    position = redis_server.command("INCR", "{baldur:cb:log}:position").strip(b":\r\n")
    redis_server.command("ZADD", "{baldur:cb:log}:changed", position.decode(), "zone-3")
    eventually(lambda: baldur.circuit_state("zone-3") == "forced_open")
    assert baldur.circuit_state("zone-4") == "closed"


def test_a_store_that_lost_its_data_is_noticed_by_idle_workers(
    redis_server: RedisServer, configure: Callable[..., None]
) -> None:
    """The change log's position going back says the store lost (or rolled
    back) its data: every zone is synced again, and an open one is merged
    back into the new record."""
    configure(redis_url=redis_server.url)
    touch_every_zone()
    baldur.force_open_circuit("zone-5")
    settled(redis_server)
    redis_server.command("FLUSHALL")
    eventually(
        lambda: b"forced_open" in redis_server.command("HGET", "{baldur:cb:zone-5}:state", "state")
    )
