"""A call that gives up with both a fallback and ``dlq=True``: every form
(decorated, function form, sync, async) records the dead letter before the
fallback answers, so a queue that refuses the record (full, ``reject``)
fails the call before a fallback acts, the same way in all of them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

import baldur
from helpers import Boom


@pytest.fixture
def full_queue(
    configure: Callable[..., None], tmp_path: Path, dlq_store: dict[str, str], zone_name: str
) -> str:
    """A queue of one entry, already holding one, that rejects the next."""
    configure(data_dir=str(tmp_path), dlq_max_size=1, dlq_overflow_strategy="reject", **dlq_store)

    def first() -> None:
        raise Boom("first")

    baldur.protect_with_meta(zone_name, first, dlq=True)
    return zone_name


def failing() -> None:
    raise Boom("down")


async def afailing() -> None:
    raise Boom("down")


def test_sync_function_form_reports_the_refusal_and_runs_no_fallback(full_queue: str) -> None:
    answered: list[str] = []
    result = baldur.protect_with_meta(
        full_queue, failing, dlq=True, fallback=lambda: answered.append("fallback")
    )
    assert isinstance(result.error, baldur.DeadLetterQueueFullError)
    assert isinstance(result.error.__cause__, Boom)
    assert (result.fallback_used, result.dlq_id, answered) == (False, None, [])


def test_async_function_form_reports_the_refusal_and_runs_no_fallback(full_queue: str) -> None:
    answered: list[str] = []
    result = asyncio.run(
        baldur.aprotect_with_meta(
            full_queue, afailing, dlq=True, fallback=lambda: answered.append("fallback")
        )
    )
    assert isinstance(result.error, baldur.DeadLetterQueueFullError)
    assert isinstance(result.error.__cause__, Boom)
    assert (result.fallback_used, result.dlq_id, answered) == (False, None, [])


def test_decorated_sync_and_async_raise_the_refusal_and_run_no_fallback(full_queue: str) -> None:
    answered: list[str] = []

    def fallback() -> str:
        answered.append("fallback")
        return "queued"

    @baldur.protected(full_queue, fallback=fallback, dlq=True)
    def charge() -> None:
        raise Boom("down")

    @baldur.protected(full_queue, fallback=fallback, dlq=True)
    async def acharge() -> None:
        raise Boom("down")

    with pytest.raises(baldur.DeadLetterQueueFullError) as sync_refusal:
        charge()
    with pytest.raises(baldur.DeadLetterQueueFullError) as async_refusal:
        asyncio.run(acharge())
    assert isinstance(sync_refusal.value.__cause__, Boom)
    assert isinstance(async_refusal.value.__cause__, Boom)
    assert answered == []


def test_with_room_in_the_queue_the_fallback_answers_and_the_call_is_recorded(
    configure: Callable[..., None], tmp_path: Path, dlq_store: dict[str, str], zone_name: str
) -> None:
    configure(data_dir=str(tmp_path), **dlq_store)
    result = baldur.protect_with_meta(zone_name, failing, dlq=True, fallback=lambda: "queued")
    aresult = asyncio.run(
        baldur.aprotect_with_meta(zone_name, afailing, dlq=True, fallback=lambda: "queued")
    )
    for each in (result, aresult):
        assert (each.value, each.fallback_used, each.ok) == ("queued", True, False)
        assert each.dlq_id is not None
        assert baldur.dlq.get(each.dlq_id)["reason"] == "exhausted"  # type: ignore[index]
