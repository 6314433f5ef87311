"""The admin server's control API, called as the server calls it
(``baldur._control_api.route``): every route's shape, its refusals, and that
an action through it is the Python API's own action."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

import baldur
import baldur._admin_server
import baldur._control_api as control_api
import baldur._control_api_actions as actions
from baldur.exceptions import ConfigError, DeadLetterQueueUnavailableError
from helpers import AlwaysFails, failed_job
from redis_server import RedisServer

API = "/api/baldur/"


class Answer:
    """One response, decoded."""

    def __init__(self, method: str, path: str, query: str, body: bytes, role: str | None) -> None:
        response = control_api.route(
            method, path, query, body, role=role, actor=None if role is None else f"{role}:tester"
        )
        self.status = response.status
        self.headers = dict(response.headers)
        self.raw = response.body
        self.json: Any = json.loads(self.raw) if response.payload is not None else None


def get(path: str, query: str = "", *, role: str | None = "admin") -> Answer:
    return Answer("GET", API + path, query, b"", role)


def post(path: str, body: object = None, *, role: str | None = "admin") -> Answer:
    document = {"confirm": "CONFIRM", **(body or {})}  # type: ignore[dict-item]
    return Answer("POST", API + path, "", json.dumps(document).encode(), role)


def post_raw(path: str, raw: bytes) -> Answer:
    return Answer("POST", API + path, "", raw, "admin")


#: Every GET route, with what it needs to answer 200 or a stable 404.
GET_ROUTES = (
    "health/",
    "health/live/",
    "health/ready/",
    "health/pool/",
    "health/ping/",
    "metrics/json/",
    "dashboard/summary/",
    "cb/",
    "cb/zone/",
    "dlq/",
    "dlq/stats/",
    "dlq/1/",
    "kill-switch/",
    "reports/",
    "reports/2026-01-31/",
    "audit/",
    "audit/verify/",
    "bulkheads/",
    "rate-limits/",
    "leader/",
    "emergency/",
    "governance/",
    "canary/",
)


def transitions(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", "") == "circuit_breaker.state_changed"]


def served_by_this_process(answer: Answer) -> None:
    assert answer.json["served_by"] == {"pid": os.getpid(), "store": "memory"}


# -- routing ----------------------------------------------------------------


@pytest.mark.parametrize("path", GET_ROUTES)
def test_every_get_route_answers_json_naming_the_process_that_served(path: str) -> None:
    answer = get(path)
    assert answer.status in (200, 404), answer.json
    assert answer.headers["Content-Type"] == "application/json"
    served_by_this_process(answer)


def test_with_redis_a_force_reaches_the_fleet_and_says_so(
    redis_server: RedisServer, configure: Any, zone_name: str
) -> None:
    configure(redis_url=redis_server.url)
    answer = post(f"cb/{zone_name}/force-open", {"reason": "provider down"})
    assert answer.json["served_by"] == {"pid": os.getpid(), "store": "redis"}
    # Another worker of the fleet, which never heard of the breaker, refuses.
    worker = textwrap.dedent(
        f"""
        import time, baldur
        call = baldur.protected({zone_name!r})(lambda: "called")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                call()
            except baldur.CircuitOpenError:
                print("rejected")
                break
            time.sleep(0.05)
        """
    )
    env = {**os.environ, "BALDUR_REDIS_URL": redis_server.url, "BALDUR_ADMIN_PORT": "0"}
    done = subprocess.run(
        [sys.executable, "-c", worker], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "rejected", done.stderr


def test_an_unknown_route_is_404_and_a_wrong_method_405_with_allow() -> None:
    for path in ("nothing/", "cb/a/b/c/d/", "", "cbx/"):
        answer = get(path)
        assert (answer.status, answer.json["error"]) == (404, "not_found"), path
    assert (
        control_api.route("GET", "/elsewhere/", "", b"", role="admin", actor="admin").status == 404
    )
    wrong = Answer("DELETE", API + "cb/", "", b"", "admin")
    assert (wrong.status, wrong.json["error"]) == (405, "method_not_allowed")
    assert wrong.headers["Allow"] == "GET, HEAD"
    posted = post("kill-switch/")
    assert (posted.status, posted.headers["Allow"]) == (405, "GET, HEAD")
    fetched = get("kill-switch/disable/")
    assert (fetched.status, fetched.headers["Allow"]) == (405, "POST")
    served_by_this_process(wrong)


def test_the_trailing_slash_is_optional_and_head_is_get() -> None:
    assert get("kill-switch").status == 200
    assert post("cb/zone/force-open/").status == 200
    assert post("cb/zone/reset").status == 200
    head = Answer("HEAD", API + "cb/", "", b"", "admin")
    assert head.status == 200
    assert "zone" in [breaker["name"] for breaker in head.json["breakers"]]


def test_a_name_is_url_decoded() -> None:
    assert post("cb/payments%2Fv2%20eu/force-open").status == 200
    assert baldur.circuit_state("payments/v2 eu") == "forced_open"
    assert get("cb/payments%2Fv2%20eu/").json["name"] == "payments/v2 eu"


def test_a_request_the_gate_should_have_refused_is_refused_again() -> None:
    # The server's gate answers these first; the API does not rely on it.
    assert get("cb/", role=None).status == 401
    assert get("dlq/", role=None).status == 401
    assert post("cb/zone/force-open", role="viewer").status == 403
    assert "zone" not in baldur.circuits()
    assert get("cb/", role="viewer").status == 200
    assert get("health/ready/", role=None).status == 200


# -- health and the read routes ---------------------------------------------


def test_a_failing_check_shows_its_message_to_a_key_holder_only() -> None:
    def database() -> None:
        raise ConnectionError("token=sekrit-123 at db.internal")

    baldur.register_check("database", database, critical=False, readiness=True)
    try:
        for path in ("health/", "health/ready/"):
            public = get(path, "nocache=1", role=None)
            assert public.json["checks"]["database"]["error_type"] == "ConnectionError"
            assert b"sekrit" not in public.raw
            served_by_this_process(public)
            detailed = get(path, role="viewer")
            assert "sekrit-123" in detailed.json["checks"]["database"]["message"]
    finally:
        baldur.unregister_check("database")


def test_the_prometheus_text_is_passed_through() -> None:
    answer = get("metrics/")
    assert answer.status in (200, 503)
    if answer.status == 200:
        assert answer.raw.startswith(b"# HELP")
        assert answer.headers["Content-Type"].startswith("text/plain")


def test_the_dashboard_summary_keeps_its_fields() -> None:
    summary = get("dashboard/summary/").json
    assert {"verdict", "overview", "noisiest_domains", "failure_types", "cached"} <= set(summary)


# -- breakers ---------------------------------------------------------------


def test_breakers_are_listed_with_state_and_counts(zone_name: str) -> None:
    baldur.protect_with_meta(zone_name, AlwaysFails())
    [breaker] = [b for b in get("cb/").json["breakers"] if b["name"] == zone_name]
    assert breaker["name"] == zone_name
    assert (breaker["state"], breaker["calls"], breaker["failures"]) == ("closed", 1, 1)
    assert {"opened_at", "retry_after", "transitions"} <= set(breaker)
    assert get(f"cb/{zone_name}/").json == {**breaker, "served_by": breaker_served()}


def breaker_served() -> dict[str, object]:
    return {"pid": os.getpid(), "store": "memory"}


def test_a_breaker_nobody_knows_is_404_and_is_not_made() -> None:
    before = set(baldur.circuits())
    answer = get("cb/never-used/")
    assert (answer.status, answer.json["error"], answer.json["name"]) == (
        404,
        "not_found",
        "never-used",
    )
    assert set(baldur.circuits()) == before


def test_force_open_close_and_reset_act_on_the_breaker(
    zone_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="baldur.circuit_breaker"):
        opened = post(f"cb/{zone_name}/force-open", {"reason": "provider incident 12"})
    assert opened.status == 200
    assert (opened.json["state"], opened.json["action"]) == ("forced_open", "force_open")
    assert opened.json["actor"] == "admin:tester"
    assert baldur.circuit_state(zone_name) == "forced_open"
    with pytest.raises(baldur.CircuitOpenError):
        baldur.protect(zone_name, lambda: "called")
    [event] = [
        r for r in caplog.records if getattr(r, "event", "") == "circuit_breaker.state_changed"
    ]
    assert (event.actor, event.reason, event.action) == (  # type: ignore[attr-defined]
        "admin:tester",
        "provider incident 12",
        "force_open",
    )
    assert post(f"cb/{zone_name}/force-close").json["state"] == "forced_closed"
    assert baldur.circuit_state(zone_name) == "forced_closed"
    assert post(f"cb/{zone_name}/reset").json["state"] == "closed"
    assert baldur.circuit_state(zone_name) == "closed"


def test_a_breaker_action_while_disabled_is_409_unless_overridden(zone_name: str) -> None:
    baldur.disable(reason="incident", actor="alice")
    refused = post(f"cb/{zone_name}/force-open")
    assert (refused.status, refused.json["error"]) == (409, "kill_switch_engaged")
    assert zone_name not in baldur.circuits()
    assert post(f"cb/{zone_name}/force-open", {"override": True}).status == 200
    assert baldur.circuit_state(zone_name) == "forced_open"
    assert post(f"cb/{zone_name}/reset", {"override": "yes"}).status == 400


def test_a_bad_reason_is_400_naming_it(zone_name: str) -> None:
    answer = post(f"cb/{zone_name}/force-open", {"reason": 12})
    assert (answer.status, answer.json["error"]) == (400, "bad_request")
    assert "reason=12" in answer.json["detail"]
    assert zone_name not in baldur.circuits()


def test_the_python_actions_take_a_reason_and_an_actor(
    zone_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="baldur.circuit_breaker"):
        baldur.force_open_circuit(zone_name, reason="maintenance", actor="bob")
        baldur.reset_circuit(zone_name)
    opened, reset = [
        r for r in caplog.records if getattr(r, "event", "") == "circuit_breaker.state_changed"
    ]
    assert (opened.actor, opened.reason) == ("bob", "maintenance")  # type: ignore[attr-defined]
    assert "@" in reset.actor and reset.reason is None  # type: ignore[attr-defined]
    assert "reason='maintenance'" in opened.getMessage()
    with pytest.raises(ConfigError, match="reason"):
        baldur.force_close_circuit(zone_name, reason=5)  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO, logger="baldur.circuit_breaker"):
        caplog.clear()
        baldur.protect_with_meta(zone_name, AlwaysFails())
        baldur.force_close_circuit(zone_name)
    # Only the operator's own transition names an operator.
    [closed] = [
        r for r in caplog.records if getattr(r, "event", "") == "circuit_breaker.state_changed"
    ]
    assert closed.action == "force_close"  # type: ignore[attr-defined]


# -- dead-letter queue ------------------------------------------------------

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


# -- kill switch ------------------------------------------------------------


def test_the_kill_switch_is_read_disabled_with_a_reason_and_enabled() -> None:
    status = get("kill-switch/").json
    assert (status["enabled"], status["reason"], status["actor"]) == (True, None, None)
    disabled = post("kill-switch/disable", {"reason": "incident 4711"})
    assert disabled.status == 200
    assert (disabled.json["enabled"], disabled.json["reason"]) == (False, "incident 4711")
    assert disabled.json["actor"] == "admin:tester"
    assert not baldur.is_baldur_enabled()
    assert baldur.kill_switch_status().actor == "admin:tester"
    enabled = post("kill-switch/enable")
    assert (enabled.status, enabled.json["enabled"]) == (200, True)
    assert baldur.is_baldur_enabled()


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": ["x"]}])
def test_disabling_without_a_reason_is_400_naming_it(body: dict[str, object]) -> None:
    answer = post("kill-switch/disable", body)
    assert (answer.status, answer.json["error"]) == (400, "bad_request")
    assert answer.json["detail"].startswith("invalid reason=")
    assert baldur.is_baldur_enabled()


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b'"text"', b"\xff\xfe"])
def test_a_body_that_is_not_a_json_object_is_400_and_not_repeated(raw: bytes) -> None:
    answer = post_raw("kill-switch/disable", raw)
    assert (answer.status, answer.json["error"]) == (400, "bad_request")
    assert answer.json["detail"].startswith("invalid body=")
    assert raw not in answer.raw
    assert baldur.is_baldur_enabled()


# -- subsystems not built yet -----------------------------------------------


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("reports/", "reports"),
        ("audit/", "records"),
        ("bulkheads/", "bulkheads"),
        ("rate-limits/", "rate_limits"),
    ],
)
def test_a_list_of_a_subsystem_not_built_is_empty(path: str, key: str) -> None:
    answer = get(path)
    assert answer.status == 200
    assert (answer.json[key], answer.json["enabled"]) == ([], False)


@pytest.mark.parametrize(
    ("method", "path", "subsystem"),
    [
        ("GET", "reports/2026-02-01/", "reports"),
        ("GET", "reports/today/", "reports"),
        ("GET", "audit/verify/", "audit"),
        ("GET", "leader/", "leader"),
        ("GET", "emergency/", "emergency"),
        ("POST", "emergency/declare", "emergency"),
        ("POST", "emergency/release", "emergency"),
        ("GET", "governance/", "governance"),
        ("POST", "governance/break-glass", "governance"),
        ("GET", "canary/", "canary"),
        ("POST", "canary/panic-rollback", "canary"),
    ],
)
def test_a_route_of_a_subsystem_not_built_is_not_enabled(
    method: str, path: str, subsystem: str
) -> None:
    answer = get(path) if method == "GET" else post(path)
    assert answer.status == 404
    assert (answer.json["error"], answer.json["subsystem"]) == ("not_enabled", subsystem)
    served_by_this_process(answer)


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("reports/", "days=0", "days"),
        ("reports/", "days=x", "days"),
        ("reports/31-01-2026/", "", "date"),
        ("audit/", "limit=-1", "limit"),
        ("audit/", "after=x", "after"),
    ],
)
def test_the_not_built_routes_refuse_bad_input_already(path: str, query: str, field: str) -> None:
    answer = get(path, query)
    assert (answer.status, answer.json["error"]) == (400, "bad_request")
    assert answer.json["detail"].startswith(f"invalid {field}=")


# -- failures and the read-only rule ----------------------------------------


def test_an_exception_in_a_handler_is_500_with_its_type_only(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("postgresql://app:s3cret@db/prod exploded")

    monkeypatch.setattr(actions.kill_switch, "kill_switch_status", broken)
    with caplog.at_level(logging.ERROR, logger="baldur"):
        answer = get("kill-switch/")
    assert answer.status == 500
    assert {k: v for k, v in answer.json.items() if k != "served_by"} == {
        "error": "internal",
        "detail": "RuntimeError",
    }
    assert b"s3cret" not in answer.raw and "s3cret" not in caplog.text
    [event] = [r for r in caplog.records if getattr(r, "event", "") == "admin.request_error"]
    assert event.error_type == "RuntimeError"  # type: ignore[attr-defined]


def state_of_everything() -> tuple[object, ...]:
    breakers = {
        name: (snap["state"], snap["calls"], snap["failures"], snap["transitions"])
        for name, snap in baldur.circuits().items()
    }
    entries = [(e["id"], e["state"], e["replays_left"]) for e in baldur.dlq.list()]
    return breakers, baldur.dlq.stats(), entries, baldur.kill_switch_status()


@pytest.mark.parametrize("disabled", [False, True])
def test_no_get_route_changes_state(
    zone_name: str, new_name: Any, disabled: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    baldur.protect_with_meta(zone_name, AlwaysFails(), dlq=True)
    baldur.force_open_circuit(new_name())
    entry = failed_job(monkeypatch, str(tmp_path / "runs.txt"), "o-1")
    if disabled:
        baldur.disable(reason="incident", actor="alice")
    before = state_of_everything()
    paths = [
        *GET_ROUTES,
        "metrics/",
        f"cb/{zone_name}/",
        f"dlq/{entry['id']}/",
        # GETs of the action routes: 405, and nothing done.
        f"dlq/{entry['id']}/replay/",
        f"cb/{zone_name}/force-open/",
        "dlq/replay/",
        "dlq/purge/",
        "kill-switch/disable/",
        "kill-switch/enable/",
        "cb/brand-new/",
    ]
    for path in paths:
        for query in ("", "nocache=1"):
            get(path, query)
            get(path, query, role="viewer")
    assert state_of_everything() == before
    assert not (tmp_path / "runs.txt").exists()


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


def test_a_kill_switch_redis_refused_says_the_fleet_did_not_follow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refused(record: str | None) -> None:
        raise ConnectionError("redis://:hunter2@cache:6379 timed out")

    monkeypatch.setattr(baldur._core, "kill_switch_remote_configured", lambda: True)
    monkeypatch.setattr(baldur._core, "kill_switch_remote_save", refused)
    answer = post("kill-switch/disable", {"reason": "incident"})
    assert (answer.status, answer.json["error"], answer.json["enabled"]) == (
        503,
        "unavailable",
        False,
    )
    assert "this process only" in answer.json["detail"]
    assert b"hunter2" not in answer.raw
    assert post("kill-switch/enable").json["enabled"] is True


# -- through the real admin server ------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server(configure: Any) -> str:
    """This process's admin server on a free port, unlocked: its base URL."""
    port = free_port()
    configure(admin_port=port, admin_key="k-admin", admin_viewer_key="k-view", admin_unlock=True)
    address = baldur._admin_server.address()
    assert address is not None
    return f"http://127.0.0.1:{address[1]}"


