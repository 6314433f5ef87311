"""``GET cb/NAME/`` and ``circuit_state`` of a name this process never used,
on a real Redis: a breaker another worker created is found in the fleet's
record, a name nobody knows is 404 (and reads ``"closed"``), and neither
look creates a breaker, here or in Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable

import baldur
from control_api_calls import get
from redis_server import RedisServer

SETTINGS = {
    "BALDUR_CB_FAILURE_THRESHOLD": "3",
    "BALDUR_CB_MINIMUM_CALLS": "3",
    "BALDUR_CB_RECOVERY_TIMEOUT": "30",
}


def process_a(url: str, body: str) -> None:
    """Another worker of the fleet: runs `body`, then exits."""
    source = "import baldur\nbaldur.init()\n" + textwrap.dedent(body)
    env = {**os.environ, **SETTINGS, "BALDUR_REDIS_URL": url, "BALDUR_ADMIN_PORT": "0"}
    done = subprocess.run(
        [sys.executable, "-c", source], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def redis_keys(server: RedisServer, name: str) -> bytes:
    return server.command("KEYS", f"*{name}*")


def test_a_breaker_only_another_worker_created_is_found(
    redis_server: RedisServer, configure: Callable[..., None]
) -> None:
    process_a(redis_server.url, 'baldur.force_open_circuit("only-in-a", reason="drill")')
    configure(redis_url=redis_server.url)

    answer = get("cb/only-in-a/")
    assert answer.status == 200, answer.json
    assert answer.json["name"] == "only-in-a"
    assert answer.json["state"] == "forced_open"
    assert answer.json["retry_after"] is None  # only an operator reopens it
    assert answer.json["opened_at"] is not None
    assert answer.json["served_by"] == {"pid": os.getpid(), "store": "redis"}
    assert baldur.circuit_state("only-in-a") == "forced_open"
    assert "only-in-a" not in baldur.circuits()  # read from the fleet, not made here

    missing = get("cb/in-no-process/")
    assert (missing.status, missing.json["error"]) == (404, "not_found")
    assert baldur.circuit_state("in-no-process") == "closed"
    assert "in-no-process" not in baldur.circuits()
    assert redis_keys(redis_server, "in-no-process") == b"*0\r\n"  # nor made in Redis


def test_a_breaker_another_worker_tripped_reads_open_with_its_counts_and_wait(
    redis_server: RedisServer, configure: Callable[..., None]
) -> None:
    process_a(
        redis_server.url,
        """
        call = baldur.protected("tripped-in-a")(lambda: 1 / 0)
        for _ in range(3):
            try:
                call()
            except ZeroDivisionError:
                pass
        assert baldur.circuit_state("tripped-in-a") == "open"
        """,
    )
    configure(redis_url=redis_server.url)
    breaker = get("cb/tripped-in-a/").json
    assert breaker["state"] == "open"
    assert (breaker["calls"], breaker["failures"]) == (3, 3)
    assert 0 < breaker["retry_after"] <= 30
    assert breaker["transitions"] >= 1
    assert "tripped-in-a" not in baldur.circuits()


def test_with_redis_gone_a_look_is_503_and_the_state_reads_closed(
    redis_server: RedisServer, configure: Callable[..., None]
) -> None:
    configure(redis_url=redis_server.url)
    redis_server.kill()
    answer = get("cb/only-in-a/")
    assert (answer.status, answer.json["error"]) == (503, "unavailable")
    assert baldur.circuit_state("only-in-a") == "closed"  # what a first call here would start
    assert "only-in-a" not in baldur.circuits()


def test_in_memory_mode_an_unknown_name_is_404_and_reads_closed(zone_name: str) -> None:
    assert get(f"cb/{zone_name}/").status == 404
    assert baldur.circuit_state(zone_name) == "closed"
    assert zone_name not in baldur.circuits()
    baldur.force_open_circuit(zone_name)
    assert get(f"cb/{zone_name}/").json["state"] == "forced_open"
