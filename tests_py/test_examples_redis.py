"""The example apps as they run in production: several workers sharing one
Redis (``BALDUR_REDIS_URL``, a private redis-server). A repeated checkout
reaches the gateway once whichever workers get it, and a breaker tripped
through one worker makes every worker fail fast, without calling the gateway."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from example_servers import EXAMPLE_APPS, Answer, App, Gateway, new_order, require_server
from redis_server import RedisServer

WORKERS = 3
#: Trips on two failed attempts (the first checkout's retries); stays open
#: for the whole test.
BREAKER = {
    "BALDUR_CB_FAILURE_THRESHOLD": "2",
    "BALDUR_CB_MINIMUM_CALLS": "2",
    "BALDUR_CB_RECOVERY_TIMEOUT": "300",
}


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    server = Gateway(tmp_path / "gateway.log")
    yield server
    server.stop()


@pytest.mark.parametrize("example", EXAMPLE_APPS)
def test_workers_share_idempotency_and_the_breaker_through_redis(
    example: str, redis_server: RedisServer, gateway: Gateway, tmp_path: Path
) -> None:
    require_server(example)
    app = App(example, gateway, tmp_path, WORKERS, BALDUR_REDIS_URL=redis_server.url, **BREAKER)
    try:
        pids = every_worker(app)

        # One order checked out six times at once, over several workers:
        # one charge request reaches the gateway.
        gateway.behave(latency=0.3)
        order_id = new_order()
        with ThreadPoolExecutor(max_workers=6) as pool:
            answers = list(pool.map(lambda _: app.checkout(order_id), range(6)))
        assert sorted(a.status for a in answers).count(201) == 1, answers
        assert {a.status for a in answers} <= {200, 201}, answers
        assert gateway.asked(order_id) == 1

        # The gateway goes down; one checkout trips the breaker...
        gateway.behave(failure_rate=1.0, latency=0)
        tripping = app.checkout(new_order())
        assert tripping.status == 202, (tripping, app.output())
        # ...the trip reaches every worker (Redis pub/sub and the sync poll)...
        assert workers_refusing(app, pids) == pids
        # ...and from then on every worker refuses at once, the gateway untouched.
        asked = gateway.total_requests()
        with ThreadPoolExecutor(max_workers=2 * WORKERS) as pool:
            answers = list(pool.map(lambda _: app.checkout(new_order()), range(6 * WORKERS)))
        for answer in answers:
            assert answer.status == 503, answer
            assert answer.body["order"]["status"] == "payment_unavailable", answer
            assert int(answer.headers["retry-after"]) >= 1
        assert len({answer.pid for answer in answers}) > 1, "one worker answered every checkout"
        assert gateway.total_requests() == asked
    finally:
        app.stop()
    assert "Traceback" not in app.output(), app.output()


def every_worker(app: App) -> set[str]:
    """The worker pids, learnt from concurrent requests (which the server
    has to spread over its workers)."""
    seen: set[str] = set()
    deadline = time.monotonic() + 60
    with ThreadPoolExecutor(max_workers=2 * WORKERS) as pool:
        while len(seen) < WORKERS:
            assert time.monotonic() < deadline, f"only workers {seen} ever answered"
            answers = pool.map(lambda _: app.get(f"/orders/{new_order()}"), range(4 * WORKERS))
            seen |= {answer.pid for answer in answers}
    return seen


def workers_refusing(app: App, pids: set[str]) -> set[str]:
    """Checkouts until each worker has refused one with 503 (its breaker
    open), for at most a minute: the workers that refused. A worker that
    has not heard of the trip yet answers with the fallback (202)."""
    refusing: set[str] = set()
    deadline = time.monotonic() + 60
    with ThreadPoolExecutor(max_workers=2 * WORKERS) as pool:
        while refusing != pids and time.monotonic() < deadline:
            answers: list[Answer] = list(
                pool.map(lambda _: app.checkout(new_order()), range(4 * WORKERS))
            )
            assert {answer.status for answer in answers} <= {202, 503}, answers
            refusing |= {answer.pid for answer in answers if answer.status == 503}
    return refusing
