"""Shared fixtures for the sync facade's tests.

Every test starts from a fresh process's state (``baldur.testing.reset()``
before and after it: breakers, idempotency keys, the kill switch, metrics and
the drain), so tests share zone names freely. It runs against Baldur's
documented defaults: ``BALDUR_*`` variables from the developer's shell are
hidden for the session, and whatever a test changes with ``baldur.init()`` is
put back afterwards, as is the testing mode.
"""

from __future__ import annotations

import itertools
import logging
import os
import tempfile
from collections.abc import Callable, Iterator

import pytest

import baldur
import baldur.testing
from helpers import FastBreaker, Stall
from redis_server import RedisServer

# Durable local data (the write-ahead log, the SQLite dead-letter queue, the
# kill switch's record), never the developer's own state directory: each test
# gets a directory of its own, since what one test left in a log (a trip
# logged during an outage, replayed into the next test's Redis) would reach
# the next one under the same zone name.
_data_dir = tempfile.mkdtemp(prefix="baldur-tests-")


def _restore_defaults() -> None:
    """Every ``init()`` override forgotten, with no ``BALDUR_*`` variable in
    sight: the defaults."""
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("BALDUR_") or key == "REDIS_URL":
                mp.delenv(key)
        mp.setenv("BALDUR_DATA_DIR", _data_dir)
        # No admin server on 9090 for tests that do not test it (the
        # contract's rule); those that do pass admin_port to init().
        mp.setenv("BALDUR_ADMIN_PORT", "0")
        baldur._config.reset()
    # A report cached by one test (an unhealthy check it set up) must not
    # answer the next test's probe.
    baldur.health.invalidate_cache()
    baldur.dashboard.invalidate_cache()


@pytest.fixture(autouse=True, scope="session")
def _hermetic_environment() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("BALDUR_") or key == "REDIS_URL":
                mp.delenv(key)
        mp.setenv("BALDUR_DATA_DIR", _data_dir)
        # No admin server on 9090 for tests that do not test it (the
        # contract's rule); those that do pass admin_port to init().
        mp.setenv("BALDUR_ADMIN_PORT", "0")
        baldur._config.reset()
        yield


@pytest.fixture(autouse=True)
def _defaults_after_each_test(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A fresh process's state and a data directory of the test's own
    before it; after it, Baldur's settings, the testing mode, that state
    again and the ``baldur`` logger's level."""
    global _data_dir
    logger = logging.getLogger("baldur")
    level = logger.level
    _data_dir = str(tmp_path_factory.mktemp("data"))
    os.environ["BALDUR_DATA_DIR"] = _data_dir
    baldur.init()  # keeps what a module's own setup configured (an app's startup)
    baldur.testing.reset()
    yield
    _restore_defaults()
    baldur.testing.set_testing(False)
    baldur.testing.reset()
    logger.setLevel(level)


#: The zone name tests use: the same in every test, since each starts fresh.
ZONE = "zone"


@pytest.fixture
def new_name() -> Callable[[], str]:
    """Makes zone names distinct within one test (``zone-1``, ``zone-2``,
    ...): the same in every test."""
    numbers = itertools.count(1)

    def make() -> str:
        return f"{ZONE}-{next(numbers)}"

    return make


@pytest.fixture
def zone_name() -> str:
    """The test's zone name."""
    return ZONE


@pytest.fixture
def configure() -> Iterator[Callable[..., None]]:
    """``baldur.init(**overrides)``, undone (back to the defaults) after the test."""
    yield baldur.init
    _restore_defaults()


@pytest.fixture
def fast_breaker(configure: Callable[..., None]) -> FastBreaker:
    """Breakers that trip after two failed calls out of two, probe after 0.5 s
    (long enough that a loaded machine does not reach half-open before the
    test looks), and close after two successful probes."""
    settings = FastBreaker()
    configure(
        cb_failure_threshold=settings.failure_threshold,
        cb_minimum_calls=settings.minimum_calls,
        cb_recovery_timeout=settings.recovery_timeout,
        cb_half_open_max_calls=settings.half_open_max_calls,
    )
    return settings


@pytest.fixture
def testing_mode() -> Iterator[None]:
    """``baldur.testing``'s mode for one test: backoff waits are skipped, and
    the clock every breaker and zone reads moves only by
    ``baldur.testing.advance()``."""
    with baldur.testing.set_testing(True):
        yield


@pytest.fixture
def stall() -> Iterator[Stall]:
    """A hanging dependency, released when the test ends."""
    dependency = Stall()
    yield dependency
    dependency.release()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A private redis-server on a free port, stopped after the test."""
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _dlq_redis() -> Iterator[RedisServer]:
    """One redis-server for the dead-letter tests that run on Redis."""
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "redis"])
def dlq_store(request: pytest.FixtureRequest) -> dict[str, str]:
    """Each dead-letter test runs on both stores: the ``init()`` keywords
    that pick one (none for SQLite; ``redis_url`` for Redis, emptied first)."""
    if request.param == "sqlite":
        return {}
    server: RedisServer = request.getfixturevalue("_dlq_redis")
    if not server.ping():  # a test may have killed it
        server.start()
    assert server.command("FLUSHALL").startswith(b"+OK")
    return {"redis_url": server.url}
