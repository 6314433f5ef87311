"""The admin server's control API, called as the server calls it
(``baldur._control_api.route``): every route's shape, its refusals, and that
an action through it is the Python API's own action (the DLQ's routes:
test_control_api_dlq.py; over HTTP: test_control_api_http.py)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import baldur
import baldur._control_api as control_api
import baldur._control_api_actions as actions
import baldur._kill_switch
from baldur.exceptions import ConfigError
from control_api_calls import API, Answer, get, post, post_raw, served_by_this_process
from helpers import AlwaysFails, failed_job
from redis_server import RedisServer

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


def test_the_bulkheads_are_listed_with_their_occupancy() -> None:
    answer = get("bulkheads/")
    assert answer.status == 200
    rows = {row["name"]: row for row in answer.json["bulkheads"]}
    assert rows["external_api"] == {
        "name": "external_api",
        "active": 0,
        "waiting": 0,
        "capacity": 5,
        "max_waiting": 10,
        "wait_timeout": 5.0,
        "rejected": rows["external_api"]["rejected"],
    }
    assert answer.json["enabled"] is True


# -- subsystems not built yet -----------------------------------------------


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("reports/", "reports"),
        ("audit/", "records"),
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
    [event] = [r for r in caplog.records if getattr(r, "event", "") == "admin.request_failed"]
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


def test_a_kill_switch_redis_refused_says_the_fleet_did_not_follow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    saved = baldur._kill_switch.save

    def refused(record: baldur._kill_switch.Record | None) -> None:
        saved(record)  # this process and its local record, as with a Redis that times out
        raise ConnectionError("redis://:hunter2@cache:6379 timed out")

    # Not the core's remote switch: a poller started on it would outlive the test.
    monkeypatch.setattr(baldur._kill_switch, "save", refused)
    answer = post("kill-switch/disable", {"reason": "incident"})
    assert (answer.status, answer.json["error"], answer.json["enabled"]) == (
        503,
        "unavailable",
        False,
    )
    assert "this process only" in answer.json["detail"]
    assert b"hunter2" not in answer.raw
    assert post("kill-switch/enable").json["enabled"] is True
