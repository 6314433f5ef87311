"""Baldur's log events: Python ``logging`` under the ``baldur`` logger, named
``{component}.{entity}_{action}``, each with its fields in ``extra`` for
structured handlers and in the message for people."""

from __future__ import annotations

import logging

logger = logging.getLogger("baldur")
logger.addHandler(logging.NullHandler())

_protect_log = logging.getLogger("baldur.protect")
_breaker_log = logging.getLogger("baldur.circuit_breaker")

_OPENING_STATES = frozenset({"open", "forced_open"})


def emit(log: logging.Logger, level: int, event: str, **fields: object) -> None:
    """Logs one event, if anyone listens at that level."""
    if not log.isEnabledFor(level):
        return
    text = " ".join(f"{key}={value!r}" for key, value in fields.items())
    log.log(level, "%s %s", event, text, extra={"event": event, **fields})


def composer_built(zone: str, policies: list[str], timeout_seconds: float | None) -> None:
    """A zone's chain of policies, once per zone name (DEBUG)."""
    emit(
        _protect_log,
        logging.DEBUG,
        "protect.composer_built",
        zone=zone,
        policies=policies,
        timeout_seconds=timeout_seconds,
    )


def breaker_transition(
    zone: str,
    from_state: str,
    to_state: str,
    cause: str,
    generation: int,
    calls: int,
    failures: int,
) -> None:
    """Called by the Rust core after a breaker changes state: WARNING when it
    opens, INFO otherwise."""
    level = logging.WARNING if to_state in _OPENING_STATES else logging.INFO
    emit(
        _breaker_log,
        level,
        "circuit_breaker.state_changed",
        zone=zone,
        from_state=from_state,
        to_state=to_state,
        cause=cause,
        generation=generation,
        calls=calls,
        failures=failures,
    )
    if to_state == "closed" and from_state == "half_open":
        # The dependency is back: what its outage set aside is replayed.
        from baldur import dlq

        dlq.sweep_in_background(zone)


_idempotency_log = logging.getLogger("baldur.idempotency")


def idempotency_event(event: str, key: str, detail: str) -> None:
    """Called by the Rust core when a claim cannot be settled as planned (a
    store that did not answer, a claim taken over): WARNING, never silent."""
    emit(_idempotency_log, logging.WARNING, event, key=key, detail=detail)


_storage_log = logging.getLogger("baldur.storage")


def storage_event(event: str, store: str, detail: str) -> None:
    """Called by the Rust core when a shared store enters DEGRADED (WARNING),
    leaves it (INFO), or a write could not be kept at all (ERROR: it lives
    only in memory now)."""
    if event.endswith("_failed"):
        level = logging.ERROR
    elif event.endswith("_entered"):
        level = logging.WARNING
    else:
        level = logging.INFO
    emit(_storage_log, level, event, store=store, detail=detail)
