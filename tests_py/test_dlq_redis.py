"""The dead-letter queue on Redis Streams: what only a shared store has to
get right. Replayers in several processes, a dead replayer's claim, the
overall cap across domains, and an outage: records kept locally, durably,
and flushed to Redis once, when it returns. (The rest of the queue's
behaviour runs on both stores in test_dlq.py and test_dlq_replay.py.)"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import baldur
import baldur.testing
from helpers import Boom, failed_job
from helpers import eventually as eventually_within
from redis_server import RedisServer

APPS = Path(__file__).parent / "apps"


def eventually(check: Callable[[], bool]) -> None:
    """Flushing waits for the store's next probe: give it ten seconds."""
    eventually_within(check, within=10.0)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A Redis of this test's own that keeps what it acknowledged across a
    kill -9 and restart (append-only file, fsync on every write)."""
    server = RedisServer()
    server.extra = ["--appendonly", "yes", "--appendfsync", "always"]
    server.start()
    yield server
    server.stop()


@pytest.fixture
def on_redis(
    configure: Callable[..., None], redis_server: RedisServer, tmp_path: Path
) -> RedisServer:
    configure(redis_url=redis_server.url, data_dir=str(tmp_path))
    return redis_server


def fail(i: int) -> Callable[[], None]:
    def failing() -> None:
        raise Boom(str(i))

    return failing


def python(code: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**os.environ, "PYTHONPATH": str(APPS), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


def claim_idle_ms(server: RedisServer) -> int:
    """How long the oldest replay claim of the dlq-jobs domain has been held."""
    reply = server.command("XPENDING", "baldur:dlq:{dlq-jobs}:stream", "replayers", "-", "+", "1")
    idle, _deliveries = (int(w[1:]) for w in reply.split(b"\r\n") if w.startswith(b":"))
    return idle


def test_each_domain_is_a_stream_with_a_replay_group(on_redis: RedisServer, zone_name: str) -> None:
    result = baldur.protect_with_meta(zone_name, fail(0), dlq=True)
    assert result.dlq_id is not None and result.dlq_id.startswith(f"{zone_name}:")
    stream = f"baldur:dlq:{{{zone_name}}}:stream"
    assert on_redis.command("XLEN", stream).startswith(b":1")
    assert b"replayers" in on_redis.command("XINFO", "GROUPS", stream)
    assert baldur.dlq.stats()["store"] == "redis"


@pytest.mark.parametrize("strategy", ["drop_oldest", "compress_oldest", "reject"])
def test_the_overall_cap_spans_domains(
    configure: Callable[..., None],
    redis_server: RedisServer,
    tmp_path: Path,
    new_name: Callable[[], str],
    strategy: str,
) -> None:
    configure(
        redis_url=redis_server.url,
        data_dir=str(tmp_path),
        dlq_max_size=3,
        dlq_max_per_domain=2,
        dlq_overflow_strategy=strategy,
    )
    first, second = new_name(), new_name()
    for i, zone in enumerate([first, second, first]):
        baldur.protect_with_meta(zone, fail(i), dlq=True)
    if strategy == "reject":
        with pytest.raises(baldur.DeadLetterQueueFullError, match="max_size=3"):
            baldur.protect(second, fail(3), dlq=True)
        assert baldur.dlq.stats()["total"] == 3
        return
    baldur.protect_with_meta(second, fail(3), dlq=True)
    # The fleet's oldest went, from the other domain. (Across domains the
    # order is the millisecond's: two entries of one millisecond may swap.)
    kept = sorted(e["error_message"] for e in baldur.dlq.list())
    assert kept == ["1", "2", "3"]
    seen = python(  # the eviction is the fleet's count, not this process's
        "import baldur\nprint(baldur.dlq.stats()['evicted'])",
        {"BALDUR_REDIS_URL": redis_server.url, "BALDUR_DATA_DIR": str(tmp_path)},
    )
    assert seen.stdout.strip() == "1"
    if strategy == "compress_oldest":
        [(zone, error_type, count)] = baldur.dlq.stats()["compressed_summaries"]
        assert (zone, count) == (first, 1) and error_type.endswith("Boom")


def test_replayers_in_several_processes_never_run_one_entry_twice(
    on_redis: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker, go = tmp_path / "runs.txt", tmp_path / "go"
    env = {
        "BALDUR_REDIS_URL": on_redis.url,
        "BALDUR_DATA_DIR": str(tmp_path),
        "BALDUR_TEST_MARKER": str(marker),
        "BALDUR_CB_FAILURE_THRESHOLD": "1000",  # the breaker stays out of it
    }
    orders = [f"o{i}" for i in range(12)]
    python(
        f"""
        import baldur, dlq_jobs
        for order in {orders!r}:
            try:
                dlq_jobs.ship(order)
            except ConnectionError:
                pass
        """,
        {**env, "BALDUR_TEST_FAIL": "1"},
    )
    assert len(baldur.dlq.list(domain="dlq-jobs")) == len(orders)
    replayer = f"""
        import os, time, baldur, dlq_jobs
        print("waiting", flush=True)
        while not os.path.exists({str(go)!r}):
            time.sleep(0.005)
        print(sum(bool(r.get("ok")) for r in baldur.dlq.replay_batch(domain="dlq-jobs")))
        """
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(replayer)],
            env={**os.environ, "PYTHONPATH": str(APPS), **env, "BALDUR_TEST_FAIL": "0"},
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for w in workers:  # every worker is waiting
        assert w.stdout is not None and w.stdout.readline().strip() == "waiting"
    go.touch()
    replayed = [int(w.communicate(timeout=60)[0].strip()) for w in workers]
    assert sum(replayed) == len(orders)
    assert sorted(marker.read_text().split()) == sorted(f"{o}:1" for o in orders)
    assert baldur.dlq.list(domain="dlq-jobs") == []


def test_a_dead_replayers_claim_is_taken_over_after_the_lease(
    on_redis: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = failed_job(monkeypatch, str(tmp_path / "runs.txt"), "lease")
    crashed = python(
        f"""
        import os, signal, baldur
        baldur.init()
        assert baldur._core.dlq_claim({entry["id"]!r}) is not None
        os.kill(os.getpid(), signal.SIGKILL)  # dies mid-replay
        """,
        {"BALDUR_REDIS_URL": on_redis.url, "BALDUR_DATA_DIR": str(tmp_path)},
        check=False,
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    held = baldur.dlq.list(state="replaying")
    assert [e["id"] for e in held] == [entry["id"]]  # the group's pending list holds it
    assert baldur.dlq.replay(entry["id"]) == {
        "id": entry["id"],
        "replayed": False,
        "state": "replaying",
    }  # the claim still holds
    baldur.testing.dlq_set_replay_lease(0.2)
    try:
        eventually(lambda: claim_idle_ms(on_redis) > 200)  # the dead replayer's lease ran out
        # A batch (or the sweep when the breaker closes) takes it over too.
        [outcome] = baldur.dlq.replay_batch(domain="dlq-jobs")
        assert (outcome["id"], outcome["ok"]) == (entry["id"], True)
    finally:
        baldur.testing.dlq_set_replay_lease(60)
    assert (tmp_path / "runs.txt").read_text() == "lease:1\n"


def test_an_outage_keeps_records_locally_says_so_and_flushes_them_once(
    on_redis: RedisServer, zone_name: str
) -> None:
    before = [baldur.protect_with_meta(zone_name, fail(i), dlq=True).dlq_id for i in range(2)]
    flushed = baldur.testing.dlq_flushed()
    on_redis.kill()
    during = [baldur.protect_with_meta(zone_name, fail(i), dlq=True).dlq_id for i in (2, 3, 4)]
    assert all(str(i).startswith("local:") for i in during)

    partial = baldur.dlq.list(domain=zone_name)
    assert not partial.complete and "unreachable" in str(partial.unavailable)
    assert [e["error_message"] for e in partial] == ["2", "3", "4"]
    counts = baldur.dlq.stats()
    assert counts["unavailable"] is not None and counts["local"] == 3
    assert baldur.dlq.get(during[0])["error_message"] == "2"  # type: ignore[index]
    with pytest.raises(baldur.DeadLetterQueueUnavailableError):
        baldur.dlq.get(before[0])  # type: ignore[arg-type]
    with pytest.raises(baldur.DeadLetterQueueUnavailableError):
        baldur.dlq.purge(domain=zone_name, confirm=True)

    on_redis.start()  # the same data: what Redis acknowledged is still there
    eventually(lambda: baldur.testing.dlq_flushed() - flushed == 3)
    # A read may still find the queue's Redis DEGRADED for a moment after
    # the flusher got through (its health recovers on its own probe).
    eventually(lambda: baldur.dlq.list(domain=zone_name).complete)
    entries = baldur.dlq.list(domain=zone_name)
    assert entries.complete
    assert [e["error_message"] for e in entries] == ["0", "1", "2", "3", "4"]
    assert all(not e["id"].startswith("local:") for e in entries)
    assert baldur.dlq.stats()["local"] == 0


def test_a_queue_no_call_uses_leaves_degraded_when_redis_answers_again(
    on_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Recovery does not wait for the next record or listing: the store is
    probed in the background, and the exit is logged when Redis is back."""
    assert not baldur.dlq.stats()["degraded"]
    on_redis.kill()
    with caplog.at_level(logging.INFO, logger="baldur"):
        assert baldur.dlq.stats()["degraded"]

        def exited() -> bool:
            messages = [record.getMessage() for record in caplog.records]
            return any("degraded_exited" in m and "redis:dlq" in m for m in messages)

        on_redis.start()
        eventually(exited)
    assert not baldur.dlq.stats()["degraded"]


