"""The ``prometheus_client`` collector over :func:`baldur.metrics_snapshot`:
one family per metric, built at scrape time (``prometheus_client`` is
imported only then, so Baldur runs without it)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import baldur._core as _core

#: Every state a breaker can be in, as the core names them.
_STATES = _core.CIRCUIT_STATES


class BaldurCollector:
    """Yields every Baldur metric family from one snapshot, taken by
    ``snapshot`` (:func:`baldur.metrics_snapshot`; handed in, so this module
    needs nothing of the one that registers it)."""

    def __init__(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        self._snapshot = snapshot

    def describe(self) -> list[Any]:
        return []  # the families depend on the zones: no describe-time check

    def collect(self) -> Iterator[Any]:
        snap = self._snapshot()
        yield from _zone_families(snap["zones"])
        yield from _breaker_families(snap)
        yield from _dlq_and_store_families(snap)
        yield from _process_families(snap)
        yield from _http_families(snap)
        yield from _scheduled_families(snap)
        yield from _notification_families(snap)
        yield from _bulkhead_families(snap)


def _zone_families(zones: dict[str, Any]) -> Iterator[Any]:
    from prometheus_client.core import CounterMetricFamily  # noqa: PLC0415 (the optional [prometheus] extra)

    def per_zone(name: str, text: str) -> Any:
        return CounterMetricFamily(name, text, labels=["zone"])

    calls = CounterMetricFamily(
        "baldur_calls", "Protected calls by zone and outcome.", labels=["zone", "outcome"]
    )
    attempts = per_zone("baldur_attempts", "Attempts started (each reached the dependency).")
    fallbacks = per_zone("baldur_fallbacks", "Calls a fallback answered.")
    rejections = per_zone(
        "baldur_rejections", "Calls an open breaker refused (calls_total{outcome=rejected})."
    )
    timeouts = per_zone(
        "baldur_timeouts", "Calls that ran out of time (calls_total{outcome=timeout})."
    )
    duplicates = per_zone("baldur_idempotency_duplicates", "Calls refused as duplicates.")
    refused = per_zone(
        "baldur_retry_budget_exhausted",
        "Retries the zone's retry budget refused (each ended its call as exhausted).",
    )
    transitions = CounterMetricFamily(
        "baldur_circuit_breaker_transitions",
        "Breaker state changes by the state entered.",
        labels=["zone", "to_state"],
    )
    for zone, data in zones.items():
        for outcome, count in data["calls"].items():
            calls.add_metric([zone, outcome], count)
        attempts.add_metric([zone], data["attempts"])
        fallbacks.add_metric([zone], data["fallbacks"])
        rejections.add_metric([zone], data["calls"]["rejected"])
        timeouts.add_metric([zone], data["calls"]["timeout"])
        duplicates.add_metric([zone], data["idempotency_duplicates"])
        refused.add_metric([zone], data["retries_refused"])
        for state, count in data["transitions"].items():
            transitions.add_metric([zone, state], count)
    yield from (calls, attempts, fallbacks, rejections, timeouts, transitions, duplicates, refused)


def _breaker_families(snap: dict[str, Any]) -> Iterator[Any]:
    from prometheus_client.core import GaugeMetricFamily  # noqa: PLC0415 (the optional [prometheus] extra)

    state = GaugeMetricFamily(
        "baldur_circuit_breaker_state",
        "1 for the state each breaker is in (zones with their own label).",
        labels=["zone", "state"],
    )
    for zone, current in sorted(snap["breakers"]["state"].items()):
        if zone in snap["zones"]:  # the domain cap bounds this family too
            state.add_metric([zone, current], 1)
    yield state
    by_state = GaugeMetricFamily("baldur_circuit_breakers", "Breakers by state.", labels=["state"])
    for name in _STATES:
        by_state.add_metric([name], snap["breakers"]["by_state"].get(name, 0))
    yield by_state


def _dlq_and_store_families(snap: dict[str, Any]) -> Iterator[Any]:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily  # noqa: PLC0415 (the optional [prometheus] extra)

    yield GaugeMetricFamily(
        "baldur_dlq_depth", "Dead-letter entries not yet done.", value=snap["dlq"]["depth"] or 0
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
    lost = CounterMetricFamily(
        "baldur_store_data_lost",
        "Times Redis was found without the data a store had written to it.",
        labels=["store"],
    )
    for store, health in sorted(snap["stores"].items()):
        degraded.add_metric([store], int(health["degraded"]))
        entries.add_metric([store], health["degraded_entries"])
        lost.add_metric([store], health["data_lost"])
    yield degraded
    yield entries
    yield lost


def _process_families(snap: dict[str, Any]) -> Iterator[Any]:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily  # noqa: PLC0415 (the optional [prometheus] extra)

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
        "Zone lookups beyond the label cap (counted under __overflow__).",
        value=snap["domains_overflowed"],
    )


def _scheduled_families(snap: dict[str, Any]) -> Iterator[Any]:
    from prometheus_client.core import CounterMetricFamily  # noqa: PLC0415 (the optional [prometheus] extra)

    runs = CounterMetricFamily(
        "baldur_scheduled_runs", "Scheduled task runs that returned.", labels=["task"]
    )
    failures = CounterMetricFamily(
        "baldur_scheduled_failures", "Scheduled task runs that raised.", labels=["task"]
    )
    for task, counts in snap["scheduled"].items():
        runs.add_metric([task], counts["runs"])
        failures.add_metric([task], counts["failures"])
    yield runs
    yield failures


def _notification_families(snap: dict[str, Any]) -> Iterator[Any]:
    from prometheus_client.core import CounterMetricFamily  # noqa: PLC0415 (the optional [prometheus] extra)

    counts = snap["notifications"]
    suppressed = CounterMetricFamily(
        "baldur_notifications_suppressed", "Notifications not sent, by reason.", labels=["reason"]
    )
    delivered = CounterMetricFamily(
        "baldur_notifications_delivered", "Notifications posted, by channel.", labels=["channel"]
    )
    failed = CounterMetricFamily(
        "baldur_notification_deliveries_failed",
        "Failed notification posts by reason (gave_up: the last attempt).",
        labels=["reason"],
    )
    for reason, count in counts["suppressed"].items():
        suppressed.add_metric([reason], count)
    for channel, count in counts["delivered"].items():
        delivered.add_metric([channel], count)
    for reason, count in counts["failed"].items():
        failed.add_metric([reason], count)
    yield suppressed
    yield delivered
    yield failed


def _bulkhead_families(snap: dict[str, Any]) -> Iterator[Any]:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily  # noqa: PLC0415 (the optional [prometheus] extra)

    active = GaugeMetricFamily(
        "baldur_bulkhead_active", "Calls holding a compartment's permit.", labels=["compartment"]
    )
    waiting = GaugeMetricFamily(
        "baldur_bulkhead_waiting",
        "Calls waiting for a compartment's permit.",
        labels=["compartment"],
    )
    rejected = CounterMetricFamily(
        "baldur_bulkhead_rejected",
        "Calls a full compartment turned away (full, or waited too long).",
        labels=["compartment"],
    )
    for name, counts in snap["bulkheads"].items():
        active.add_metric([name], counts["active"])
        waiting.add_metric([name], counts["waiting"])
        rejected.add_metric([name], counts["rejected"])
    yield active
    yield waiting
    yield rejected


def _http_families(snap: dict[str, Any]) -> Iterator[Any]:
    from prometheus_client.core import CounterMetricFamily  # noqa: PLC0415 (the optional [prometheus] extra)

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
