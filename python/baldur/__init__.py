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

from baldur import _core, _events, _runtime, dlq
from baldur._calls import aprotect, aprotect_with_meta, protect, protect_with_meta
from baldur._config import init
from baldur._core import ProtectResult
from baldur._facade import aprotected, idempotent, protected
from baldur.circuits import (
    circuit_state,
    circuits,
    force_close_circuit,
    force_open_circuit,
    reset_circuit,
)
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
    ProtectTimeoutError,
    WrongColourError,
)
from baldur.retry import RetryPolicy

__all__ = [
    "BaldurError",
    "BulkheadFullError",
    "CircuitOpenError",
    "ConfigError",
    "DeadLetterQueueFullError",
    "DeadLetterQueueUnavailableError",
    "IdempotencyDuplicateError",
    "IdempotencyKeyError",
    "IdempotencyPayloadMismatchError",
    "IdempotencyUnavailableError",
    "ProtectResult",
    "ProtectTimeoutError",
    "RetryPolicy",
    "WrongColourError",
    "aprotect",
    "aprotect_with_meta",
    "aprotected",
    "circuit_state",
    "circuits",
    "dlq",
    "force_close_circuit",
    "force_open_circuit",
    "idempotent",
    "init",
    "protect",
    "protect_with_meta",
    "protected",
    "reset_circuit",
]

__version__ = "0.1.0"

# Breaker transitions are decided in Rust and logged here.
_core.set_transition_listener(_events.breaker_transition)
_runtime.install_hooks()