def fetch(
    url: str, *, key: str | None = "k-admin", body: object = None, actor: str | None = None
) -> tuple[int, dict[str, str], Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    if key is not None:
        request.add_header("X-Baldur-Key", key)
    if actor is not None:
        request.add_header("X-Baldur-Actor", actor)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as refused:
        status, headers, raw = refused.code, dict(refused.headers), refused.read()
    return status, headers, json.loads(raw)


def test_over_http_the_breakers_are_listed_and_forced(server: str, zone_name: str) -> None:
    baldur.protect_with_meta(zone_name, AlwaysFails())
    status, _, listing = fetch(f"{server}{API}cb/")
    assert status == 200
    assert listing["served_by"] == {"pid": os.getpid(), "store": "memory"}
    [breaker] = [b for b in listing["breakers"] if b["name"] == zone_name]
    assert (breaker["state"], breaker["calls"], breaker["failures"]) == ("closed", 1, 1)
    status, _, forced = fetch(
        f"{server}{API}cb/{zone_name}/force-open",
        body={"confirm": "CONFIRM", "reason": "over http"},
        actor="alice",
    )
    assert (status, forced["state"], forced["actor"]) == (200, "forced_open", "admin:alice")
    assert baldur.circuit_state(zone_name) == "forced_open"


def test_over_http_a_dlq_entry_is_replayed(
    server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    marker = tmp_path / "runs.txt"
    entry = failed_job(monkeypatch, str(marker), "o-http")
    status, _, listing = fetch(f"{server}{API}dlq/?domain=dlq-jobs&limit=5")
    assert status == 200 and [e["id"] for e in listing["entries"]] == [entry["id"]]
    status, _, outcome = fetch(
        f"{server}{API}dlq/{entry['id']}/replay", body={"confirm": "CONFIRM"}
    )
    assert (status, outcome["ok"], outcome["state"]) == (200, True, "done")
    assert marker.read_text() == "o-http:1\n"


def test_over_http_the_refusals_are_json_with_served_by(server: str) -> None:
    status, _, public = fetch(f"{server}{API}health/", key=None)
    assert status == 200 and public["served_by"]["pid"] == os.getpid()
    assert fetch(f"{server}{API}cb/", key=None)[0] == 401
    status, _, missing = fetch(f"{server}{API}no-such-route/")
    assert (status, missing["error"]) == (404, "not_found")
    status, headers, wrong = fetch(f"{server}{API}kill-switch/", body={"confirm": "CONFIRM"})
    assert (status, wrong["error"], headers["Allow"]) == (405, "method_not_allowed", "GET, HEAD")
    status, _, bad = fetch(f"{server}{API}dlq/?limit=0")
    assert (status, bad["error"]) == (400, "bad_request")
    status, _, unknown = fetch(f"{server}{API}cb/nobody/", key="k-view")
    assert (status, unknown["error"]) == (404, "not_found")
    assert "nobody" not in baldur.circuits()
