"""One breaker for every worker: state shared through a real Redis, trips
decided on the fleet's traffic, operator actions reaching everyone, probe
slots leased fleet-wide, and each worker deciding alone while Redis is
gone, merged most-restrictive-wins when it returns."""

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
from helpers import AlwaysFails, Boom, eventually, throughout
from redis_server import RedisServer

SETTINGS = {
    "BALDUR_CB_FAILURE_THRESHOLD": "3",
    "BALDUR_CB_MINIMUM_CALLS": "3",
    "BALDUR_CB_RECOVERY_TIMEOUT": "1",
    "BALDUR_CB_HALF_OPEN_MAX_CALLS": "1",
}


@pytest.fixture
def fleet(
    redis_server: RedisServer, configure: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> RedisServer:
    """This process as one worker of a fleet sharing `redis_server`."""
    for key, value in SETTINGS.items():
        monkeypatch.setenv(key, value)
    configure(redis_url=redis_server.url)
    return redis_server


def other_worker(url: str, body: str) -> subprocess.CompletedProcess[str]:
    source = "import baldur, sys, time\nbaldur.init()\n" + textwrap.dedent(body)
    env = {**os.environ, **SETTINGS, "BALDUR_REDIS_URL": url}
    return subprocess.run(
        [sys.executable, "-c", source], env=env, capture_output=True, text=True, timeout=60
    )


def wait_for_state(name: str, wanted: str, within: float = 2.0) -> float:
    """Seconds until this worker's breaker shows `wanted`."""
    started = time.monotonic()
    eventually(lambda: baldur.circuit_state(name) == wanted, within=within)
    return time.monotonic() - started


def fleet_window(server: RedisServer, zone: str) -> tuple[int, int]:
    """The calls and failures the fleet's window in Redis holds for `zone`:
    what this worker's syncs have delivered."""
    reply = server.command("HGETALL", f"{{baldur:cb:{zone}}}:window").split(b"\r\n")
    words = [w for w in reply[1:] if w and not w.startswith((b"$", b"*"))]
    counts = dict(zip(words[::2], (int(w) for w in words[1::2]), strict=True))
    calls = sum(n for field, n in counts.items() if field.startswith(b"c"))
    return calls, sum(n for field, n in counts.items() if field.startswith(b"f"))


def fleet_state(server: RedisServer, zone: str) -> bytes:
    return server.command("HGET", f"{{baldur:cb:{zone}}}:state", "state")


def subscribers(server: RedisServer) -> int:
    """Workers subscribed to the breakers' change announcements."""
    reply = server.command("PUBSUB", "NUMSUB", "baldur:cb:changed").split(b"\r\n")
    return int(reply[-2].lstrip(b":"))


def degraded() -> bool:
    """Whether this worker's breaker store is DEGRADED (a sync failed)."""
    return bool(baldur._core.store_health()["redis:circuit_breaker"]["degraded"])


def test_a_trip_on_one_worker_makes_every_worker_fail_fast(
    fleet: RedisServer, zone_name: str
) -> None:
    dependency = AlwaysFails()
    here = baldur.protected(zone_name)(dependency)
    with pytest.raises(Boom):
        here()  # this worker is live: its sync task runs
    tripped = other_worker(
        fleet.url,
        f"""
        @baldur.protected({zone_name!r})
        def failing():
            raise ConnectionError("down")
        for _ in range(3):
            try:
                failing()
            except (ConnectionError, baldur.CircuitOpenError):
                pass
        print(baldur.circuit_state({zone_name!r}))
        time.sleep(0.6)  # its sync carries the trip to Redis
        """,
    )
    assert tripped.stdout.strip() == "open", tripped.stderr
    assert wait_for_state(zone_name, "open", within=1.0) < 1.0
    calls_before = dependency.count
    with pytest.raises(baldur.CircuitOpenError):
        here()
    assert dependency.count == calls_before


def test_the_minimum_calls_floor_is_met_by_the_fleet(fleet: RedisServer, zone_name: str) -> None:
    """Two failures here, two there: neither worker alone reaches the
    floor of three calls, the fleet does."""
    here = baldur.protected(zone_name)(AlwaysFails())
    for _ in range(2):
        with pytest.raises(Boom):
            here()
    eventually(lambda: fleet_window(fleet, zone_name)[0] >= 2)  # counted in Redis
    other = other_worker(
        fleet.url,
        f"""
        @baldur.protected({zone_name!r})
        def failing():
            raise ConnectionError("down")
        failing.__call__  # noqa
        time.sleep(0.5)  # first sync: the fleet's counts arrive
        for _ in range(2):
            try:
                failing()
            except (ConnectionError, baldur.CircuitOpenError):
                pass
        time.sleep(0.6)
        print(baldur.circuit_state({zone_name!r}))
        """,
    )
    assert other.stdout.strip() == "open", other.stderr
    wait_for_state(zone_name, "open")


def test_an_operator_action_reaches_every_worker(fleet: RedisServer, zone_name: str) -> None:
    here = baldur.protected(zone_name)(lambda: "ok")
    assert here() == "ok"
    forced = other_worker(
        fleet.url,
        f"""
        baldur.protected({zone_name!r})(lambda: None)()
        baldur.force_open_circuit({zone_name!r})
        time.sleep(0.6)
        """,
    )
    assert forced.returncode == 0, forced.stderr
    wait_for_state(zone_name, "forced_open")
    baldur.reset_circuit(zone_name)
    wait_for_state(zone_name, "closed")
    eventually(lambda: b"closed" in fleet_state(fleet, zone_name))  # the reset reached Redis
    throughout(lambda: baldur.circuit_state(zone_name) == "closed", during=0.5)  # it stays closed
    assert baldur.circuit_state(zone_name) == "closed"


def test_a_process_that_never_called_forces_the_fleets_breaker(
    fleet: RedisServer, zone_name: str
) -> None:
    """A CLI or a shell: no protected call, it forces the breaker and exits
    at once; its exit hook delivers the action to the fleet."""
    here = baldur.protected(zone_name)(lambda: "ok")
    assert here() == "ok"
    forced = other_worker(fleet.url, f"baldur.force_open_circuit({zone_name!r})")
    assert forced.returncode == 0, forced.stderr
    wait_for_state(zone_name, "forced_open")
    with pytest.raises(baldur.CircuitOpenError):
        here()


def test_the_fleet_trips_on_the_failure_rate_as_well_as_the_count(
    fleet: RedisServer, zone_name: str
) -> None:
    """Three failures meet the count, but not among thirty successes: the
    fleet's window (decided in Redis) keeps the breaker closed."""
    here = baldur.protected(zone_name)(lambda: "ok")
    for _ in range(30):
        assert here() == "ok"
    eventually(lambda: fleet_window(fleet, zone_name)[0] >= 30)  # the successes are counted
    failing = baldur.protected(zone_name)(AlwaysFails())
    for _ in range(3):
        with pytest.raises(Boom):
            failing()
    eventually(lambda: fleet_window(fleet, zone_name)[1] >= 3)  # so are the failures
    # Two syncs more: the fleet's verdict is back, and it is not a trip.
    throughout(lambda: baldur.circuit_state(zone_name) == "closed", during=0.6)
    assert baldur.circuit_state(zone_name) == "closed"
    for _ in range(30):  # a real outage: half the window fails
        with pytest.raises((Boom, baldur.CircuitOpenError)):
            failing()
    wait_for_state(zone_name, "open")


def test_the_half_open_probe_budget_is_fleet_wide(
    fleet: RedisServer, zone_name: str, tmp_path: Path
) -> None:
    """One probe slot for the whole fleet: of two workers calling as soon
    as probing starts, one probe reaches the dependency."""
    probes = tmp_path / "probes"
    here = baldur.protected(zone_name)(AlwaysFails())
    for _ in range(3):
        with pytest.raises((Boom, baldur.CircuitOpenError)):
            here()
    wait_for_state(zone_name, "open")
    body = f"""
        import os
        def probe():
            with open({str(probes)!r}, "a") as out:
                out.write("x")
            time.sleep(1.0)
            return "ok"
        protected = baldur.protected({zone_name!r})(probe)
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            try:
                protected()
                break
            except baldur.CircuitOpenError:
                time.sleep(0.05)
        """
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import baldur, sys, time\nbaldur.init()\n" + textwrap.dedent(body),
            ],
            env={**os.environ, **SETTINGS, "BALDUR_REDIS_URL": fleet.url},
        )
        for _ in range(2)
    ]
    # Both are calling when probing starts; one probe runs (for a second).
    eventually(probes.exists, within=5)
    throughout(lambda: probes.read_text() == "x", during=0.5)
    assert probes.read_text() == "x"
    for w in workers:
        w.wait(20)
    wait_for_state(zone_name, "closed", within=3.0)


