"""baldur.leader in one process: without Redis it leads itself; with Redis
it takes the lease, says so (status, events, the control API), fences its
writes, releases the lease on a clean exit, and a Redis that stops
answering costs a question nothing. The fleet (three processes, SIGKILL,
SIGSTOP) is tested in test_leader_fleet.py."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator

import pytest

import baldur
import baldur._core as _core
import baldur.leader
from baldur.exceptions import ConfigError
from control_api_calls import get
from redis_cluster import RedisCluster
from redis_server import RedisServer
from tcp_proxy import BlackHoleProxy

pytestmark = pytest.mark.timeout(60)

HOLDER = "{baldur:leader}:holder"
TOKEN = "{baldur:leader}:token"


def wait_for(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_without_redis_every_process_leads_itself() -> None:
    assert baldur.leader.is_leader()
    status = baldur.leader.status()
    assert status == baldur.leader.LeaderStatus(status.leader_id, 1, None, True)
    assert status.leader_id is not None and f":{os.getpid()}:" in status.leader_id
    assert baldur.leader.fenced("job", "done")
    assert baldur.leader.read_fenced("job") == "done"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("leader_lease_seconds", 0.5),
        ("leader_lease_seconds", "soon"),
        ("leader_lease_seconds", 0),
        ("leader_election_redis_url", "http://example.com"),
    ],
)
def test_a_bad_setting_is_a_config_error_naming_it(
    key: str, value: object, configure: Callable[..., None]
) -> None:
    with pytest.raises(ConfigError) as refused:
        configure(**{key: value})
    assert key in str(refused.value)
    assert baldur.leader.is_leader(), "nothing changed"


def test_the_lease_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, configure: Callable[..., None]
) -> None:
    monkeypatch.setenv("BALDUR_LEADER_LEASE_SECONDS", "0.9")
    with pytest.raises(ConfigError, match="BALDUR_LEADER_LEASE_SECONDS"):
        configure()
    monkeypatch.setenv("BALDUR_LEADER_LEASE_SECONDS", "1")
    configure()


@pytest.fixture
def leading(redis_server: RedisServer, configure: Callable[..., None]) -> Iterator[RedisServer]:
    configure(leader_election_redis_url=redis_server.url, leader_lease_seconds=1)
    wait_for(baldur.leader.is_leader)
    yield redis_server


def test_with_redis_this_process_takes_the_lease_and_says_so(
    redis_server: RedisServer, configure: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="baldur.leader")
    configure(leader_election_redis_url=redis_server.url, leader_lease_seconds=1)
    wait_for(baldur.leader.is_leader)
    status = baldur.leader.status()
    assert status.is_leader and status.token >= 1
    assert status.lease_left is not None and 0 < status.lease_left <= 1
    assert redis_server.command("GET", HOLDER).split(b"\r\n")[1].decode() == status.leader_id
    assert [r.getMessage() for r in caplog.records if "leader.acquired" in r.getMessage()]
    # The lease loop beats the watchdog.
    assert "leader_lease" in {loop["name"] for loop in _core.watchdog_status()}
    # The control API answers the same, naming the process that served.
    answer = get("leader/")
    assert answer.status == 200
    assert answer.json["is_leader"] is True and answer.json["token"] == status.token
    assert answer.json["leader_id"] == status.leader_id
    assert answer.json["served_by"]["pid"] == os.getpid()


def test_a_fenced_write_with_an_older_token_is_refused(leading: RedisServer) -> None:
    token = baldur.leader.status().token
    assert baldur.leader.fenced("report", "fresh")
    assert baldur.leader.fenced("report", "same token", token=token)
    assert not baldur.leader.fenced("report", "stale", token=token - 1)
    assert baldur.leader.read_fenced("report") == "same token"


def test_a_forked_child_elects_afresh_under_an_id_of_its_own(leading: RedisServer) -> None:
    parent = baldur.leader.status()
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        try:
            deadline = time.monotonic() + 5
            status = baldur.leader.status()  # starts the child's own loop
            while status.leader_id is None and time.monotonic() < deadline:
                time.sleep(0.01)
                status = baldur.leader.status()
            mine = f":{os.getpid()}:"
            verdict = (not status.is_leader) and status.leader_id == parent.leader_id
            verdict = verdict and mine not in str(parent.leader_id)
            os.write(writer, b"ok" if verdict else repr(status).encode())
        finally:
            os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    with os.fdopen(reader, "rb") as pipe:
        assert pipe.read() == b"ok"
    assert baldur.leader.is_leader()


def test_a_clean_exit_releases_the_lease(redis_server: RedisServer) -> None:
    script = textwrap.dedent(
        f"""
        import time, baldur, baldur.leader
        baldur.init(leader_election_redis_url={redis_server.url!r}, leader_lease_seconds=15)
        while not baldur.leader.is_leader():
            time.sleep(0.01)
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=30)
    # The lease is not left to lapse (15 s): it is gone; the token stays.
    assert redis_server.command("EXISTS", HOLDER) == b":0\r\n"
    assert redis_server.command("GET", TOKEN).startswith(b"$1\r\n1")


