"""Metrics: what the counters say after real protected calls (sync and
async), the JSON view, and the Prometheus page as Prometheus's own parsers
read it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import baldur
from baldur import endpoints
from helpers import AlwaysFails, Boom, FastBreaker, Flaky, Slow, trip

APPS = Path(__file__).parent / "apps"


@pytest.fixture(autouse=True)
def own_series(configure: Callable[..., None]) -> None:
    """Every zone of these tests gets its own label: the session has built
    far more zones than the default cap of 50."""
    configure(metrics_max_domain_labels=1_000_000)


def zone_metrics(name: str) -> dict[str, Any]:
    zones: dict[str, Any] = baldur.metrics_snapshot()["zones"]
    return zones[name]  # type: ignore[no-any-return]


def calls(name: str) -> dict[str, int]:
    return zone_metrics(name)["calls"]  # type: ignore[no-any-return]


def test_a_success_counts_one_call_and_one_attempt(zone_name: str) -> None:
    baldur.protect(zone_name, lambda: 1)
    assert calls(zone_name)["success"] == 1
    assert zone_metrics(zone_name)["attempts"] == 1
    assert sum(calls(zone_name).values()) == 1


def test_retries_count_attempts_and_a_fallback_is_counted(zone_name: str) -> None:
    baldur.protect(
        zone_name,
        AlwaysFails(),
        retry=baldur.RetryPolicy(attempts=3, base_delay=0.001),
        fallback=lambda: 0,
    )
    snapshot = zone_metrics(zone_name)
    assert snapshot["calls"]["failure"] == 1
    assert snapshot["attempts"] == 3
    assert snapshot["fallbacks"] == 1


def test_not_a_failure_is_its_own_outcome(zone_name: str) -> None:
    with pytest.raises(KeyError):
        baldur.protect(zone_name, Flaky(KeyError("k")), ignore=(KeyError,))
    assert calls(zone_name)["not_a_failure"] == 1
    assert calls(zone_name)["failure"] == 0


def test_a_timeout_is_counted_as_a_timeout(zone_name: str) -> None:
    with pytest.raises(baldur.ProtectTimeoutError):
        baldur.protect(zone_name, Slow(0.3), timeout=0.05)
    assert calls(zone_name)["timeout"] == 1


def test_an_open_breaker_counts_rejections_and_transitions(
    zone_name: str, fast_breaker: FastBreaker
) -> None:
    trip(zone_name, fast_breaker)
    with pytest.raises(baldur.CircuitOpenError):
        baldur.protect(zone_name, lambda: 1)
    snapshot = zone_metrics(zone_name)
    assert snapshot["calls"]["rejected"] == 1
    assert snapshot["calls"]["failure"] == fast_breaker.minimum_calls
    assert snapshot["transitions"]["open"] == 1
    assert snapshot["transitions"]["closed"] == 0


def test_async_calls_are_counted_like_sync_ones(zone_name: str) -> None:
    @baldur.protected(
        zone_name, retry=baldur.RetryPolicy(attempts=2, base_delay=0.001), fallback=lambda: "saved"
    )
    async def flaky(fail: bool) -> str:
        if fail:
            raise Boom("down")
        return "ok"

    async def run() -> None:
        assert await flaky(False) == "ok"
        assert await flaky(True) == "saved"

    asyncio.run(run())
    snapshot = zone_metrics(zone_name)
    assert snapshot["calls"]["success"] == 1
    assert snapshot["calls"]["failure"] == 1
    assert snapshot["attempts"] == 3
    assert snapshot["fallbacks"] == 1


def test_idempotency_duplicates_are_counted(zone_name: str) -> None:
    @baldur.protected(zone_name, idempotency_key="order_id")
    def charge(order_id: str) -> str:
        return order_id

    charge("o-1")
    with pytest.raises(baldur.IdempotencyDuplicateError):
        charge("o-1")
    assert zone_metrics(zone_name)["idempotency_duplicates"] == 1


@pytest.fixture
def jobs(
    configure: Callable[..., None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    monkeypatch.syspath_prepend(str(APPS))
    configure(data_dir=str(tmp_path), metrics_max_domain_labels=1_000_000)
    sys.modules.pop("dlq_jobs", None)
    with contextlib.suppress(KeyError):
        baldur.reset_circuit("dlq-jobs")
    import dlq_jobs

    yield dlq_jobs
    sys.modules.pop("dlq_jobs", None)


def test_dlq_depth_and_replays_are_reported(jobs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    before = baldur.metrics_snapshot()["dlq"]["replays"]
    monkeypatch.setenv("BALDUR_TEST_FAIL", "1")
    for order in ("o-1", "o-2"):
        with pytest.raises(ConnectionError):
            jobs.ship(order)
    assert baldur.metrics_snapshot()["dlq"]["depth"] == 2
    first, second = (entry["id"] for entry in baldur.dlq.list(domain="dlq-jobs"))
    baldur.dlq.replay(first)  # fails again: the dependency is still down
    monkeypatch.setenv("BALDUR_TEST_FAIL", "0")
    baldur.dlq.replay(second)
    after = baldur.metrics_snapshot()["dlq"]
    assert after["replays"]["succeeded"] - before["succeeded"] == 1
    assert after["replays"]["failed"] - before["failed"] == 1
    assert after["depth"] == 1


def test_the_json_endpoint_serves_the_snapshot(zone_name: str) -> None:
    baldur.protect(zone_name, lambda: 1)
    response = endpoints.dispatch("metrics/json/")
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    import json

    document = json.loads(response.body)
    assert document["zones"][zone_name]["calls"]["success"] == 1
    assert document["enabled"] is True


def scrape() -> str:
    response = endpoints.dispatch("metrics/")
    assert response.status == 200
    assert response.content_type.startswith("text/plain; version=")
    return response.body.decode()


def test_the_prometheus_page_parses_and_carries_every_family(zone_name: str) -> None:
    baldur.protect(zone_name, lambda: 1)
    baldur.protect(zone_name, AlwaysFails(), fallback=lambda: 0)
    baldur.force_open_circuit(zone_name)
    baldur.record_request("GET", "/orders/42", 200, 0.25)
    families = {family.name: family for family in text_string_to_metric_families(scrape())}
    expected = {
        "baldur_calls",
        "baldur_attempts",
        "baldur_fallbacks",
        "baldur_rejections",
        "baldur_timeouts",
        "baldur_circuit_breaker_transitions",
        "baldur_idempotency_duplicates",
        "baldur_circuit_breaker_state",
        "baldur_circuit_breakers",
        "baldur_dlq_depth",
        "baldur_dlq_replays",
        "baldur_store_degraded",
        "baldur_store_degraded_entries",
        "baldur_enabled",
        "baldur_shutting_down",
        "baldur_in_flight_calls",
        "baldur_domains_overflowed",
        "baldur_http_requests",
        "baldur_http_request_duration_seconds",
        "baldur_http_endpoints_evicted",
    }
    assert expected <= set(families)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in families.values()
        for s in family.samples
    }
    assert samples[("baldur_calls_total", (("outcome", "success"), ("zone", zone_name)))] == 1
    assert samples[("baldur_fallbacks_total", (("zone", zone_name),))] == 1
    state_key = ("baldur_circuit_breaker_state", (("state", "forced_open"), ("zone", zone_name)))
    assert samples[state_key] == 1
    transition_key = (
        "baldur_circuit_breaker_transitions_total",
        (("to_state", "forced_open"), ("zone", zone_name)),
    )
    assert samples[transition_key] == 1
    key = (
        "baldur_http_requests_total",
        (("method", "GET"), ("route", "/orders/{id}"), ("status_class", "2xx")),
    )
    assert samples[key] >= 1
    assert samples[("baldur_enabled", ())] == 1


def promtool() -> str:
    """promtool on the PATH, beside this Python, or in the checkout's .venv
    (where scripts/bootstrap.sh puts it)."""
    candidates = [
        shutil.which("promtool"),
        shutil.which("promtool", path=os.path.dirname(sys.executable)),
        shutil.which("promtool", path=str(Path(__file__).parents[1] / ".venv" / "bin")),
    ]
    found = next((c for c in candidates if c is not None), None)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is missing: scripts/bootstrap.sh fetches it")
        pytest.skip("promtool is missing (scripts/bootstrap.sh fetches it)")
    return found


def test_promtool_accepts_the_page(zone_name: str) -> None:
    baldur.protect(zone_name, lambda: 1)
    baldur.record_request("POST", None, 404, 0.01)
    checked = subprocess.run(
        [promtool(), "check", "metrics"], input=scrape(), capture_output=True, text=True, timeout=60
    )
    # promtool exits 0 for a valid page; lint remarks (naming advice) would
    # exit non-zero, so a clean page is what is asserted.
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_collector_is_on_the_apps_own_registry(zone_name: str) -> None:
    baldur.protect(zone_name, lambda: 1)
    page = generate_latest(REGISTRY).decode()
    assert f'baldur_calls_total{{outcome="success",zone="{zone_name}"}} 1.0' in page


def test_registering_twice_adds_one_collector() -> None:
    assert baldur.register_collector()
    assert baldur.register_collector()  # a duplicate would raise in prometheus_client


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_without_prometheus_client_the_endpoint_answers_503_and_nothing_else_changes() -> None:
    done = run_python(
        """
        import sys
        sys.modules["prometheus_client"] = None  # as if the extra were not installed
        import baldur
        from baldur import endpoints
        assert baldur.protect("no-prom", lambda: 7) == 7
        response = endpoints.dispatch("metrics/")
        print(response.status, response.payload["error"])
        print(baldur.metrics_snapshot()["zones"]["no-prom"]["calls"]["success"])
        print(endpoints.dispatch("health/").status)
        """
    )
    assert done.returncode == 0, done.stderr
    status_line, count, health = done.stdout.strip().splitlines()
    assert status_line.startswith("503 ") and "baldur-framework[prometheus]" in status_line
    assert count == "1"
    assert health == "200"


def test_zone_labels_beyond_the_cap_share_the_overflow_series() -> None:
    done = run_python(
        """
        import baldur
        baldur.init(metrics_max_domain_labels=3)
        for i in range(5):
            baldur.protect(f"zone-{i}", lambda: 1)
        zones = baldur.metrics_snapshot()["zones"]
        print(sorted(zones))
        print(zones["__overflow__"]["calls"]["success"])
        """
    )
    assert done.returncode == 0, done.stderr
    labels, overflow = done.stdout.strip().splitlines()
    assert labels == "['__overflow__', 'zone-0', 'zone-1', 'zone-2']"
    assert overflow == "2"


def test_the_default_cap_is_fifty_labels() -> None:
    done = run_python(
        """
        import baldur
        for i in range(60):
            baldur.protect(f"zone-{i}", lambda: 1)
        print(len(baldur.metrics_snapshot()["zones"]))
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "51"  # 50 zones and the overflow series


