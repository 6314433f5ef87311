"""Baldur: self-healing for Python services.

One decorator composes circuit breaker, retry with backoff, timeout and
fallback around a call, in the one order that keeps them working together::

    import baldur

    @baldur.protected("charge-customer", retry=True, fallback=lambda: {"status": "queued"})
    def charge(order_id: str) -> dict:
        return payment_gateway.charge(order_id)

The state machines, windows and backoff live in a Rust core
(``baldur._core``); this package is the Python face over it.
"""

from __future__ import annotations

from baldur import (
    _admin_server,
    _builtin_checks,
    _bus,
    _config,
    _core,
    _events,
    _kill_switch,
    _notify,
    _replay_worker,
    _runtime,
    _self_alerts,
    dashboard,
    dlq,
    endpoints,
    health,
    leader,
    metrics,
    scheduler,
)
from baldur._builtin_checks import StoreHealth, dlq_depth, store_health
from baldur._bulkhead import CompartmentSnapshot, compartments, register_compartment
from baldur._calls import aprotect, aprotect_with_meta, protect, protect_with_meta
from baldur._config import init
from baldur._core import ProtectResult
from baldur._facade import aprotected, idempotent, protected
from baldur._notify import NotifyResult, notify
from baldur._settings import Settings as _Settings
from baldur._shutdown import (
    DrainReport,
    begin_shutdown,
    calls_in_flight,
    install_shutdown_handler,
    is_shutting_down,
    shutdown,
    uninstall_shutdown_handler,
)
from baldur.circuits import (
    circuit_state,
    circuits,
    force_close_circuit,
    force_open_circuit,
    reset_circuit,
)
from baldur.endpoints import Response
from baldur.exceptions import (
    BaldurError,
    BulkheadFullError,
    CircuitOpenError,
    ConfigError,
    DeadLetterQueueFullError,
    DeadLetterQueueUnavailableError,
    IdempotencyDuplicateError,
    IdempotencyKeyError,
    IdempotencyPayloadMismatchError,
    IdempotencyUnavailableError,
    KillSwitchEngagedError,
    ProtectTimeoutError,
    WrongColourError,
)
from baldur.health import (
    CheckResult,
    HealthReport,
    check_health,
    check_readiness,
    health_check,
    register_check,
    unregister_check,
)
from baldur.kill_switch import (
    KillSwitchStatus,
    disable,
    enable,
    is_baldur_enabled,
    kill_switch_status,
)
from baldur.metrics import metrics_snapshot, record_request, register_collector
from baldur.retry import RetryPolicy
from baldur.scheduler import scheduled

__all__ = [
    "BaldurError",
    "BulkheadFullError",
    "CheckResult",
    "CircuitOpenError",
    "CompartmentSnapshot",
    "ConfigError",
    "DeadLetterQueueFullError",
    "DeadLetterQueueUnavailableError",
    "DrainReport",
    "HealthReport",
    "IdempotencyDuplicateError",
    "IdempotencyKeyError",
    "IdempotencyPayloadMismatchError",
    "IdempotencyUnavailableError",
    "KillSwitchEngagedError",
    "KillSwitchStatus",
    "NotifyResult",
    "ProtectResult",
    "ProtectTimeoutError",
    "Response",
    "RetryPolicy",
    "StoreHealth",
    "WrongColourError",
    "aprotect",
    "aprotect_with_meta",
    "aprotected",
    "begin_shutdown",
    "calls_in_flight",
    "check_health",
    "check_readiness",
    "circuit_state",
    "circuits",
    "compartments",
    "dashboard",
    "disable",
    "dlq",
    "dlq_depth",
    "enable",
    "endpoints",
    "force_close_circuit",
    "force_open_circuit",
    "health",
    "health_check",
    "idempotent",
    "init",
    "install_shutdown_handler",
    "is_baldur_enabled",
    "is_shutting_down",
    "kill_switch_status",
    "leader",
    "metrics",
    "metrics_snapshot",
    "notify",
    "protect",
    "protect_with_meta",
    "protected",
    "record_request",
    "register_check",
    "register_collector",
    "register_compartment",
    "reset_circuit",
    "scheduled",
    "scheduler",
    "shutdown",
    "store_health",
    "uninstall_shutdown_handler",
    "unregister_check",
]

__version__: str = _core.__version__

# The one place the floors are wired together: what a lower floor announces
# (_bus), a higher one acts on, in this order.


def _on_config_applied(settings: _Settings) -> None:
    # Disabled before a restart stays disabled: the local record is read
    # here (a small file); a shared record in Redis is read in the background.
    _kill_switch.restore(settings)
    # Notifications' channels and fatigue guards.
    _notify.apply(settings)
    # The [prometheus] extra: Baldur's numbers on the app's own /metrics.
    metrics.register_collector()


_bus.subscribe(_bus.CONFIG_APPLIED, _on_config_applied)
# init() (not a first call's lazy load) starts the admin server.
_bus.subscribe(_bus.INIT_APPLIED, _admin_server.apply)
# init() starts the lease loop (leader election) when Redis is configured.
_bus.subscribe(_bus.INIT_APPLIED, leader.start)
# init() starts the scheduler, with the standing DLQ replay worker on it.
_bus.subscribe(_bus.INIT_APPLIED, _replay_worker.apply)
_bus.subscribe(_bus.HEALTH_CHANGED, health.invalidate_cache)
_bus.subscribe(_bus.HEALTH_CHANGED, dashboard.invalidate_cache)
# The dependency is back: what its outage set aside is replayed.
_bus.subscribe(_bus.BREAKER_RECOVERED, lambda zone: dlq.sweep_in_background(zone))
# What Baldur notifies on by itself.
_bus.subscribe(_bus.BREAKER_OPENED, _self_alerts.breaker_opened)
_bus.subscribe(_bus.DLQ_NEEDS_REVIEW, _self_alerts.needs_review)
_bus.subscribe(_bus.STORE_DEGRADED, _self_alerts.store_degraded)
_bus.subscribe(_bus.STORE_RECOVERED, _self_alerts.store_recovered)
_bus.subscribe(_bus.KILL_SWITCH_FLIPPED, _self_alerts.kill_switch_flipped)
_bus.subscribe(_bus.LOOP_STALLED, _self_alerts.loop_stalled)
if (_applied := _config.applied()) is not None:  # applied while the package imported
    _on_config_applied(_applied)

# Breaker transitions are decided in Rust and logged here.
_core.set_transition_listener(_events.breaker_transition)
_runtime.install_hooks()
# Registered after the runtime's exit hook, so it runs before it.
scheduler.install_exit_hook()
_builtin_checks.register()
