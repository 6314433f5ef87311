"""Baldur's own health checks, registered at import: its shared stores
(DEGRADED or not), open breakers, the dead-letter queue's depth, and the
kill switch."""

from __future__ import annotations

import os
from typing import TypedDict

import baldur._config as _config
import baldur._core as _core
import baldur._kill_switch as _kill_switch_record
import baldur._settings as _settings
import baldur.kill_switch as kill_switch
from baldur.health import CheckResult, register_check

#: A dead-letter queue this full (of its cap) degrades health: it is close
#: to dropping or refusing entries.
DLQ_DEGRADED_RATIO = 0.9

#: The states in which a breaker refuses calls (an operator's or its own).
_OPEN = (_core.CIRCUIT_OPEN, _core.CIRCUIT_FORCED_OPEN)


class StoreHealth(TypedDict):
    """One shared store as :func:`store_health` reports it."""

    degraded: bool
    degraded_entries: int
    #: Times Redis was found without the data this store had written to it.
    data_lost: int


def store_health() -> dict[str, StoreHealth]:
    """Each configured shared store (``"redis:idempotency"``,
    ``"redis:circuit_breaker"``, ``"redis:dlq"`` once the queue is used):
    whether it is DEGRADED now, how many times it entered DEGRADED in this
    process, and how many times it found Redis without its data. Empty in
    memory mode."""
    entries = dict(_core.store_health())
    dlq = _core.dlq_store_health()
    if dlq is not None:
        entries["redis:dlq"] = dlq
    return {
        name: StoreHealth(
            degraded=bool(entry["degraded"]),
            degraded_entries=int(entry["degraded_entries"]),
            data_lost=int(entry["data_lost"]),
        )
        for name, entry in entries.items()
    }


def dlq_depth() -> int | None:
    """Entries waiting in the dead-letter queue (every state but done);
    ``None`` when no queue was created yet (nothing ever recorded)."""
    settings = _config.current()
    if not os.path.exists(_settings.dlq_path(settings)):
        return None
    stats = _core.dlq_stats()
    by_state: dict[str, int] = stats["by_state"]
    return max(0, sum(count for state, count in by_state.items() if state != _core.DLQ_DONE))


def _stores() -> CheckResult:
    stores = store_health()
    degraded = sorted(name for name, entry in stores.items() if entry["degraded"])
    data = {"stores": dict(stores), "wal_pending": _core.wal_pending()}
    if degraded:
        return CheckResult(
            "degraded",
            "DEGRADED: serving from local memory + write-ahead log: " + ", ".join(degraded),
            data,
        )
    return CheckResult("healthy", None if stores else "memory mode", data)


def _breakers() -> CheckResult:
    snapshots = _core.snapshots()
    open_ = sorted(n for n, s in snapshots.items() if s["state"] in _OPEN)
    half_open = sorted(n for n, s in snapshots.items() if s["state"] == _core.CIRCUIT_HALF_OPEN)
    data = {"total": len(snapshots), "open": open_, "half_open": half_open}
    if open_:
        return CheckResult("degraded", f"{len(open_)} breaker(s) open", data)
    return CheckResult("healthy", None, data)


def _watchdog() -> CheckResult:
    loops = _core.watchdog_status()
    stalled = sorted(loop["name"] for loop in loops if loop["stalled"])
    data = {"loops": loops, "stalled": stalled}
    if stalled:
        return CheckResult("degraded", "stalled: " + ", ".join(stalled), data)
    return CheckResult("healthy", None, data)


def _dlq() -> CheckResult:
    depth = dlq_depth()
    if depth is None:
        return CheckResult("healthy", "no queue yet", {"depth": 0})
    cap = _config.current().dlq_max_size
    data = {"depth": depth, "max_size": cap}
    if depth >= DLQ_DEGRADED_RATIO * cap:
        return CheckResult("degraded", f"{depth} of {cap} entries: near the cap", data)
    return CheckResult("healthy", None, data)


def _kill_switch() -> CheckResult:
    status = kill_switch.kill_switch_status()
    problem = _kill_switch_record.record_problem()
    if problem is not None:
        return CheckResult("unhealthy", problem + "; protection stays on")
    if status.enabled:
        return CheckResult("healthy")
    return CheckResult(
        "degraded",
        f"Baldur is disabled: {status.reason}",
        {"actor": status.actor, "disabled_at": status.disabled_at},
    )


def register() -> None:
    """Adds Baldur's checks. Breakers and shared stores only degrade the
    report: Baldur degrades, it does not take the app down. The DLQ's store
    is a readiness check (a queue that cannot be opened loses what it should
    keep); an unreadable kill switch record makes ``health/`` unhealthy, not
    readiness."""
    register_check("baldur.stores", _stores, critical=False)
    register_check("baldur.circuit_breakers", _breakers, critical=False)
    # A stalled loop degrades; the app still serves (its calls do not wait
    # on background loops).
    register_check("baldur.watchdog", _watchdog, critical=False)
    register_check("baldur.dlq", _dlq, critical=True, readiness=True)
    # Critical: a record that cannot be read means an operator's switch
    # cannot be trusted (the disabled state itself reports "degraded").
    register_check("baldur.kill_switch", _kill_switch, critical=True)
