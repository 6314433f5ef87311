"""Idempotency on a real Redis shared by several processes, and what
happens when Redis goes away: DEGRADED within a bounded time, fail-closed
(or fail-open on request), and back to normal once it returns."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import baldur
from helpers import Recorder, eventually
from redis_server import RedisServer


@pytest.fixture
def on_redis(redis_server: RedisServer, configure: Callable[..., None]) -> RedisServer:
    configure(redis_url=redis_server.url)
    return redis_server


def worker(url: str, body: str) -> subprocess.Popen[str]:
    """Another worker process of the same service, on the same Redis."""
    source = "import baldur, sys, time\nbaldur.init()\n" + textwrap.dedent(body)
    env = {**os.environ, "BALDUR_REDIS_URL": url}
    return subprocess.Popen(
        [sys.executable, "-c", source],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_key_claimed_by_one_worker_is_a_duplicate_for_another(
    on_redis: RedisServer, zone_name: str
) -> None:
    other = worker(
        on_redis.url,
        f"""
        @baldur.protected({zone_name!r}, idempotency_key="order_id")
        def charge(order_id):
            print("running", flush=True)
            time.sleep(1.0)
            return "charged"
        print(charge("o-1"), flush=True)
        """,
    )
    assert other.stdout is not None
    assert other.stdout.readline().strip() == "running"
    charge = baldur.protected(zone_name, idempotency_key="order_id")(Recorder())
    with pytest.raises(baldur.IdempotencyDuplicateError) as running:
        charge("o-1")
    assert running.value.state == "in_progress"
    out, err = other.communicate(timeout=20)
    assert out.strip() == "charged", err
    with pytest.raises(baldur.IdempotencyDuplicateError) as done:
        charge("o-1")
    assert done.value.state == "completed"


def test_many_workers_racing_on_one_key_run_it_once(on_redis: RedisServer, zone_name: str) -> None:
    body = f"""
        @baldur.protected({zone_name!r}, idempotency_key="order_id")
        def charge(order_id):
            time.sleep(0.3)
            return "ran"
        try:
            print(charge("o-2"))
        except baldur.IdempotencyDuplicateError as e:
            print(e.state)
        """
    workers = [worker(on_redis.url, body) for _ in range(6)]
    answers = sorted(w.communicate(timeout=30)[0].strip() for w in workers)
    assert answers.count("ran") == 1
    assert set(answers) - {"ran"} <= {"in_progress", "completed"}


def test_a_failed_call_releases_its_claim_in_redis(on_redis: RedisServer, zone_name: str) -> None:
    charge = Recorder(fail=1)
    protected = baldur.protected(zone_name, idempotency_key="order_id")(charge)
    with pytest.raises(Exception, match="down"):
        protected("o-3")
    assert protected("o-3") == "done o-3"
    assert on_redis.command("EXISTS", f"baldur:idem:{zone_name}:o-3").startswith(b":1")


def test_a_completed_key_expires_after_the_memory_ttl(
    on_redis: RedisServer, configure: Callable[..., None], zone_name: str
) -> None:
    configure(redis_url=on_redis.url, idempotency_gate_memory_ttl_seconds=0.3)
    protected = baldur.protected(zone_name, idempotency_key="order_id")(Recorder())
    protected("o-4")
    with pytest.raises(baldur.IdempotencyDuplicateError):
        protected("o-4")
    key = f"baldur:idem:{zone_name}:o-4"
    eventually(lambda: on_redis.command("EXISTS", key).startswith(b":0"))  # Redis expired it
    assert protected("o-4") == "done o-4"


def test_losing_redis_is_fail_closed_within_a_bounded_time(
    on_redis: RedisServer, zone_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    charge = Recorder()
    protected = baldur.protected(zone_name, idempotency_key="order_id")(charge)
    assert protected("o-5") == "done o-5"
    on_redis.kill()
    with caplog.at_level(logging.INFO, logger="baldur"):
        started = time.monotonic()
        with pytest.raises(baldur.IdempotencyUnavailableError):
            protected("o-6")
        assert time.monotonic() - started < 2.0
        # While degraded, calls fail fast instead of each waiting a timeout.
        started = time.monotonic()
        with pytest.raises(baldur.IdempotencyUnavailableError):
            protected("o-7")
        assert time.monotonic() - started < 0.5
    assert charge.ran == ["o-5"]

    def entered() -> int:
        return sum(
            1
            for r in caplog.records
            if getattr(r, "event", None) == "storage.degraded_entered"
            and getattr(r, "store", None) == "redis:idempotency"
        )

    # The failure may be noticed first by the background completion of
    # o-5, whose event is logged when that thread next holds the GIL.
    eventually(lambda: entered() > 0, within=2)
    assert entered() == 1
    health = baldur._core.store_health()["redis:idempotency"]
    assert health["degraded"] is True
    assert health["degraded_entries"] >= 1


def test_fail_open_calls_keep_running_while_redis_is_down(
    on_redis: RedisServer, zone_name: str
) -> None:
    charge = Recorder()
    protected = baldur.protected(zone_name, idempotency_key="order_id", idempotency_fail_open=True)(
        charge
    )
    on_redis.kill()
    assert protected("o-8") == "done o-8"
    assert charge.ran == ["o-8"]


def test_calls_recover_when_redis_comes_back(
    on_redis: RedisServer, zone_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    protected = baldur.protected(zone_name, idempotency_key="order_id")(Recorder())
    on_redis.kill()
    with pytest.raises(baldur.IdempotencyUnavailableError):
        protected("o-9")
    on_redis.start()
    answers: list[object] = []

    def recovered() -> bool:
        try:
            answers.append(protected("o-9"))
        except baldur.IdempotencyUnavailableError:
            return False
        return True

    with caplog.at_level(logging.INFO, logger="baldur"):
        eventually(recovered)
        assert answers == ["done o-9"]
    assert "storage.degraded_exited" in [getattr(r, "event", None) for r in caplog.records]
    assert baldur._core.store_health()["redis:idempotency"]["degraded"] is False


def test_a_stalled_redis_is_cut_off_by_the_timeout(on_redis: RedisServer, zone_name: str) -> None:
    protected = baldur.protected(zone_name, idempotency_key="order_id")(Recorder())
    assert protected("o-10") == "done o-10"
    on_redis.pause(3000)
    started = time.monotonic()
    with pytest.raises(baldur.IdempotencyUnavailableError, match=r"timed out|did not answer"):
        protected("o-11")
    assert time.monotonic() - started < 1.5


def test_async_calls_claim_in_redis(on_redis: RedisServer, zone_name: str) -> None:
    import asyncio

    @baldur.protected(zone_name, idempotency_key="order_id")
    async def charge(order_id: str) -> str:
        await asyncio.sleep(0.1)
        return order_id

    async def twice() -> list[object]:
        return await asyncio.gather(charge("o-12"), charge("o-12"), return_exceptions=True)

    outcomes = asyncio.run(twice())
    assert outcomes.count("o-12") == 1
    assert any(isinstance(o, baldur.IdempotencyDuplicateError) for o in outcomes)


def test_a_forked_child_claims_through_its_own_connection(
    on_redis: RedisServer, zone_name: str
) -> None:
    import multiprocessing

    protected = baldur.protected(zone_name, idempotency_key="order_id")(Recorder())
    assert protected("o-13") == "done o-13"  # the parent's connection is live

    def child() -> None:
        try:
            protected("o-13")
        except baldur.IdempotencyDuplicateError:
            os._exit(0)
        os._exit(3)

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join(20)
    assert process.exitcode == 0


def test_a_forked_child_and_its_parent_never_share_a_connection(
    on_redis: RedisServer, zone_name: str
) -> None:
    """Claims run on a connection of the calling thread's own. One made
    before a fork is the parent's: were the child to use it too, answers
    meant for one would reach the other."""
    import multiprocessing

    protected = baldur.protected(zone_name, idempotency_key="order_id")(Recorder())
    assert protected("warm-up") == "done warm-up"  # this thread's connection is made

    def child() -> None:
        wrong = [i for i in range(300) if protected(f"c-{i}") != f"done c-{i}"]
        os._exit(0 if not wrong else 3)

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    assert [i for i in range(300) if protected(f"p-{i}") != f"done p-{i}"] == []
    process.join(30)
    assert process.exitcode == 0
    assert on_redis.command("EXISTS", f"baldur:idem:{zone_name}:c-299").startswith(b":1")


def test_threads_claim_in_redis_each_on_its_own_connection(
    on_redis: RedisServer, zone_name: str
) -> None:
    """Eight threads over forty keys, each key wanted by every thread: each
    key runs once, and every other caller is told it is a duplicate."""
    import threading

    charge = Recorder()
    protected = baldur.protected(zone_name, idempotency_key="order_id")(charge)
    outcomes: list[str] = []

    def run() -> None:
        for i in range(40):
            try:
                outcomes.append(protected(f"o-{i}"))
            except baldur.IdempotencyDuplicateError as duplicate:
                outcomes.append(duplicate.state)
            except baldur.IdempotencyUnavailableError:
                outcomes.append("unavailable")  # a loaded machine's 300 ms ran out

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(charge.ran) == len(set(charge.ran)), "a key ran twice"
    assert len(outcomes) == 320
    ran = {f"done {key}" for key in charge.ran}
    assert {o for o in outcomes if o.startswith("done")} == ran
    assert set(outcomes) - ran <= {"in_progress", "completed", "unavailable"}
    # Unless Redis timed out, every key ran: the claims did not refuse work.
    if "unavailable" not in outcomes:
        assert len(charge.ran) == 40


def test_rediss_connects_over_tls_with_the_configured_ca(
    configure: Callable[..., None], zone_name: str
) -> None:
    server = RedisServer(tls=True)
    server.start()
    try:
        configure(redis_url=server.url, redis_tls_ca_file=server.ca_file)
        protected = baldur.protected(zone_name, idempotency_key="order_id")(Recorder())
        assert protected("o-tls") == "done o-tls"
        with pytest.raises(baldur.IdempotencyDuplicateError):
            protected("o-tls")
    finally:
        server.stop()


def test_rediss_refuses_a_server_it_cannot_verify(
    configure: Callable[..., None], zone_name: str
) -> None:
    """Without the CA, the self-signed server is not trusted: fail-closed."""
    server = RedisServer(tls=True)
    server.start()
    try:
        configure(redis_url=server.url)
        protected = baldur.protected(zone_name, idempotency_key="order_id")(Recorder())
        with pytest.raises(baldur.IdempotencyUnavailableError):
            protected("o-untrusted")
    finally:
        server.stop()


def test_a_missing_ca_file_is_a_config_error(configure: Callable[..., None]) -> None:
    with pytest.raises(baldur.ConfigError) as caught:
        configure(redis_tls_ca_file="/nonexistent/ca.pem")
    assert caught.value.key == "redis_tls_ca_file"


def test_an_async_claim_does_not_block_the_event_loop(
    on_redis: RedisServer, zone_name: str
) -> None:
    """The round trip is awaited on the background runtime: while a stalled
    Redis is waited out, other tasks keep running."""
    import asyncio

    @baldur.protected(zone_name, idempotency_key="order_id")
    async def charge(order_id: str) -> str:
        return order_id

    async def scenario() -> tuple[int, BaseException | None]:
        assert await charge("warm-up") == "warm-up"  # connected
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        ticking = asyncio.create_task(ticker())
        on_redis.pause(1000)
        error: BaseException | None = None
        try:
            await charge("o-stalled")
        except baldur.IdempotencyUnavailableError as unavailable:
            error = unavailable
        ticking.cancel()
        return ticks, error

    ticks, error = asyncio.run(scenario())
    assert isinstance(error, baldur.IdempotencyUnavailableError)
    assert ticks >= 10  # ~300 ms of timeout: a blocked loop would not have ticked


def test_a_claim_or_completion_sent_again_by_its_owner_stays_its_own(
    redis_server: RedisServer,
) -> None:
    """A caller whose connection dropped sends its claim (or completion)
    once more on a new one: if the first did run, the second must not turn
    the owner away from its own key."""
    lua = Path(__file__).resolve().parent.parent / "src/core/idempotency/lua"
    claim, complete = (lua / "claim.lua").read_text(), (lua / "complete.lua").read_text()
    first = redis_server.command("EVAL", claim, "1", "baldur:idem:z:k", "7", "", "30000")
    assert b"claimed" in first
    assert redis_server.command("EVAL", claim, "1", "baldur:idem:z:k", "7", "", "30000") == first
    other = redis_server.command("EVAL", claim, "1", "baldur:idem:z:k", "8", "", "30000")
    assert b"duplicate" in other and b"running" in other
    for _ in range(2):
        done = redis_server.command("EVAL", complete, "1", "baldur:idem:z:k", "7", "60000")
        assert done.startswith(b":1")
    assert redis_server.command("EVAL", complete, "1", "baldur:idem:z:k", "8", "60000") == b":0\r\n"
    # A late copy of the claim leaves the completion alone.
    assert b"claimed" in redis_server.command("EVAL", claim, "1", "baldur:idem:z:k", "7", "", "1")
    assert b"completed" in redis_server.command("HGET", "baldur:idem:z:k", "state")


def test_a_claim_that_lands_after_its_release_does_not_hold_the_key(
    redis_server: RedisServer,
) -> None:
    """Its caller timed out and released it; the claim itself was still on
    the wire. It must not hold the key for its whole window."""
    lua = Path(__file__).resolve().parent.parent / "src/core/idempotency/lua"
    claim, release = (lua / "claim.lua").read_text(), (lua / "release.lua").read_text()
    key = "baldur:idem:z:late"
    assert redis_server.command("EVAL", release, "1", key, "7") == b":0\r\n"
    assert b"released" in redis_server.command("EVAL", claim, "1", key, "7", "", "30000")
    assert b"released" in redis_server.command("HGET", key, "state")
    assert b"claimed" in redis_server.command("EVAL", claim, "1", key, "8", "", "30000")
