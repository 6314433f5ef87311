"""Baldur's log events: Python ``logging`` under the ``baldur`` logger, named
``{component}.{entity}_{action}``, each with its fields in ``extra`` for
structured handlers and in the message for people."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextvars import ContextVar

import baldur._activity as _activity
import baldur._audit as _audit
import baldur._bus as _bus
import baldur._core as _core
from baldur._redact import redact_urls

logger = logging.getLogger("baldur")
logger.addHandler(logging.NullHandler())

_protect_log = logging.getLogger("baldur.protect")
_breaker_log = logging.getLogger("baldur.circuit_breaker")

_OPENING_STATES = frozenset({_core.CIRCUIT_OPEN, _core.CIRCUIT_FORCED_OPEN})

#: Who asked for the manual breaker action under way in this context, and
#: why (``baldur.circuits`` sets it around the core's call): the transition
#: the core reports synchronously from that call names them.
operator_action: ContextVar[Mapping[str, object] | None] = ContextVar(
    "baldur_operator_action", default=None
)


#: Suffixes that make an event at least a WARNING (seed 003).
_WARNING_SUFFIXES = ("_failed", "_blocked", "_timeout", "_exhausted")


def implied_level(event: str, level: int) -> int:
    """The level an event is logged at: ``level``, raised to what its name's
    suffix implies. ``_error`` is ERROR; ``_failed``, ``_blocked``,
    ``_timeout`` and ``_exhausted`` are at least WARNING; ``_changed`` and
    ``_updated`` are INFO unless the caller asks for more (a breaker that
    opens is a WARNING).

    >>> implied_level("dlq.replay_failed", logging.INFO) == logging.WARNING
    True
    """
    if event.endswith("_error"):
        return max(level, logging.ERROR)
    if event.endswith(_WARNING_SUFFIXES):
        return max(level, logging.WARNING)
    if event.endswith(("_changed", "_updated")):
        return max(level, logging.INFO)
    return level


def emit(log: logging.Logger, level: int, event: str, **fields: object) -> None:
    """Logs one event, if anyone listens at that level (at least the level
    its name implies, see :func:`implied_level`)."""
    level = implied_level(event, level)
    if not log.isEnabledFor(level):
        return
    # No URL password reaches a log line, whoever composed the field.
    fields = {k: redact_urls(v) if isinstance(v, str) else v for k, v in fields.items()}
    text = redact_urls(" ".join(f"{key}={value!r}" for key, value in fields.items()))
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
    _activity.note(
        "circuit_breaker.state_changed", zone=zone, from_state=from_state, to_state=to_state
    )
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
        **(operator_action.get() or {}),
    )
    _audit.breaker_transition(zone, from_state, to_state, cause)
    # A cached health report or dashboard would still show the old state
    # (an operator forcing a breaker open would read "good").
    _bus.publish(_bus.HEALTH_CHANGED)
    if to_state in _OPENING_STATES and from_state not in _OPENING_STATES:
        _bus.publish(
            _bus.BREAKER_OPENED,
            zone=zone,
            to_state=to_state,
            cause=cause,
            failures=failures,
            calls=calls,
        )
    if to_state == _core.CIRCUIT_CLOSED and from_state == _core.CIRCUIT_HALF_OPEN:
        # The dependency is back: what its outage set aside is replayed
        # (the DLQ subscribes; see baldur/__init__.py).
        _bus.publish(_bus.BREAKER_RECOVERED, zone=zone)


_idempotency_log = logging.getLogger("baldur.idempotency")


def idempotency_event(event: str, key: str, detail: str) -> None:
    """Called by the Rust core when a claim cannot be settled as planned (a
    store that did not answer, a claim taken over): WARNING, never silent."""
    emit(_idempotency_log, logging.WARNING, event, key=key, detail=detail)


_retry_log = logging.getLogger("baldur.retry")


def retry_event(event: str, zone: str, detail: str) -> None:
    """Called by the Rust core when a zone's retry budget refuses a retry
    (``retry.budget_spent``): DEBUG, the metric counts them."""
    emit(_retry_log, logging.DEBUG, event, zone=zone, detail=detail)


_storage_log = logging.getLogger("baldur.storage")


def storage_event(event: str, store: str, detail: str) -> None:
    """Called by the Rust core when a shared store enters DEGRADED (WARNING),
    leaves it (INFO), a write could not be kept at all (ERROR: it lives only
    in memory now), or Redis came back without its data (ERROR,
    ``storage.data_lost``)."""
    if event.endswith(("_failed", "_quarantined", "_lost")):
        level = logging.ERROR
    elif event.endswith("_entered"):
        level = logging.WARNING
    else:
        level = logging.INFO
    emit(_storage_log, level, event, store=store, detail=detail)
    if event == "storage.degraded_entered":
        _bus.publish(_bus.STORE_DEGRADED, store=store, detail=detail)
    elif event == "storage.degraded_exited":
        _bus.publish(_bus.STORE_RECOVERED, store=store, detail=detail)


_admin_log = logging.getLogger("baldur.admin")


def admin_event(event: str, detail: str) -> None:
    """The admin server started, skipped (another process serves: INFO),
    or could not serve (ERROR: the app runs on without it)."""
    level = logging.ERROR if event.endswith("_failed") else logging.INFO
    emit(_admin_log, level, event, detail=detail)


_leader_log = logging.getLogger("baldur.leader")


def leader_event(event: str, detail: str) -> None:
    """This process became the fleet's leader or released the lease (INFO),
    lost it (WARNING: its leader-only work stops), or could not renew it
    (WARNING: it may still hold the lease for a moment)."""
    level = logging.INFO if event in ("leader.acquired", "leader.released") else logging.WARNING
    emit(_leader_log, level, event, detail=detail)


_watchdog_log = logging.getLogger("baldur.watchdog")


def watchdog_event(event: str, watched: str, detail: str) -> None:
    """A background loop stalled (ERROR: work it carries is not being
    done) or beat again (INFO)."""
    level = logging.ERROR if event.endswith("_stalled") else logging.INFO
    emit(_watchdog_log, level, event, loop=watched, detail=detail)
    if event == "watchdog.loop_stalled":
        _bus.publish(_bus.LOOP_STALLED, loop=watched, detail=detail)
    # The baldur.watchdog check's cached answer is stale now.
    _bus.publish(_bus.HEALTH_CHANGED)


_scheduler_log = logging.getLogger("baldur.scheduler")


def scheduler_event(event: str, task: str, error_type: str, detail: str) -> None:
    """A scheduled task ran (DEBUG: ``detail`` says how long it took) or
    raised (``scheduler.run_failed``, WARNING: it is retried on its next
    tick; ``detail`` is the exception's message, already redacted)."""
    if error_type:
        emit(_scheduler_log, logging.WARNING, event, task=task, error_type=error_type, error=detail)
    else:
        emit(_scheduler_log, logging.DEBUG, event, task=task, detail=detail)


_control_log = logging.getLogger("baldur.kill_switch")
_shutdown_log = logging.getLogger("baldur.shutdown")
_health_log = logging.getLogger("baldur.health")


def kill_switch_event(event: str, level: int, **fields: object) -> None:
    """The kill switch flipped, or its record could not be read or written."""
    _activity.note(event, **fields)
    emit(_control_log, level, event, **fields)
    if event == "kill_switch.baldur_disabled" or (
        event == "kill_switch.baldur_enabled" and fields.get("was_disabled")
    ):
        _bus.publish(
            _bus.KILL_SWITCH_FLIPPED,
            disabled=event == "kill_switch.baldur_disabled",
            actor=fields.get("actor"),
            reason=fields.get("reason"),
        )


def shutdown_event(event: str, level: int, **fields: object) -> None:
    """A drain started, finished, or ran out of time."""
    emit(_shutdown_log, level, event, **fields)


def health_event(event: str, level: int, **fields: object) -> None:
    """A health check could not run."""
    emit(_health_log, level, event, **fields)
