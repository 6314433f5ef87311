"""Recovery done right: what one worker decided alone is merged, what it
only heard from the fleet is not; a Redis that lost its data gets the
fleet's state back; an outage costs one log row per breaker, not one per
round; a dead worker's late reset does not undo a later trip; a slow probe
keeps its slot; every first caller waits for the first sync; a claim
whose answer was lost is released."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import baldur
import baldur.testing
from baldur import _core
from helpers import AlwaysFails, Boom, eventually, throughout
from redis_server import RedisServer

FAST = {
    "cb_failure_threshold": 3,
    "cb_minimum_calls": 3,
    "cb_recovery_timeout": 60,
}


def fleet_state(server: RedisServer, zone: str) -> bytes:
    return server.command("HGET", f"{{baldur:cb:{zone}}}:state", "state")


def trip(zone: str) -> None:
    here = baldur.protected(zone)(AlwaysFails())
    for _ in range(3):
        with pytest.raises((Boom, baldur.CircuitOpenError)):
            here()
    assert baldur.circuit_state(zone) == "open"


def test_a_redis_that_lost_its_data_gets_the_open_breaker_back(
    redis_server: RedisServer, configure: Callable[..., None], zone_name: str, tmp_path: Path
) -> None:
    configure(redis_url=redis_server.url, data_dir=str(tmp_path), **FAST)
    trip(zone_name)
    eventually(lambda: b"open" in fleet_state(redis_server, zone_name))
    redis_server.command("FLUSHALL")  # a failover to an empty replica, say
    # The next syncs see a new record: this worker's open state is merged
    # into it instead of the worker adopting "closed".
    eventually(lambda: b"open" in fleet_state(redis_server, zone_name))
    assert baldur.circuit_state(zone_name) == "open"


def test_an_outage_costs_one_log_row_per_breaker_and_recovery_clears_it(
    redis_server: RedisServer, configure: Callable[..., None], zone_name: str, tmp_path: Path
) -> None:
    configure(redis_url=redis_server.url, data_dir=str(tmp_path), **FAST)
    baldur.protected(zone_name)(lambda: None)()  # synced once
    redis_server.kill()
    trip(zone_name)
    # Seven sync rounds fail; the log (read through Baldur's own connection
    # meanwhile: another one could make an append wait) takes one row.
    eventually(lambda: _core.wal_pending() > 0)
    logged = _core.wal_pending()
    throughout(lambda: _core.wal_pending() == logged, during=1.5)
    with sqlite3.connect(tmp_path / "redis-wal.sqlite3") as db:
        rows = [row[0] for row in db.execute("SELECT payload FROM pending")]
    mine = [row for row in rows if json.loads(row)["name"] == zone_name]
    assert len(mine) == 1, "\n".join(rows)
    redis_server.start()  # empty: only this worker knows of the trip
    # The live sync delivers it and clears the row: a replay later must not
    # trip the fleet again on stale news.
    eventually(lambda: b"open" in fleet_state(redis_server, zone_name))
    eventually(lambda: _core.wal_pending() == 0)


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    return int(done.stdout)


def _log_breaker_row(path: Path, zone: str, pid: int, **fields: object) -> None:
    """Leaves a breaker row in this process's log as process ``pid`` would
    have (``path`` is where the log lives: the data dir's)."""
    assert path.name == "redis-wal.sqlite3"
    payload = {
        "kind": "breaker",
        "name": zone,
        "pid": pid,
        "trip": False,
        "probe_successes": 0,
        "probe_failures": 0,
        "operator": None,
        "merge": None,
        **fields,
    }
    baldur.testing.wal_append_json(json.dumps(payload))


def test_a_dead_workers_late_reset_does_not_undo_a_later_trip(
    redis_server: RedisServer, configure: Callable[..., None], zone_name: str, tmp_path: Path
) -> None:
    configure(redis_url=redis_server.url, data_dir=str(tmp_path), **FAST)
    assert _core.wal_pending() == 0  # opens the log
    trip(zone_name)
    eventually(lambda: b"open" in fleet_state(redis_server, zone_name))
    log = tmp_path / "redis-wal.sqlite3"
    before_the_trip = int(time.time() * 1000) - 60_000
    _log_breaker_row(log, zone_name, _dead_pid(), operator=["reset", before_the_trip])
    baldur.testing.replay_wal_now()
    eventually(lambda: _core.wal_pending() == 0)
    assert b"open" in fleet_state(redis_server, zone_name), "the older reset lost"

    _log_breaker_row(log, zone_name, _dead_pid(), operator=["reset", int(time.time() * 1000)])
    baldur.testing.replay_wal_now()
    eventually(lambda: _core.wal_pending() == 0, within=15)
    eventually(lambda: b"closed" in fleet_state(redis_server, zone_name), within=15)


def test_a_dead_workers_row_for_a_breaker_this_process_lacks_adds_none_here(
    redis_server: RedisServer, configure: Callable[..., None], zone_name: str, tmp_path: Path
) -> None:
    """The row reaches the fleet; this process, which never used that
    breaker, does not grow one (it would show in its snapshots, health and
    metrics, and be synced forever)."""
    configure(redis_url=redis_server.url, data_dir=str(tmp_path), **FAST)
    baldur.protected(zone_name + "-mine")(lambda: None)()  # starts the sync
    stranger = zone_name + "-theirs"
    _log_breaker_row(tmp_path / "redis-wal.sqlite3", stranger, _dead_pid(), trip=True)
    baldur.testing.replay_wal_now()
    eventually(lambda: _core.wal_pending() == 0)
    eventually(lambda: b"open" in fleet_state(redis_server, stranger))
    assert stranger not in _core.snapshots()
    assert zone_name + "-mine" in _core.snapshots()


def test_a_live_workers_row_is_left_for_it_to_deliver(
    redis_server: RedisServer, configure: Callable[..., None], zone_name: str, tmp_path: Path
) -> None:
    configure(redis_url=redis_server.url, data_dir=str(tmp_path), **FAST)
    baldur.protected(zone_name)(lambda: None)()
    assert _core.wal_pending() == 0  # opens the log
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        _log_breaker_row(tmp_path / "redis-wal.sqlite3", zone_name, alive.pid, trip=True)
        baldur.testing.replay_wal_now()
        throughout(lambda: _core.wal_pending() == 1, during=0.5)
        assert _core.wal_pending() == 1
        assert b"closed" in fleet_state(redis_server, zone_name)
    finally:
        alive.kill()
        alive.wait()
    baldur.testing.replay_wal_now()  # its process died: now it is replayed
    eventually(lambda: _core.wal_pending() == 0)
    assert b"open" in fleet_state(redis_server, zone_name)


def test_a_slow_probe_keeps_its_lease_renewed(
    redis_server: RedisServer, configure: Callable[..., None], zone_name: str
) -> None:
    configure(
        redis_url=redis_server.url,
        cb_failure_threshold=3,
        cb_minimum_calls=3,
        cb_recovery_timeout=1,
        cb_half_open_max_calls=1,
    )
    trip(zone_name)
    release = threading.Event()
    started = threading.Event()

    def slow() -> str:
        started.set()
        release.wait(10)
        return "ok"

    probe = baldur.protected(zone_name)(slow)

    def admitted() -> bool:
        try:
            probe()
        except baldur.CircuitOpenError:
            return False
        return True

    def call_until_admitted() -> None:
        eventually(admitted, within=6)

    caller = threading.Thread(target=call_until_admitted)
    caller.start()
    try:
        assert started.wait(8), "no probe was admitted"
        leases = f"{{baldur:cb:{zone_name}}}:leases"

        def lease_expiry() -> int:
            reply = redis_server.command("ZRANGE", leases, "0", "-1", "WITHSCORES")
            return int(reply.split(b"\r\n")[-2])

        # A sync or two since the probe started: the slot's grant has become
        # the running probe's lease, which each sync renews.
        granted = lease_expiry()
        eventually(lambda: lease_expiry() != granted)
        first = lease_expiry()
        eventually(lambda: lease_expiry() > first, within=1.5)
        assert lease_expiry() > first, "the running probe's lease is renewed"
    finally:
        release.set()
        caller.join(10)
    eventually(lambda: baldur.circuit_state(zone_name) == "closed")


def test_every_first_caller_waits_for_the_first_sync(
    redis_server: RedisServer, configure: Callable[..., None], zone_name: str
) -> None:
    """The fleet holds the breaker forced open. A new worker's first calls
    come from eight threads at once: none may reach the dependency."""
    redis_server.command(
        "HSET",
        f"{{baldur:cb:{zone_name}}}:state",
        "state",
        "forced_open",
        "version",
        "1",
        "epoch",
        str(int(time.time() * 1000)),
    )
    configure(redis_url=redis_server.url, cb_sync_interval_seconds=5)
    reached = []
    protected = baldur.protected(zone_name)(lambda: reached.append(1))
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def first_call() -> None:
        barrier.wait()
        try:
            protected()
            outcomes.append("ran")
        except baldur.CircuitOpenError:
            outcomes.append("refused")

    threads = [threading.Thread(target=first_call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert outcomes == ["refused"] * 8
    assert reached == []


def test_an_async_first_call_awaits_the_first_sync_without_blocking_the_loop(
    redis_server: RedisServer, configure: Callable[..., None], zone_name: str
) -> None:
    configure(redis_url=redis_server.url)

    @baldur.protected(zone_name)
    async def work() -> str:
        return "ok"

    async def scenario() -> int:
        ticks = 0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        running = asyncio.create_task(ticker())
        await asyncio.sleep(0.02)
        redis_server.pause(600)  # the first sync round stalls to its timeout
        ticks = 0
        assert await work() == "ok"
        stop.set()
        await running
        return ticks

    ticks = asyncio.run(scenario())
    assert ticks >= 5, "the event loop ran while the first sync waited"


def test_a_claim_whose_answer_was_lost_is_released(
    redis_server: RedisServer, configure: Callable[..., None], zone_name: str, tmp_path: Path
) -> None:
    """The claim reaches a stalled Redis and times out on the client; the
    server runs it later. Left alone it would hold the key "running" for
    the whole execution window; its owner releases it instead."""
    configure(redis_url=redis_server.url, data_dir=str(tmp_path))
    protected = baldur.protected(zone_name, idempotency_key="order_id")(lambda order_id: "done")
    assert protected("warm-up") == "done"
    redis_server.pause(700)
    with pytest.raises(baldur.IdempotencyUnavailableError):
        protected("o-1")
    key = f"baldur:idem:{zone_name}:o-1"
    eventually(lambda: redis_server.command("EXISTS", key).startswith(b":0"), within=5)

    def retried() -> bool:
        try:
            return protected("o-1") == "done"
        except baldur.IdempotencyUnavailableError:
            return False  # still in DEGRADED's fail-fast window

    eventually(retried)


def test_a_decision_the_log_cannot_keep_is_an_error_not_silence(
    redis_server: RedisServer,
    configure: Callable[..., None],
    zone_name: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    (tmp_path / "redis-wal.sqlite3").mkdir()  # where the log's file should be
    configure(redis_url=redis_server.url, data_dir=str(tmp_path), **FAST)
    baldur.protected(zone_name)(lambda: None)()
    redis_server.kill()
    with caplog.at_level(logging.ERROR, logger="baldur.storage"):
        trip(zone_name)
        eventually(
            lambda: any(
                getattr(r, "event", "") == "storage.wal_append_failed" for r in caplog.records
            )
        )
    failed = next(
        r for r in caplog.records if getattr(r, "event", "") == "storage.wal_append_failed"
    )
    assert failed.levelno == logging.ERROR


def test_a_quiet_worker_still_gets_to_probe(
    redis_server: RedisServer, configure: Callable[..., None], zone_name: str
) -> None:
    """One call every 6 s on a half-open breaker: the slot granted after the
    first refusal must still be there for the next call."""
    configure(
        redis_url=redis_server.url,
        cb_failure_threshold=3,
        cb_minimum_calls=3,
        cb_recovery_timeout=1,
        cb_half_open_max_calls=1,
    )
    trip(zone_name)
    eventually(lambda: b"half_open" in fleet_state(redis_server, zone_name))
    quiet = baldur.protected(zone_name)(lambda: "ok")
    with pytest.raises(baldur.CircuitOpenError):
        quiet()  # no slot yet: one is asked for
    # Six quiet seconds: nothing calls, and the breaker stays half-open.
    throughout(lambda: baldur.circuit_state(zone_name) == "half_open", during=6)
    assert quiet() == "ok"
    eventually(lambda: baldur.circuit_state(zone_name) == "closed")


def test_a_store_rolled_back_to_an_older_version_is_noticed(
    redis_server: RedisServer, configure: Callable[..., None], zone_name: str
) -> None:
    """A restore from a snapshot keeps the record but moves its version
    back; another worker then trips it. This worker must follow."""
    configure(redis_url=redis_server.url, **FAST)
    trip(zone_name)
    baldur.reset_circuit(zone_name)
    eventually(lambda: b"closed" in fleet_state(redis_server, zone_name))
    key = f"{{baldur:cb:{zone_name}}}:state"
    redis_server.command(
        "HSET", key, "state", "open", "version", "1", "until", str(int(time.time() * 1000) + 60_000)
    )
    eventually(lambda: baldur.circuit_state(zone_name) == "open")


FORK_DURING_FIRST_SYNC = """
import os, signal, sys, threading, time
import baldur

baldur.init(redis_url=sys.argv[1])
call = baldur.protected("fork-first-sync")(lambda: "ok")
first = threading.Thread(target=call)
first.start()  # its first sync waits on a paused Redis, holding the start lock
time.sleep(0.1)
pid = os.fork()
if pid == 0:
    signal.alarm(10)
    print("child", call(), flush=True)
    os._exit(0)
first.join()
_, status = os.waitpid(pid, 0)
print("status", status)
"""


def test_a_child_forked_during_the_first_sync_is_not_stuck(redis_server: RedisServer) -> None:
    redis_server.pause(2000)
    done = subprocess.run(
        [sys.executable, "-c", FORK_DURING_FIRST_SYNC, redis_server.url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "child ok" in done.stdout, done.stdout + done.stderr
    assert "status 0" in done.stdout


def test_with_idempotency_alone_in_redis_the_log_is_replayed_at_startup(
    redis_server: RedisServer, configure: Callable[..., None], zone_name: str, tmp_path: Path
) -> None:
    """A dead worker's completion waits in the log; breakers are not
    shared, so no sync ever starts: the first call still replays it."""
    key = f"baldur:idem:{zone_name}:k1"
    until = str(int(time.time() * 1000) + 60_000)
    redis_server.command("HSET", key, "owner", "42", "state", "running", "fp", "", "until", until)
    configure(idempotency_redis_url=redis_server.url, data_dir=str(tmp_path))
    assert _core.wal_pending() == 0  # opens the log
    completion = {
        "kind": "idempotency_complete",
        "key": f"{zone_name}:k1",
        "owner": 42,
        "memory_ttl_ms": 600_000,
    }
    with sqlite3.connect(tmp_path / "redis-wal.sqlite3") as db:
        db.execute(
            "INSERT INTO pending (payload, logged_at_ms) VALUES (?, 0)", (json.dumps(completion),)
        )
    baldur.protected(zone_name + "-other")(lambda: None)()
    eventually(lambda: _core.wal_pending() == 0)
    assert b"completed" in redis_server.command("HGET", key, "state")


def test_a_probe_success_is_counted_once_when_its_sync_is_sent_again(
    redis_server: RedisServer, configure: Callable[..., None], zone_name: str
) -> None:
    """A sync times out on the worker but runs in Redis later (a stall):
    the worker sends its outcomes again. One success must not count twice
    and close a breaker that needs two."""
    configure(
        redis_url=redis_server.url,
        cb_failure_threshold=3,
        cb_minimum_calls=3,
        cb_recovery_timeout=1,
        cb_half_open_max_calls=2,
    )
    trip(zone_name)
    eventually(lambda: b"half_open" in fleet_state(redis_server, zone_name))
    probe = baldur.protected(zone_name)(lambda: "ok")

    def admitted() -> bool:
        try:
            return probe() == "ok"
        except baldur.CircuitOpenError:
            return False

    eventually(admitted)  # one probe succeeded; its report is on its way
    redis_server.pause(700)
    eventually(redis_server.ping)  # the stall is over; the sync is sent again
    # Another second or so of syncs: the one success is not counted twice.
    throughout(lambda: b"half_open" in fleet_state(redis_server, zone_name), during=1.3)
    key = f"{{baldur:cb:{zone_name}}}:state"
    assert b"half_open" in fleet_state(redis_server, zone_name)
    assert redis_server.command("HGET", key, "successes").endswith(b"1\r\n")