def endpoint_rows() -> dict[tuple[str, str], dict[str, Any]]:
    return {(row["method"], row["route"]): row for row in baldur.metrics_snapshot()["endpoints"]}


def test_per_id_paths_share_one_series_and_unmatched_routes_another() -> None:
    baldur.record_request("GET", "/shops/17/orders/3f2b8c1e-9d4a-4f6b-8a2e-1c3d5e7f9a0b", 200, 0.1)
    baldur.record_request("GET", "/shops/18/orders/0c2b8c1e-9d4a-4f6b-8a2e-1c3d5e7f9a0c", 500, 0.1)
    baldur.record_request("GET", None, 404, 0.0)
    baldur.record_request("GET", None, 404, 0.0)
    rows = endpoint_rows()
    shop = rows[("GET", "/shops/{id}/orders/{id}")]
    assert shop["requests"]["2xx"] >= 1 and shop["requests"]["5xx"] >= 1
    assert rows[("GET", "UNMATCHED_ROUTE")]["requests"]["4xx"] >= 2


def test_endpoints_beyond_the_cap_evict_the_least_recently_seen(
    configure: Callable[..., None],
) -> None:
    configure(metrics_max_endpoints=2, metrics_max_domain_labels=1_000_000)
    baldur.record_request("GET", "/cap-a", 200, 0.0)
    baldur.record_request("GET", "/cap-b", 200, 0.0)
    baldur.record_request("GET", "/cap-a", 200, 0.0)
    baldur.record_request("GET", "/cap-c", 200, 0.0)
    routes = {route for _, route in endpoint_rows()}
    assert routes == {"/cap-a", "/cap-c"}
    assert baldur.metrics_snapshot()["endpoints_evicted"] >= 1


