"""Baldur's metrics: counters kept by the Rust core (relaxed atomics on the
call path), read here as a JSON view, or as Prometheus text through the
official ``prometheus_client`` (the ``[prometheus]`` extra).

Rendering goes through ``prometheus_client`` rather than a renderer of our
own: the same collector serves Baldur's ``metrics/`` endpoint and the
``/metrics`` the app already exposes, so both say the same thing in the
exposition format the client library keeps byte-exact. Without the
library, :func:`prometheus_text` raises and the endpoint answers 503;
counting goes on and the JSON view still works.

>>> import baldur
>>> sorted(baldur.metrics_snapshot())[:3]
['breakers', 'dlq', 'enabled']
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from baldur import _builtin_checks, _core, _shutdown

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

_lock = threading.Lock()
_registered: set[int] = set()
_own_registry: CollectorRegistry | None = None

#: The status classes of the HTTP request counter.
_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")


class PrometheusUnavailableError(RuntimeError):
    """``prometheus_client`` is not installed (the ``[prometheus]`` extra)."""


def record_request(method: str, route: str | None, status: int, seconds: float) -> None:
    """Counts one HTTP request an adapter answered. ``route`` is the matched
    route's pattern or path (per-id segments become ``{id}``), ``None`` when
    no route matched (one ``UNMATCHED_ROUTE`` series)."""
    _core.record_request(method, route, int(status), float(seconds))


def normalise_path(path: str) -> str:
    """``path`` with every per-id segment replaced by ``{id}``.

    >>> normalise_path("/orders/42/items")
    '/orders/{id}/items'
    """
    return _core.normalise_path(path)


def metrics_snapshot() -> dict[str, Any]:
    """Every metric as plain data (the JSON view). Gauges never go below 0."""
    raw = _core.metrics_snapshot()
    breakers = _core.snapshots()
    states: dict[str, int] = {}
    for snap in breakers.values():
        states[snap["state"]] = states.get(snap["state"], 0) + 1
    depth: int | None
    try:
        depth = _builtin_checks.dlq_depth()
    except OSError:
        depth = None  # reported as unknown rather than failing the scrape
    return {
        "enabled": _core.kill_switch_enabled(),
        "shutting_down": _shutdown.is_shutting_down(),
        "in_flight": max(0, raw["in_flight"]),
        "zones": raw["zones"],
        "domains_overflowed": raw["domains_overflowed"],
        "breakers": {
            "by_state": states,
            "state": {name: snap["state"] for name, snap in breakers.items()},
        },
        "dlq": {"depth": None if depth is None else max(0, depth), "replays": raw["dlq_replays"]},
        "stores": _builtin_checks.store_health(),
        "endpoints": [
            {
                "method": row["method"],
                "route": row["route"],
                "requests": dict(zip(_CLASSES, row["by_class"], strict=True)),
                "duration_seconds_sum": max(0.0, row["duration_sum"]),
            }
            for row in raw["endpoints"]
        ],
        "endpoints_evicted": raw["endpoints_evicted"],
    }


class BaldurCollector:
    """A ``prometheus_client`` collector over :func:`metrics_snapshot`."""

    def describe(self) -> list[Any]:
        return []  # the families depend on the zones: no describe-time check

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        snap = metrics_snapshot()
        zones: dict[str, Any] = snap["zones"]

        calls = CounterMetricFamily(
            "baldur_calls", "Protected calls by zone and outcome.", labels=["zone", "outcome"]
        )
        attempts = CounterMetricFamily(
            "baldur_attempts", "Attempts started (each reached the dependency).", labels=["zone"]
        )
        fallbacks = CounterMetricFamily(
            "baldur_fallbacks", "Calls a fallback answered.", labels=["zone"]
        )
        rejections = CounterMetricFamily(
            "baldur_rejections",
            "Calls an open breaker refused (calls_total{outcome=rejected}).",
            labels=["zone"],
        )
        timeouts = CounterMetricFamily(
            "baldur_timeouts",
            "Calls that ran out of time (calls_total{outcome=timeout}).",
            labels=["zone"],
        )
        transitions = CounterMetricFamily(
            "baldur_circuit_breaker_transitions",
            "Breaker state changes by the state entered.",
            labels=["zone", "to_state"],
        )
        duplicates = CounterMetricFamily(
            "baldur_idempotency_duplicates",
            "Calls refused as idempotency duplicates.",
            labels=["zone"],
        )
        for zone, data in zones.items():
            for outcome, count in data["calls"].items():
                calls.add_metric([zone, outcome], count)
            attempts.add_metric([zone], data["attempts"])
            fallbacks.add_metric([zone], data["fallbacks"])
            rejections.add_metric([zone], data["calls"]["rejected"])
            timeouts.add_metric([zone], data["calls"]["timeout"])
            for state, count in data["transitions"].items():
                transitions.add_metric([zone, state], count)
            duplicates.add_metric([zone], data["idempotency_duplicates"])
        yield from (calls, attempts, fallbacks, rejections, timeouts, transitions, duplicates)

        state = GaugeMetricFamily(
            "baldur_circuit_breaker_state",
            "1 for the state each breaker is in (zones with their own label).",
            labels=["zone", "state"],
        )
        for zone, current in sorted(snap["breakers"]["state"].items()):
            if zone in zones:  # the domain cap bounds this family too
                state.add_metric([zone, current], 1)
        yield state
        by_state = GaugeMetricFamily(
            "baldur_circuit_breakers", "Breakers by state.", labels=["state"]
        )
        for name in ("closed", "open", "half_open", "forced_open", "forced_closed"):
            by_state.add_metric([name], snap["breakers"]["by_state"].get(name, 0))
        yield by_state

        depth = snap["dlq"]["depth"]
        yield GaugeMetricFamily(
            "baldur_dlq_depth", "Dead-letter entries not yet done.", value=depth or 0
        )
        replays = CounterMetricFamily(
            "baldur_dlq_replays", "Dead-letter replays by result.", labels=["result"]
        )
        for result in ("succeeded", "failed"):
            replays.add_metric([result], snap["dlq"]["replays"][result])
        yield replays

        degraded = GaugeMetricFamily(
            "baldur_store_degraded", "1 while a shared store is DEGRADED.", labels=["store"]
        )
        entries = CounterMetricFamily(
            "baldur_store_degraded_entries", "Times a store entered DEGRADED.", labels=["store"]
        )
        for store, health in sorted(snap["stores"].items()):
            degraded.add_metric([store], int(health["degraded"]))
            entries.add_metric([store], health["degraded_entries"])
        yield degraded
        yield entries

        yield GaugeMetricFamily(
            "baldur_enabled",
            "1 while self-healing is on (the kill switch).",
            value=int(snap["enabled"]),
        )
        yield GaugeMetricFamily(
            "baldur_shutting_down",
            "1 once a graceful shutdown started.",
            value=int(snap["shutting_down"]),
        )
        yield GaugeMetricFamily(
            "baldur_in_flight_calls", "Protected calls running now.", value=snap["in_flight"]
        )
        yield CounterMetricFamily(
            "baldur_domains_overflowed",
            "Zone names beyond the label cap, counted under __overflow__.",
            value=snap["domains_overflowed"],
        )

        requests = CounterMetricFamily(
            "baldur_http_requests",
            "HTTP requests by endpoint and status class.",
            labels=["method", "route", "status_class"],
        )
        seconds = CounterMetricFamily(
            "baldur_http_request_duration_seconds",
            "Seconds spent answering, by endpoint.",
            labels=["method", "route"],
        )
        for row in snap["endpoints"]:
            for status_class, count in row["requests"].items():
                if count:
                    requests.add_metric([row["method"], row["route"], status_class], count)
            seconds.add_metric([row["method"], row["route"]], row["duration_seconds_sum"])
        yield requests
        yield seconds
        yield CounterMetricFamily(
            "baldur_http_endpoints_evicted",
            "Endpoints evicted to keep the endpoint cap.",
            value=snap["endpoints_evicted"],
        )


def prometheus_available() -> bool:
    """Whether ``prometheus_client`` can be imported."""
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        return False
    return True


def prometheus_text() -> tuple[bytes, str]:
    """The exposition page and its content type. Raises
    :class:`PrometheusUnavailableError` without ``prometheus_client``."""
    global _own_registry
    try:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
        from prometheus_client.registry import CollectorRegistry
    except ImportError as missing:
        raise PrometheusUnavailableError(
            'prometheus_client is not installed: pip install "baldur-framework[prometheus]"'
        ) from missing
    with _lock:
        if _own_registry is None:
            _own_registry = CollectorRegistry(auto_describe=False)
            _own_registry.register(BaldurCollector())
        registry = _own_registry
    return generate_latest(registry), CONTENT_TYPE_LATEST


def register_collector(registry: CollectorRegistry | None = None) -> bool:
    """Registers Baldur's collector with ``registry`` (default:
    ``prometheus_client.REGISTRY``, what an app's ``/metrics`` serves), once.
    False when ``prometheus_client`` is not installed; ``init()`` calls this."""
    try:
        from prometheus_client import REGISTRY
    except ImportError:
        return False
    target = REGISTRY if registry is None else registry
    with _lock:
        if id(target) in _registered:
            return True
        target.register(BaldurCollector())
        _registered.add(id(target))
    return True