def test_while_redis_is_down_each_worker_decides_alone(fleet: RedisServer, zone_name: str) -> None:
    dependency = AlwaysFails()
    here = baldur.protected(zone_name)(dependency)
    with pytest.raises(Boom):
        here()
    fleet.kill()
    eventually(degraded)  # a sync fails: DEGRADED
    for _ in range(3):
        with pytest.raises((Boom, baldur.CircuitOpenError)):
            here()
    assert baldur.circuit_state(zone_name) == "open"  # its own traffic tripped it
    assert baldur._core.store_health()["redis:circuit_breaker"]["degraded"] is True


def test_recovery_merges_the_most_restrictive_state(fleet: RedisServer, zone_name: str) -> None:
    """Opened alone during the outage, this worker's breaker wins over the
    fleet's closed one once Redis is back: other workers learn it."""
    here = baldur.protected(zone_name)(AlwaysFails())
    with pytest.raises(Boom):
        here()
    eventually(lambda: fleet_window(fleet, zone_name)[1] >= 1)  # synced once
    fleet.kill()
    eventually(degraded)
    for _ in range(3):
        with pytest.raises((Boom, baldur.CircuitOpenError)):
            here()
    assert baldur.circuit_state(zone_name) == "open"
    fleet.start()  # a fresh Redis: it knows nothing of the trip
    eventually(lambda: b"open" in fleet_state(fleet, zone_name))  # a probe sync merges
    seen = other_worker(
        fleet.url,
        f"""
        baldur.protected({zone_name!r})(lambda: None)
        try:
            baldur.protected({zone_name!r})(lambda: None)()
        except baldur.CircuitOpenError:
            pass
        time.sleep(0.5)
        print(baldur.circuit_state({zone_name!r}))
        """,
    )
    assert seen.stdout.strip() in ("open", "half_open"), seen.stderr


def test_a_change_reaches_other_workers_by_pub_sub_not_only_the_poll(
    redis_server: RedisServer, configure: Callable[..., None], zone_name: str
) -> None:
    """With the poll set to 30 s, only the announcement can bring another
    worker's force-open here within a second or two."""
    configure(redis_url=redis_server.url, cb_sync_interval_seconds=30)
    here = baldur.protected(zone_name)(lambda: "ok")
    assert here() == "ok"  # synced once; the next poll is 30 s away
    eventually(lambda: subscribers(redis_server) > 0)  # subscribed
    forced = other_worker(
        redis_server.url,
        f"""
        baldur.protected({zone_name!r})(lambda: None)()
        baldur.force_open_circuit({zone_name!r})
        time.sleep(0.6)
        """,
    )
    assert forced.returncode == 0, forced.stderr
    wait_for_state(zone_name, "forced_open", within=2.0)