def test_a_redis_that_stops_answering_costs_a_question_nothing(
    redis_server: RedisServer, configure: Callable[..., None]
) -> None:
    hole = BlackHoleProxy(redis_server.port)
    try:
        hole.swallow()
        configure(leader_election_redis_url=hole.url(), leader_lease_seconds=1)
        started = time.monotonic()
        for _ in range(100):
            assert not baldur.leader.is_leader()
            baldur.leader.status()
        assert time.monotonic() - started < 0.5
        # A fenced write waits at most the store's bound, then says so.
        started = time.monotonic()
        with pytest.raises(ConnectionError):
            baldur.leader.fenced("report", "x", token=1)
        assert time.monotonic() - started < 1.0
        status = baldur.leader.status()
        assert (status.is_leader, status.leader_id) == (False, None)
    finally:
        _core.leader_release()  # before the hole closes: bounded, not hung
        hole.close()


def test_the_election_runs_on_a_cluster(configure: Callable[..., None]) -> None:
    # Every key of the election shares one hash tag: each script runs on
    # the node that holds its slot.
    cluster = RedisCluster()
    cluster.start()
    try:
        configure(leader_election_redis_url=cluster.url, leader_lease_seconds=1)
        wait_for(baldur.leader.is_leader)
        token = baldur.leader.status().token
        assert baldur.leader.fenced("report", "on the cluster", token=token)
        assert not baldur.leader.fenced("report", "stale", token=token - 1)
        assert baldur.leader.read_fenced("report") == "on the cluster"
    finally:
        _core.leader_release()
        cluster.stop()


def test_a_leader_cut_off_from_redis_stops_before_its_lease_ends(
    redis_server: RedisServer, configure: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="baldur.leader")
    hole = BlackHoleProxy(redis_server.port)
    try:
        configure(leader_election_redis_url=hole.url(), leader_lease_seconds=1)
        wait_for(baldur.leader.is_leader)
        hole.swallow()  # renewals go unanswered from now
        cut = time.monotonic()
        wait_for(lambda: not baldur.leader.is_leader(), timeout=5)
        stopped = time.monotonic() - cut
        # Redis still holds the lease for it: nobody else could lead yet.
        left = redis_server.command("PTTL", HOLDER)
        print(f"stopped {stopped:.3f} s after the cut; Redis answered PTTL {left!r}")
        assert int(left[1:].split(b"\r\n")[0]) > 0
        assert stopped < 1.0
        wait_for(lambda: any("leader.lost" in r.getMessage() for r in caplog.records), timeout=5)
        assert any("leader.renew_failed" in r.getMessage() for r in caplog.records)
    finally:
        _core.leader_release()
        hole.close()


def test_a_redis_that_comes_back_empty_is_reported_as_the_tokens_loss(
    redis_server: RedisServer, configure: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    # The counter starts again from 1 in an empty Redis: no fence can see
    # that, so the loss is said.
    caplog.set_level(logging.INFO)
    configure(leader_election_redis_url=redis_server.url, leader_lease_seconds=1)
    wait_for(baldur.leader.is_leader)
    wait_for(lambda: redis_server.command("EXISTS", "baldur:incarnation") == b":1\r\n")
    redis_server.kill()
    redis_server.start()  # no persistence: everything is gone

    def reported() -> bool:
        return any(
            "storage.data_lost" in r.getMessage() and "fencing token" in r.getMessage()
            for r in caplog.records
        )

    wait_for(reported, timeout=15)
    wait_for(baldur.leader.is_leader)  # and it leads again, under a new counter