def test_gauges_never_read_below_zero() -> None:
    snapshot = baldur.metrics_snapshot()
    assert snapshot["in_flight"] >= 0
    assert snapshot["dlq"]["depth"] is None or snapshot["dlq"]["depth"] >= 0
    page = scrape()
    for family in text_string_to_metric_families(page):
        if family.type == "gauge":
            assert all(sample.value >= 0 for sample in family.samples), family.name


def test_the_cap_settings_are_validated(configure: Callable[..., None]) -> None:
    with pytest.raises(baldur.ConfigError, match="metrics_max_endpoints"):
        configure(metrics_max_endpoints=0)
    with pytest.raises(baldur.ConfigError, match="BALDUR_METRICS_MAX_DOMAIN_LABELS"):
        baldur._settings.load({}, {"BALDUR_METRICS_MAX_DOMAIN_LABELS": "lots"})


def test_counts_add_up_under_threads(zone_name: str) -> None:
    import threading

    def call(i: int) -> int:
        if i % 3 == 0:
            raise Boom("down")
        return i

    before = baldur.calls_in_flight()

    def worker() -> None:
        for i in range(600):
            baldur.protect(
                zone_name, lambda i=i: call(i), fallback=lambda: -1, circuit_breaker=False
            )  # type: ignore[misc]

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    snapshot = zone_metrics(zone_name)
    assert snapshot["calls"]["success"] == 6 * 400
    assert snapshot["calls"]["failure"] == 6 * 200
    assert snapshot["fallbacks"] == 6 * 200
    assert baldur.calls_in_flight() == before