def test_a_record_kept_locally_survives_kill_9_and_a_new_process_flushes_it(
    on_redis: RedisServer, tmp_path: Path, configure: Callable[..., None]
) -> None:
    on_redis.kill()
    env = {"BALDUR_REDIS_URL": on_redis.url, "BALDUR_DATA_DIR": str(tmp_path)}
    crashed = python(
        """
        import os, signal, baldur
        print(baldur.protect_with_meta("dlq-outage-crash", lambda: 1 / 0, dlq=True).dlq_id)
        os.kill(os.getpid(), signal.SIGKILL)
        """,
        env,
        check=False,
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert crashed.stdout.strip().startswith("local:")
    on_redis.start()
    flushed = python(
        """
        import time, baldur
        # A forward the crash cut short holds its entry for 5 s at most.
        deadline = time.monotonic() + 20
        while baldur.dlq.stats()["local"] and time.monotonic() < deadline:
            time.sleep(0.05)
        print([e["id"] for e in baldur.dlq.list(domain="dlq-outage-crash")])
        """,
        env,
    )
    [entry_id] = eval(flushed.stdout.strip())
    assert entry_id.startswith("dlq-outage-crash:")
    assert baldur.dlq.get(entry_id)["error_type"] == "builtins.ZeroDivisionError"  # type: ignore[index]


def test_flushing_from_several_processes_never_doubles_an_entry(
    on_redis: RedisServer, tmp_path: Path, zone_name: str, configure: Callable[..., None]
) -> None:
    configure(cb_failure_threshold=1000)  # every record is the call's own failure
    on_redis.kill()
    for i in range(30):
        baldur.protect_with_meta(zone_name, fail(i), dlq=True)
    on_redis.start()
    env = {"BALDUR_REDIS_URL": on_redis.url, "BALDUR_DATA_DIR": str(tmp_path)}
    flusher = """
        import time, baldur
        deadline = time.monotonic() + 15
        while baldur.dlq.stats()["local"] and time.monotonic() < deadline:
            time.sleep(0.01)
        """
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(flusher)],
            env={**os.environ, "PYTHONPATH": str(APPS), **env},
        )
        for _ in range(3)
    ]
    for worker in workers:
        assert worker.wait(30) == 0
    eventually(lambda: baldur.dlq.stats()["local"] == 0)
    # This process learns Redis is back at its next probe: until then its
    # answers say they are partial.
    eventually(lambda: baldur.dlq.list(domain=zone_name).complete)
    messages = [e["error_message"] for e in baldur.dlq.list(domain=zone_name, limit=100)]
    assert sorted(messages, key=int) == [str(i) for i in range(30)]


