"""Health: the check registry, the verdict, the cache, and the five answers
(plus the dashboard summary) as framework-free handlers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

import baldur
from baldur import endpoints, health
from helpers import FastBreaker, trip


@pytest.fixture
def checks() -> Iterator[list[str]]:
    """Names of checks this test registers; removed afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        if name in health.registered_checks():
            baldur.unregister_check(name)


def test_baldurs_own_checks_are_registered() -> None:
    assert {
        "baldur.stores",
        "baldur.circuit_breakers",
        "baldur.dlq",
        "baldur.kill_switch",
    } <= set(health.registered_checks())


def test_a_healthy_process_answers_200_with_every_check() -> None:
    response = endpoints.dispatch("health/", {"nocache": "true"})
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = json.loads(response.body)
    assert body["status"] in ("healthy", "degraded")
    assert body["checks"]["baldur.stores"]["detail"] == "memory mode"
    assert body["shutting_down"] is False


def test_a_check_registered_by_decorator_is_run(checks: list[str]) -> None:
    checks.append("database")
    runs: list[int] = []

    @baldur.health_check("database", readiness=True)
    def database() -> bool:
        runs.append(1)
        return True

    report = baldur.check_health(nocache=True)
    assert report.checks["database"] == baldur.CheckResult("healthy")
    assert runs == [1]


def test_a_bare_decorator_names_the_check_after_the_function(checks: list[str]) -> None:
    checks.append("cache_warm")

    @baldur.health_check
    def cache_warm() -> None:
        return None

    assert "cache_warm" in health.registered_checks()


@pytest.mark.parametrize(
    ("answer", "critical", "status"),
    [
        (True, True, "healthy"),
        (None, True, "healthy"),
        (False, True, "unhealthy"),
        (False, False, "degraded"),
        ("degraded", True, "degraded"),
        ("unhealthy", False, "degraded"),
        (baldur.CheckResult("unhealthy", "disk full"), True, "unhealthy"),
        (42, True, "unhealthy"),
    ],
)
def test_a_checks_answer_becomes_a_status(
    checks: list[str], answer: object, critical: bool, status: str
) -> None:
    checks.append("probe")
    baldur.register_check("probe", lambda: answer, critical=critical)  # type: ignore[arg-type, return-value]
    assert baldur.check_health(nocache=True).checks["probe"].status == status


