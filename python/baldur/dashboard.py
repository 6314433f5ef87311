"""The dashboard summary (``GET /api/baldur/dashboard/summary/``): one
read-only roll-up of the self-healing picture, cached for cheap polling.

Every part degrades on its own: a part Baldur cannot read (the DLQ's file,
say) reports zeroed counts and names itself under ``"unavailable"`` rather
than failing the whole summary.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import baldur._activity as _activity
import baldur._builtin_checks as _builtin_checks
import baldur._core as _core
import baldur.health as health
import baldur.metrics as metrics

#: How long one computed summary answers.
CACHE_SECONDS = 5.0
#: A zone averaging more attempts per call than this is amplifying load.
RETRY_ALERT_RATIO = 1.5
#: Rows in each "top" list.
TOP = 5

_lock = threading.Lock()
_cache: tuple[float, dict[str, Any]] | None = None


def summary(*, nocache: bool = False) -> dict[str, Any]:
    """The summary: ``verdict`` (``healthy``, ``good``, ``warning`` or
    ``critical``), ``overview`` counts with a ``resolution_rate``,
    ``recent_activity``, ``noisiest_domains``, ``failure_types``,
    ``retry_alerts`` and ``bulkheads`` (each compartment's occupancy and
    the calls it turned away)."""
    global _cache
    now = time.monotonic()
    with _lock:
        cached = _cache
    if not nocache and cached is not None and now - cached[0] < CACHE_SECONDS:
        return {**cached[1], "cached": True}
    body = _compute(nocache=nocache)
    with _lock:
        _cache = (now, body)
    return {**body, "cached": False}


def _compute(*, nocache: bool) -> dict[str, Any]:
    unavailable: list[str] = []
    try:
        snap = metrics.metrics_snapshot()
    except Exception:
        snap = {"zones": {}, "dlq": {"depth": 0, "replays": {"succeeded": 0, "failed": 0}}}
        unavailable.append("metrics")
    zones: dict[str, Any] = snap["zones"]
    totals: Counter[str] = Counter()
    for data in zones.values():
        totals.update(data["calls"])
        totals["attempts"] += data["attempts"]
        totals["fallbacks"] += data["fallbacks"]
    replays = snap["dlq"]["replays"]
    bulkheads: dict[str, Any] = snap.get("bulkheads", {})
    problems = totals["failure"] + totals["timeout"] + totals["rejected"]
    resolved = totals["fallbacks"] + replays["succeeded"]
    try:
        report = health.check_health(nocache=nocache)  # fresh all through
        verdict_health = report.status
        open_breakers = len(
            report.checks.get("baldur.circuit_breakers", _empty()).data.get("open", [])
        )
    except Exception:
        verdict_health, open_breakers = "degraded", 0
        unavailable.append("health")
    overview = {
        "calls": sum(totals[outcome] for outcome in _core.CALL_OUTCOMES),
        "successes": totals["success"],
        "failures": totals["failure"],
        "timeouts": totals["timeout"],
        "rejections": totals["rejected"],
        "passed_through": totals["passed_through"],
        "fallbacks": totals["fallbacks"],
        "dlq_depth": snap["dlq"]["depth"] or 0,
        "dlq_replays_succeeded": replays["succeeded"],
        "dlq_replays_failed": replays["failed"],
        "open_breakers": open_breakers,
        "bulkhead_rejections": sum(counts["rejected"] for counts in bulkheads.values()),
        "resolution_rate": None if problems == 0 else round(min(1.0, resolved / problems), 4),
    }
    noisiest = sorted(
        (
            {
                "zone": zone,
                "failures": d["calls"]["failure"] + d["calls"]["timeout"] + d["calls"]["rejected"],
            }
            for zone, d in zones.items()
        ),
        key=lambda row: (-row["failures"], row["zone"]),
    )
    retry_alerts = [
        {"zone": zone, "attempts_per_call": round(d["attempts"] / calls, 2)}
        for zone, d in sorted(zones.items())
        if (calls := d["calls"]["success"] + d["calls"]["failure"] + d["calls"]["timeout"])
        and d["attempts"] / calls > RETRY_ALERT_RATIO
    ]
    return {
        "verdict": _verdict(verdict_health, problems),
        "enabled": _core.kill_switch_enabled(),
        "overview": overview,
        "recent_activity": _activity.recent(),
        "noisiest_domains": [row for row in noisiest if row["failures"]][:TOP],
        "failure_types": _failure_types(unavailable),
        "retry_alerts": retry_alerts,
        "bulkheads": bulkheads,
        "unavailable": unavailable,
        "generated_at": time.time(),
    }


def _verdict(health_status: str, problems: int) -> str:
    if health_status == "unhealthy":
        return "critical"
    if health_status == "degraded":
        return "warning"
    return "good" if problems else "healthy"


def _failure_types(unavailable: list[str]) -> list[dict[str, Any]]:
    try:
        if _builtin_checks.dlq_depth() is None:
            return []
        entries, partial, _next = _core.dlq_list(None, None, None, 1000)
        if partial is not None:
            unavailable.append("dlq")  # answered from the local queue only
    except Exception:
        unavailable.append("dlq")
        return []
    counts = Counter(entry["error_type"] for entry in entries)
    return [
        {"error_type": name, "count": count}
        for name, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]
    ]


def _empty() -> health.CheckResult:
    return health.CheckResult("healthy")


def invalidate_cache() -> None:
    """Forgets the cached summary."""
    global _cache
    with _lock:
        _cache = None
