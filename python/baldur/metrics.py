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
>>> sorted(baldur.metrics_snapshot())[:4]
['breakers', 'bulkheads', 'dlq', 'domains_overflowed']
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import baldur._builtin_checks as _builtin_checks
import baldur._bulkhead as _bulkhead
import baldur._core as _core
import baldur._notify as _notify
import baldur._shutdown as _shutdown
import baldur._validate as _validate
import baldur.scheduler as _scheduler
from baldur._collector import BaldurCollector

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

_lock = threading.Lock()
_registered: set[int] = set()
_own_registry: CollectorRegistry | None = None

#: The status classes of the HTTP request counter.
_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")

__all__ = [
    "BaldurCollector",
    "PrometheusUnavailableError",
    "metrics_snapshot",
    "normalise_path",
    "prometheus_available",
    "prometheus_text",
    "record_request",
    "register_collector",
]


class PrometheusUnavailableError(RuntimeError):
    """``prometheus_client`` is not installed (the ``[prometheus]`` extra)."""


def record_request(method: str, route: str | None, status: int, seconds: float) -> None:
    """Counts one HTTP request an adapter answered. ``route`` is the matched
    route's pattern or path (per-id segments become ``{id}``), ``None`` when
    no route matched (one ``UNMATCHED_ROUTE`` series)."""
    _core.record_request(method, route, _validate.http_status("status", status), float(seconds))


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
        "bulkheads": {
            name: {
                "active": snap.active,
                "waiting": snap.waiting,
                "capacity": snap.capacity,
                "rejected": snap.rejected,
            }
            for name, snap in _bulkhead.compartments().items()
        },
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
        "scheduled": {
            name: {"runs": task.runs, "failures": task.failures}
            for name, task in _scheduler.status().tasks.items()
        },
        "notifications": _notify.counts(),
    }


def prometheus_available() -> bool:
    """Whether ``prometheus_client`` can be imported."""
    try:
        import prometheus_client  # noqa: F401, PLC0415 (the optional [prometheus] extra)
    except ImportError:
        return False
    return True


def prometheus_text() -> tuple[bytes, str]:
    """The exposition page and its content type. Raises
    :class:`PrometheusUnavailableError` without ``prometheus_client``."""
    global _own_registry
    try:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest  # noqa: PLC0415 (the optional [prometheus] extra)
        from prometheus_client.registry import CollectorRegistry  # noqa: PLC0415 (the optional [prometheus] extra)
    except ImportError as missing:
        raise PrometheusUnavailableError(
            'prometheus_client is not installed: pip install "baldur-framework[prometheus]"'
        ) from missing
    with _lock:
        if _own_registry is None:
            _own_registry = CollectorRegistry(auto_describe=False)
            _own_registry.register(BaldurCollector(metrics_snapshot))
        registry = _own_registry
    return generate_latest(registry), CONTENT_TYPE_LATEST


def register_collector(registry: CollectorRegistry | None = None) -> bool:
    """Registers Baldur's collector with ``registry`` (default:
    ``prometheus_client.REGISTRY``, what an app's ``/metrics`` serves), once.
    False when ``prometheus_client`` is not installed; ``init()`` calls this."""
    try:
        from prometheus_client import REGISTRY  # noqa: PLC0415 (the optional [prometheus] extra)
    except ImportError:
        return False
    target = REGISTRY if registry is None else registry
    with _lock:
        if id(target) in _registered:
            return True
        target.register(BaldurCollector(metrics_snapshot))
        _registered.add(id(target))
    return True