def test_a_raising_check_fails_with_its_message_and_is_logged(
    checks: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    checks.append("broken")

    def broken() -> bool:
        raise OSError("disk gone")

    baldur.register_check("broken", broken)
    result = baldur.check_health(nocache=True).checks["broken"]
    assert result.status == "unhealthy"
    assert result.detail == "OSError: disk gone"
    assert any(r.getMessage().startswith("health.check_failed") for r in caplog.records)


def test_unhealthy_answers_503_and_degraded_stays_200(checks: list[str]) -> None:
    checks.extend(["soft", "hard"])
    baldur.register_check("soft", lambda: False, critical=False)
    response = endpoints.health_full(nocache=True)
    assert (response.status, response.payload["status"]) == (200, "degraded")
    baldur.register_check("hard", lambda: False)
    response = endpoints.health_full(nocache=True)
    assert (response.status, response.payload["status"]) == (503, "unhealthy")


def test_the_report_is_cached_until_nocache(checks: list[str]) -> None:
    checks.append("counted")
    runs: list[int] = []
    baldur.register_check("counted", lambda: runs.append(1) is None)
    first = baldur.check_health(nocache=True)
    cached = baldur.check_health()
    assert not first.cached and cached.cached and runs == [1]
    assert endpoints.dispatch("health/").payload["cached"] is True
    assert endpoints.dispatch("health/", {"nocache": "true"}).payload["cached"] is False
    assert runs == [1, 1]


def test_registering_a_check_drops_the_cached_report(checks: list[str]) -> None:
    baldur.check_health(nocache=True)
    checks.append("late")
    baldur.register_check("late", lambda: False)
    assert baldur.check_health().status == "unhealthy"


def test_an_open_breaker_degrades_health(zone_name: str, fast_breaker: FastBreaker) -> None:
    trip(zone_name, fast_breaker)
    result = baldur.check_health(nocache=True).checks["baldur.circuit_breakers"]
    assert result.status == "degraded"
    assert zone_name in result.data["open"]


def test_bad_registrations_are_refused() -> None:
    with pytest.raises(ValueError, match="non-empty name"):
        baldur.register_check("", lambda: True)
    with pytest.raises(TypeError, match="callable"):
        baldur.register_check("x", "not callable")  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        baldur.unregister_check("never-registered")


def test_live_and_ping_run_no_check(checks: list[str]) -> None:
    checks.append("explodes")

    def explodes() -> bool:
        raise AssertionError("live and ping must not run checks")

    baldur.register_check("explodes", explodes)
    for path in ("health/live/", "health/ping/"):
        response = endpoints.dispatch(path)
        assert response.status == 200, path
        assert response.headers["Cache-Control"] == "no-store"


def test_ready_follows_readiness_checks_only(checks: list[str]) -> None:
    checks.extend(["not-for-readiness", "db"])
    baldur.register_check("not-for-readiness", lambda: False)
    assert endpoints.health_ready(nocache=True).status == 200
    baldur.register_check("db", lambda: False, readiness=True)
    response = endpoints.health_ready(nocache=True)
    assert response.status == 503
    assert response.payload["status"] == "not_ready"
    assert response.payload["checks"]["db"]["status"] == "unhealthy"


def test_pool_is_200_in_memory_mode() -> None:
    response = endpoints.dispatch("health/pool/")
    assert response.status == 200
    assert response.payload["stores"] == {}


def test_store_health_is_a_public_view() -> None:
    assert baldur.store_health() == {}


def test_dispatch_forgives_slashes_and_answers_404_otherwise() -> None:
    assert endpoints.dispatch("/health/ping").status == 200
    missing = endpoints.dispatch("health/nope/")
    assert missing.status == 404
    assert "health/ping/" in missing.payload["endpoints"]


def test_every_contract_endpoint_is_routed() -> None:
    assert {
        "health/",
        "health/live/",
        "health/ready/",
        "health/pool/",
        "health/ping/",
        "metrics/",
        "dashboard/summary/",
    } <= set(endpoints.ROUTES)


def test_the_dashboard_summary_rolls_up_calls(
    zone_name: str, configure: Callable[..., None]
) -> None:
    configure(metrics_max_domain_labels=1_000_000)

    def down() -> None:
        raise ConnectionError("down")

    baldur.protect(
        zone_name, down, retry=baldur.RetryPolicy(attempts=3, base_delay=0.001), fallback=lambda: 0
    )
    response = endpoints.dispatch("dashboard/summary/", {"nocache": "1"})
    assert response.status == 200
    body = response.payload
    assert body["verdict"] in ("healthy", "good", "warning", "critical")
    assert body["overview"]["fallbacks"] >= 1
    assert body["overview"]["resolution_rate"] is not None
    assert {"zone": zone_name, "failures": 1} in body["noisiest_domains"] or len(
        body["noisiest_domains"]
    ) == 5
    assert {"zone": zone_name, "attempts_per_call": 3.0} in body["retry_alerts"]
    assert body["unavailable"] == []
    assert endpoints.dispatch("dashboard/summary/").payload["cached"] is True


def test_the_dashboard_shows_each_compartment_and_what_it_turned_away(zone_name: str) -> None:
    compartment = f"{zone_name}-pool"
    baldur.register_compartment(compartment, max_concurrent=1, max_waiting=0)
    inner = baldur.protected(f"{zone_name}-inner", bulkhead=compartment, fallback=lambda: "shed")(
        lambda: "ran"
    )
    # The outer call holds the one permit: the inner call finds it full.
    # (Zones of their own: a decorated function kept alive by a reference
    # cycle keeps its breaker through the next test's reset.)
    outer = baldur.protected(f"{zone_name}-outer", bulkhead=compartment)(inner)
    assert outer() == "shed"
    body = baldur.dashboard.summary(nocache=True)
    assert body["bulkheads"][compartment] == {
        "active": 0,
        "waiting": 0,
        "capacity": 1,
        "rejected": 1,
    }
    assert body["overview"]["bulkhead_rejections"] >= 1
    assert {"cache", "database", "external_api", "message_queue"} <= set(body["bulkheads"])


def test_the_dashboard_lists_failure_types_from_the_dlq(
    zone_name: str, configure: Callable[..., None], tmp_path: object
) -> None:
    configure(data_dir=str(tmp_path))

    def down() -> None:
        raise TimeoutError("slow")

    with pytest.raises(TimeoutError):
        baldur.protect(zone_name, down, dlq=True)
    body = baldur.dashboard.summary(nocache=True)
    assert body["failure_types"] == [{"error_type": "builtins.TimeoutError", "count": 1}]
    assert body["overview"]["dlq_depth"] == 1


def test_the_dashboard_verdict_follows_health(checks: list[str]) -> None:
    checks.append("hard")
    baldur.register_check("hard", lambda: False)
    assert baldur.dashboard.summary(nocache=True)["verdict"] == "critical"


def test_a_checks_data_never_hides_its_status(checks: list[str]) -> None:
    checks.append("sneaky")
    baldur.register_check(
        "sneaky", lambda: baldur.CheckResult("degraded", "slow", {"status": "fine", "ms": 900})
    )
    shown = endpoints.health_full(nocache=True).payload["checks"]["sneaky"]
    assert shown == {"status": "degraded", "detail": "slow", "ms": 900}


def test_a_dead_letter_queue_that_cannot_be_read_makes_the_process_unready(
    configure: Callable[..., None], tmp_path: object
) -> None:
    from pathlib import Path

    data_dir = Path(str(tmp_path))
    (data_dir / "dlq.sqlite3").write_bytes(b"this is not a database" * 100)
    configure(data_dir=str(data_dir))
    ready = endpoints.dispatch("health/ready/", {"nocache": "true"})
    assert ready.status == 503
    assert ready.payload["checks"]["baldur.dlq"]["status"] == "unhealthy"
    assert endpoints.dispatch("health/live/").status == 200
    summary = baldur.dashboard.summary(nocache=True)
    assert summary["verdict"] == "critical"
    assert "dlq" in summary["unavailable"]  # zeroed, not an error


def test_public_health_shows_a_failing_checks_exception_type_never_its_message(
    checks: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    checks.extend(["orders-db", "orders-db-ready"])

    def orders_db() -> bool:
        raise ConnectionError("cannot reach postgres://app:s3cret@db:5432/orders")

    baldur.register_check("orders-db", orders_db)
    baldur.register_check("orders-db-ready", orders_db, readiness=True)
    with caplog.at_level("WARNING", logger="baldur"):
        full = endpoints.dispatch("health/", {"nocache": "true"})
        ready = endpoints.dispatch("health/ready/", {"nocache": "true"})
    assert full.payload["checks"]["orders-db"] == {
        "status": "unhealthy",
        "detail": "ConnectionError",
        "error_type": "ConnectionError",
    }
    assert ready.payload["checks"]["orders-db-ready"]["error_type"] == "ConnectionError"
    for response in (full, ready):
        assert b"s3cret" not in response.body
        assert b"cannot reach" not in response.body
    # The log keeps the message for the operator, its password hidden.
    logged = [r.getMessage() for r in caplog.records if "health.check_failed" in r.getMessage()]
    assert logged and all("postgres://app:***@db:5432/orders" in line for line in logged)
    assert not any("s3cret" in line for line in logged)
    assert not any("s3cret" in repr(vars(r)) for r in caplog.records)


def test_the_python_api_keeps_a_failing_checks_message_with_passwords_hidden(
    checks: list[str],
) -> None:
    checks.append("cache")

    def cache() -> bool:
        raise OSError("redis://:s3cret@cache:6379 refused")

    baldur.register_check("cache", cache)
    result = baldur.check_health(nocache=True).checks["cache"]
    assert result.detail == "OSError: redis://:***@cache:6379 refused"
    assert result.error_type == "OSError"


def test_a_failing_write_ahead_log_shows_its_type_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from baldur import _core

    def broken() -> int:
        raise OSError("/srv/secret-path/wal: permission denied")

    monkeypatch.setattr(_core, "wal_pending", broken)
    response = endpoints.dispatch("health/pool/")
    assert response.status == 503
    assert response.payload["error"] == "write-ahead log: OSError"
    assert b"secret-path" not in response.body


def test_the_dashboard_with_nocache_runs_the_checks_afresh(checks: list[str]) -> None:
    checks.append("flaky")
    up = [True]
    baldur.register_check("flaky", lambda: up[0])
    assert baldur.check_health(nocache=True).status != "unhealthy"  # cached now
    up[0] = False
    body = endpoints.dispatch("dashboard/summary/", {"nocache": "true"}).payload
    assert body["verdict"] == "critical"
    assert body["cached"] is False