def test_a_forked_worker_records_through_a_connection_of_its_own(
    on_redis: RedisServer, tmp_path: Path
) -> None:
    """gunicorn --preload: the parent used the queue before forking."""
    forked = python(
        """
        import os, baldur
        baldur.init(cb_failure_threshold=1000)
        baldur.protect_with_meta("dlq-forked", lambda: 1 / 0, dlq=True)
        child = os.fork()
        if child == 0:
            recorded = baldur.protect_with_meta("dlq-forked", lambda: 1 / 0, dlq=True)
            os._exit(0 if recorded.dlq_id.startswith("dlq-forked:") else 1)
        _, status = os.waitpid(child, 0)
        print(os.waitstatus_to_exitcode(status), len(baldur.dlq.list(domain="dlq-forked")))
        """,
        {"BALDUR_REDIS_URL": on_redis.url, "BALDUR_DATA_DIR": str(tmp_path)},
    )
    assert forked.stdout.split() == ["0", "2"]


def test_room_made_in_redis_for_a_flushed_entry_is_counted_and_logged(
    configure: Callable[..., None],
    redis_server: RedisServer,
    tmp_path: Path,
    zone_name: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    configure(
        redis_url=redis_server.url,
        data_dir=str(tmp_path),
        dlq_max_per_domain=2,
        cb_failure_threshold=1000,
    )
    for i in range(2):
        baldur.protect_with_meta(zone_name, fail(i), dlq=True)
    redis_server.kill()
    baldur.protect_with_meta(zone_name, fail(2), dlq=True)  # kept locally
    evicted = baldur.dlq.stats()["evicted"]
    with caplog.at_level(logging.WARNING, logger="baldur"):
        redis_server.start()
        eventually(lambda: baldur.dlq.stats()["local"] == 0)
        eventually(lambda: baldur.dlq.list(domain=zone_name).complete)
        assert [e["error_message"] for e in baldur.dlq.list(domain=zone_name)] == ["1", "2"]
        assert baldur.dlq.stats()["evicted"] == evicted + 1
        eventually(lambda: any(r.message.startswith("dlq.entries_evicted") for r in caplog.records))


def test_a_record_redis_took_too_late_is_kept_once(on_redis: RedisServer, zone_name: str) -> None:
    """Redis stalls: the record times out and is kept locally, yet Redis
    runs it when it wakes. Flushed, the local copy is recognised by its
    token and not added again."""
    baldur.protect_with_meta(zone_name, fail(0), dlq=True)  # Redis knows the script
    flushed = baldur.testing.dlq_flushed()
    on_redis.pause(1200)
    kept = baldur.protect_with_meta(zone_name, fail(1), dlq=True).dlq_id
    assert kept is not None and kept.startswith("local:")
    eventually(lambda: baldur.testing.dlq_flushed() > flushed)
    eventually(lambda: baldur.dlq.list(domain=zone_name).complete)
    entries = baldur.dlq.list(domain=zone_name)
    assert [e["error_message"] for e in entries] == ["0", "1"]
    assert all(e["id"].startswith(f"{zone_name}:") for e in entries)
    assert baldur.dlq.stats()["local"] == 0


def _record_script() -> str:
    """The record script as Baldur sends it (the keys first, the helpers in
    the branch that makes room)."""
    lua = Path(__file__).resolve().parent.parent / "src/core/dlq/lua"
    helpers = (lua / "common.lua").read_text()
    body = (lua / "record.lua").read_text().replace("-- {helpers}", helpers)
    return (lua / "keys.lua").read_text() + "\n" + body


def _record_with_token(server: RedisServer, zone: str, token: str, cap: int = 1000) -> bytes:
    keys = [f"baldur:dlq:{{{zone}}}:{name}" for name in DOMAIN_KEY_NAMES]
    fields = ["m:f", "[]", "1", "builtins.ValueError", "late", "1", "exhausted"]
    head = [str(cap), "drop_oldest", "pending", "3", "", ""]
    # "1": the token may be here already (a copy flushed from the local queue).
    return server.command("EVAL", _record_script(), "6", *keys, *head, *fields, token, "1")


DOMAIN_KEY_NAMES = ("stream", "states", "summary", "counts", "tokens", "gone")


def test_a_late_copy_of_an_entry_already_replayed_or_purged_is_refused(
    on_redis: RedisServer, zone_name: str
) -> None:
    """Its record's answer was lost, so it was kept locally too; meanwhile
    Redis's copy was replayed (or purged) and removed. The local copy,
    flushed late, must not come back to be replayed a second time."""
    assert b"ok" in _record_with_token(on_redis, zone_name, "tok-1")
    assert len(baldur.dlq.list(domain=zone_name)) == 1
    assert baldur.dlq.purge(domain=zone_name, confirm=True) == 1
    late = _record_with_token(on_redis, zone_name, "tok-1")
    assert b"duplicate" in late and b"gone" in late
    assert baldur.dlq.list(domain=zone_name) == []


def test_a_recorded_entry_is_stamped_with_its_stream_id_and_its_copy_is_recognised(
    on_redis: RedisServer, zone_name: str
) -> None:
    """A record's time is its stream id's (the script asks no clock), and
    its token is kept: a late copy of it answers the entry's own id."""
    entry_id = baldur.protect_with_meta(zone_name, fail(0), dlq=True).dlq_id
    assert entry_id is not None
    stream_id = entry_id.rsplit(":", 1)[1]
    entry = baldur.dlq.get(entry_id)
    assert entry is not None
    assert entry["created_at"] == entry["updated_at"] == int(stream_id.split("-")[0]) / 1000
    states = f"baldur:dlq:{{{zone_name}}}:states"
    token = json.loads(on_redis.command("HGET", states, stream_id).split(b"\r\n")[1])["t"]
    late = _record_with_token(on_redis, zone_name, token)
    assert b"duplicate" in late and stream_id.encode() in late
    assert len(baldur.dlq.list(domain=zone_name)) == 1


def test_the_tokens_of_removed_entries_are_remembered_for_a_week_and_expire(
    on_redis: RedisServer, zone_name: str
) -> None:
    """Churn cannot grow Redis's memory: the set of removed entries' tokens
    drops those older than a week, and expires with a quiet domain."""
    gone = f"baldur:dlq:{{{zone_name}}}:gone"
    on_redis.command("ZADD", gone, "1", "old")
    assert b"ok" in _record_with_token(on_redis, zone_name, "tok-2", cap=1)
    assert b"ok" in _record_with_token(on_redis, zone_name, "tok-3", cap=1)  # evicts tok-2
    assert on_redis.command("ZSCORE", gone, "old") == b"$-1\r\n"
    assert on_redis.command("ZSCORE", gone, "tok-2") != b"$-1\r\n"
    ttl = int(on_redis.command("PTTL", gone)[1:].strip())
    assert 6 * 24 * 3600 * 1000 < ttl <= 7 * 24 * 3600 * 1000
    assert b"duplicate" in _record_with_token(on_redis, zone_name, "tok-2", cap=1)
