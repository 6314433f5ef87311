"""Listing the dead-letter queue a page at a time: a cursor walks a queue of
any size, and no page blocks Redis for long, however large the domain."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import baldur
from baldur import _core
from helpers import AlwaysFails, Boom
from redis_server import RedisServer


@pytest.fixture
def queue(configure: Callable[..., None], tmp_path: Path, dlq_store: dict[str, str]) -> Path:
    configure(data_dir=str(tmp_path), **dlq_store)
    return tmp_path


def record(zone: str, n: int) -> None:
    failing = baldur.protected(zone, circuit_breaker=False, dlq=True)(AlwaysFails())
    for _ in range(n):
        with pytest.raises(Boom):
            failing()


def walk(limit: int, **filters: str) -> tuple[list[str], int]:
    """Every id a walk hands out, and how many pages it took."""
    seen: list[str] = []
    page = baldur.dlq.list(limit=limit, **filters)
    pages = 1
    seen.extend(entry["id"] for entry in page)
    while page.next_cursor is not None:
        assert pages < 100, "the walk ends"
        assert len(page) <= limit
        page = baldur.dlq.list(limit=limit, cursor=page.next_cursor, **filters)
        pages += 1
        seen.extend(entry["id"] for entry in page)
    return seen, pages


def test_a_cursor_walks_every_entry_once_oldest_first(
    queue: Path, new_name: Callable[[], str]
) -> None:
    first, second = new_name(), new_name()
    record(first, 7)
    record(second, 6)
    record(first, 5)
    everything = baldur.dlq.list(limit=1000)
    assert everything.next_cursor is None and len(everything) == 18
    seen, pages = walk(5)
    assert seen == [entry["id"] for entry in everything]
    assert len(set(seen)) == 18 and pages == 4
    times = [float(entry["created_at"]) for entry in everything]
    assert times == sorted(times)
    only_first, _ = walk(4, domain=first)
    assert only_first == [e["id"] for e in everything if e["zone"] == first]
    assert len(only_first) == 12


def test_a_page_of_the_whole_queue_ends_the_walk(queue: Path, zone_name: str) -> None:
    record(zone_name, 3)
    assert baldur.dlq.list(domain=zone_name, limit=2).next_cursor is not None
    assert baldur.dlq.list(domain=zone_name, limit=10).next_cursor is None
    assert baldur.dlq.list(domain="nobody-recorded-here").next_cursor is None


@pytest.mark.parametrize("bad", ["", "not-a-cursor", "7b7d0", json.dumps({"r": 1})])
def test_a_cursor_no_listing_handed_out_is_refused(queue: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="cursor"):
        baldur.dlq.list(cursor=bad)


def test_a_cursor_is_text(queue: Path) -> None:
    with pytest.raises(TypeError, match="cursor"):
        baldur.dlq.list(cursor=42)  # type: ignore[arg-type]


def test_alist_pages_too(queue: Path, zone_name: str) -> None:
    record(zone_name, 3)

    async def both() -> tuple[baldur.dlq.Entries, baldur.dlq.Entries]:
        page = await baldur.dlq.alist(domain=zone_name, limit=2)
        rest = await baldur.dlq.alist(domain=zone_name, limit=2, cursor=page.next_cursor)
        return page, rest

    page, rest = asyncio.run(both())
    assert len(page) == 2 and page.next_cursor is not None
    assert len(rest) == 1 and rest.next_cursor is None


def test_a_large_redis_domain_is_listed_in_bounded_steps(
    redis_server: RedisServer, configure: Callable[..., None], tmp_path: Path
) -> None:
    """40,000 entries: one script over all of them blocked Redis for
    hundreds of milliseconds, timed out, and the caller took a healthy Redis
    for down (0 entries, complete=False)."""
    configure(data_dir=str(tmp_path), redis_url=redis_server.url, dlq_max_per_domain=50_000)

    def record_one(_: int) -> None:
        # The store's own record, without a failing call around it: the
        # fill takes seconds instead of a minute.
        _core.dlq_record(
            "big", "shop:charge", '{"args": [], "kwargs": {}}', True,
            "builtins.OSError", "down", 1, "exhausted", 3,
        )  # fmt: skip

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(record_one, range(40_000)))
    # Any command slower than 50 ms is kept in the slow log.
    assert redis_server.command("CONFIG", "SET", "slowlog-log-slower-than", "50000") == b"+OK\r\n"
    assert redis_server.command("SLOWLOG", "RESET") == b"+OK\r\n"

    page = baldur.dlq.list(domain="big", limit=20_000)
    assert (len(page), page.complete) == (20_000, True)
    rest = baldur.dlq.list(domain="big", limit=20_000, cursor=page.next_cursor)
    assert (len(rest), rest.complete) == (20_000, True)
    assert {e["id"] for e in page}.isdisjoint(e["id"] for e in rest)
    # A filter nothing matches scans the whole domain, step by step.
    none = baldur.dlq.list(domain="big", state="needs_review")
    assert (len(none), none.complete, none.next_cursor) == (0, True, None)

    assert redis_server.command("SLOWLOG", "LEN") == b":0\r\n", "a step blocked Redis"
    stats = baldur.dlq.stats()
    assert not stats.get("degraded") and not stats.get("unavailable"), stats
