"""The control API's dead-letter routes: listing in pages with the
contract's shapes, an entry's detail, replay (one, async, a batch), redrive
and purge, each the Python API's own action."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest

import baldur
import baldur._control_api_actions as actions
from baldur.exceptions import DeadLetterQueueUnavailableError
from control_api_calls import get, post, served_by_this_process
from helpers import failed_job

ENTRY_FIELDS = {
    "id",
    "zone",
    "function",
    "arguments",
    "replayable",
    "error_type",
    "error_message",
    "attempts",
    "reason",
    "state",
    "replays_left",
    "last_replay_error",
    "created_at",
    "updated_at",
}
REPLAY_FIELDS = {"id", "replayed", "ok", "state", "error", "already_done", "served_by"}


def record(zone: str, count: int = 1) -> list[str]:
    """Dead letters of a function no replay may call (a lambda)."""
    ids = []
    for number in range(count):
        result = baldur.protect_with_meta(zone, lambda n=number: 1 / 0, dlq=True)  # type: ignore[misc]
        assert result.dlq_id is not None
        ids.append(result.dlq_id)
    return ids


def test_the_dlq_is_listed_in_pages_with_the_contract_shapes(new_name: Any) -> None:
    first, second = new_name(), new_name()
    record(first, 3)
    record(second)
    page = get("dlq/", f"domain={first}&state=pending&limit=2")
    assert page.status == 200
    assert set(page.json) == {"entries", "next_cursor", "complete", "unavailable", "served_by"}
    assert page.json["complete"] is True
    assert [set(entry) for entry in page.json["entries"]] == [ENTRY_FIELDS, ENTRY_FIELDS]
    assert {entry["zone"] for entry in page.json["entries"]} == {first}
    rest = get("dlq/", f"domain={first}&limit=2&cursor={page.json['next_cursor']}")
    assert len(rest.json["entries"]) == 1 and rest.json["next_cursor"] is None
    assert len(get("dlq/", "domain=&state=").json["entries"]) == 4  # blank is no filter
    assert get("dlq/", "failure_type=builtins.ZeroDivisionError").json["entries"]


def test_a_dlq_entry_is_shown_with_its_arguments(zone_name: str) -> None:
    @baldur.protected(zone_name, dlq=True)
    def charge(order: str, amount: int) -> None:
        raise ConnectionError("gateway down")

    with pytest.raises(ConnectionError):
        charge("o-7", amount=12)
    [entry_id] = [entry["id"] for entry in baldur.dlq.list()]
    entry = get(f"dlq/{entry_id}/").json
    assert set(entry) == ENTRY_FIELDS | {"served_by"}
    assert json.loads(entry["arguments"]) == {"args": ["o-7"], "kwargs": {"amount": 12}}
    missing = get("dlq/999999/")
    assert (missing.status, missing.json["error"], missing.json["id"]) == (
        404,
        "not_found",
        "999999",
    )


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=-3", "limit"),
        ("limit=ten", "limit"),
        ("limit=10000000000", "limit"),
        ("state=done", "state"),
        ("state=PENDING", "state"),
    ],
)
def test_a_bad_dlq_filter_is_400_naming_the_field_and_what_is_allowed(
    query: str, field: str
) -> None:
    answer = get("dlq/", query)
    assert (answer.status, answer.json["error"]) == (400, "bad_request")
    assert answer.json["detail"].startswith(f"invalid {field}=")
    assert "allowed is" in answer.json["detail"]
    served_by_this_process(answer)


def test_a_replay_through_the_api_replays_the_entry(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    marker = tmp_path / "runs.txt"
    entry = failed_job(monkeypatch, str(marker), "o-42")
    answer = post(f"dlq/{entry['id']}/replay")
    assert answer.status == 200
    assert set(answer.json) == REPLAY_FIELDS
    assert (answer.json["replayed"], answer.json["ok"], answer.json["state"]) == (
        True,
        True,
        "done",
    )
    assert answer.json["already_done"] is False
    assert marker.read_text() == "o-42:1\n"  # the function really ran, once
    assert baldur.dlq.get(str(entry["id"])) is None
    again = post(f"dlq/{entry['id']}/replay")
    assert again.status == 404  # settled: nothing left to replay
    assert post("dlq/424242/replay").status == 404


def test_an_entry_that_is_not_replayable_is_not_replayed(zone_name: str) -> None:
    [entry_id] = record(zone_name)
    answer = post(f"dlq/{entry_id}/replay")
    assert answer.status == 200
    assert {k: v for k, v in answer.json.items() if k != "served_by"} == {
        "id": entry_id,
        "replayed": False,
        "ok": False,
        "state": "pending",
        "error": None,
        "already_done": False,
    }


@pytest.mark.usefixtures("testing_mode")
def test_an_entry_out_of_replays_goes_to_review_and_is_redriven(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    entry_id = str(failed_job(monkeypatch, str(tmp_path / "runs.txt"), "o-5")["id"])
    monkeypatch.setenv("BALDUR_TEST_FAIL", "1")  # the warehouse is still down
    early = post(f"dlq/{entry_id}/redrive")
    assert (early.status, early.json["error"], early.json["state"]) == (409, "conflict", "pending")
    for _ in range(3):
        failed = post(f"dlq/{entry_id}/replay")
        assert (failed.json["replayed"], failed.json["ok"]) == (True, False)
        assert "warehouse down" in failed.json["error"]
    assert failed.json["state"] == "needs_review"
    redriven = post(f"dlq/{entry_id}/redrive")
    assert redriven.status == 200
    assert (redriven.json["redriven"], redriven.json["state"]) == (True, "pending")
    assert baldur.dlq.get(entry_id)["state"] == "pending"  # type: ignore[index]
    assert post("dlq/424242/redrive").status == 404


def test_a_batch_replay_replays_a_domain(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    marker = tmp_path / "runs.txt"
    entry = failed_job(monkeypatch, str(marker), "o-9")
    answer = post("dlq/replay", {"domain": "dlq-jobs", "limit": 10})
    assert answer.status == 200
    assert (answer.json["replayed"], answer.json["failed"]) == (1, 0)
    [outcome] = answer.json["outcomes"]
    assert (outcome["id"], outcome["ok"]) == (entry["id"], True)
    assert marker.read_text() == "o-9:1\n"
    assert post("dlq/replay", {"failure_type": "builtins.OSError"}).json["outcomes"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "domain"),
        ({"domain": "x", "limit": 0}, "limit"),
        ({"domain": "x", "limit": "5"}, "limit"),
        ({"domain": "x", "limit": True}, "limit"),
        ({"domain": ""}, "domain"),
        ({"failure_type": 3}, "failure_type"),
    ],
)
def test_a_bad_batch_replay_is_400(body: dict[str, object], field: str) -> None:
    answer = post("dlq/replay", body)
    assert (answer.status, answer.json["error"]) == (400, "bad_request")
    assert answer.json["detail"].startswith(f"invalid {field}=")


def test_a_purge_deletes_what_it_names(new_name: Any) -> None:
    kept, purged = new_name(), new_name()
    record(kept)
    record(purged, 2)
    answer = post("dlq/purge", {"domain": purged})
    assert (answer.status, answer.json["purged"], answer.json["domain"]) == (200, 2, purged)
    assert [entry["zone"] for entry in baldur.dlq.list()] == [kept]
    assert post("dlq/purge", {}).status == 400  # everything is never implied
    assert post("dlq/purge", {"state": "gone"}).status == 400
    assert post("dlq/purge", {"state": "pending"}).json["purged"] == 1


def test_a_queue_that_cannot_be_reached_is_503_without_its_message(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def unreachable() -> None:
        raise DeadLetterQueueUnavailableError("redis://:hunter2@db:6379 refused")

    monkeypatch.setattr(actions.dlq, "stats", unreachable)
    with caplog.at_level(logging.ERROR, logger="baldur"):
        answer = get("dlq/stats/")
    assert (answer.status, answer.json["error"]) == (503, "unavailable")
    assert b"hunter2" not in answer.raw and "hunter2" not in caplog.text
    assert "DeadLetterQueueUnavailableError" in caplog.text


def test_an_async_function_is_replayed_on_a_loop_of_its_own(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    marker = tmp_path / "runs.txt"
    failed_job(monkeypatch, str(marker), "o-1")  # imports the jobs app afresh
    import dlq_jobs

    monkeypatch.setenv("BALDUR_TEST_FAIL", "1")
    with pytest.raises(ConnectionError):
        asyncio.run(dlq_jobs.notify("ada"))
    monkeypatch.setenv("BALDUR_TEST_FAIL", "0")
    [entry] = baldur.dlq.list(domain="dlq-jobs-async")
    answer = post(f"dlq/{entry['id']}/replay")
    assert (answer.json["replayed"], answer.json["ok"]) == (True, True)
    assert "notified ada\n" in marker.read_text()
