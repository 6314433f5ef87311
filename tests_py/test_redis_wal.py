"""Nothing is lost while Redis is gone: what should have reached it goes to
a local write-ahead log (SQLite) and is replayed when Redis returns, even by
another process than the one that logged it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import baldur
from baldur import _core
from helpers import eventually
from redis_server import RedisServer


def test_a_completion_redis_missed_is_logged_and_replayed(
    redis_server: RedisServer, configure: Callable[..., None], zone_name: str, tmp_path: Path
) -> None:
    configure(redis_url=redis_server.url, data_dir=str(tmp_path))

    def charge(order_id: str) -> str:
        redis_server.kill()  # Redis dies while the side effect runs
        return "charged"

    protected = baldur.protected(zone_name, idempotency_key="order_id")(charge)
    assert protected("o-1") == "charged"
    eventually(lambda: _core.wal_pending() >= 1)
    assert (tmp_path / "redis-wal.sqlite3").exists()

    redis_server.start()  # an empty Redis: the claim itself is gone
    probe = baldur.protected(zone_name + "-probe", idempotency_key="k")(lambda k: k)

    def recovered() -> bool:
        try:
            probe(str(time.monotonic()))
        except baldur.IdempotencyUnavailableError:
            return False
        return _core.wal_pending() == 0

    eventually(recovered)
    record = redis_server.command("HGET", f"baldur:idem:{zone_name}:o-1", "state")
    assert b"completed" in record
    with pytest.raises(baldur.IdempotencyDuplicateError):
        protected("o-1")


def test_a_trip_decided_during_an_outage_survives_the_process(
    redis_server: RedisServer, configure: Callable[..., None], zone_name: str, tmp_path: Path
) -> None:
    """A worker trips its breaker while Redis is down, then dies. Its
    decision waits in the log; the next worker to start replays it, and
    the fleet's breaker is open."""
    settings = {
        "BALDUR_REDIS_URL": redis_server.url,
        "BALDUR_DATA_DIR": str(tmp_path),
        "BALDUR_CB_FAILURE_THRESHOLD": "3",
        "BALDUR_CB_MINIMUM_CALLS": "3",
        "BALDUR_CB_RECOVERY_TIMEOUT": "60",
    }
    worker = f"""
        import socket, time, baldur
        baldur.init()

        @baldur.protected({zone_name!r})
        def failing():
            raise ConnectionError("down")

        try:
            failing()  # the first call: synced with Redis
        except ConnectionError:
            pass
        with socket.create_connection(("127.0.0.1", {redis_server.port})) as conn:
            conn.sendall(b"*2\\r\\n$8\\r\\nSHUTDOWN\\r\\n$6\\r\\nNOSAVE\\r\\n")
            time.sleep(0.2)
        for _ in range(3):
            try:
                failing()
            except (ConnectionError, baldur.CircuitOpenError):
                pass
        time.sleep(0.6)  # a sync fails: the trip goes to the log
        print(baldur.circuit_state({zone_name!r}))
        """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(worker)],
        env={**os.environ, **settings},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == "open", done.stderr
    assert redis_server.process is not None
    redis_server.process.wait(10)  # it shut itself down
    redis_server.process = None
    redis_server.start()
    configure(
        redis_url=redis_server.url,
        data_dir=str(tmp_path),
        cb_failure_threshold=3,
        cb_minimum_calls=3,
        cb_recovery_timeout=60,
    )
    assert _core.wal_pending() >= 1
    here = baldur.protected(zone_name)(lambda: "ok")
    try:
        here()  # this worker's first call: sync, then the log is replayed
    except baldur.CircuitOpenError:
        pass
    eventually(lambda: _core.wal_pending() == 0)
    eventually(lambda: baldur.circuit_state(zone_name) == "open")
    state = redis_server.command("HGET", f"{{baldur:cb:{zone_name}}}:state", "state")
    assert b"open" in state
