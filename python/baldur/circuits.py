"""Manual control of circuit breakers, for operators and tests.

The three actions create the breaker of a name no call has used yet (an
operator takes a dependency out before traffic arrives; a separate process
forces the fleet's breaker in Redis mode). Reading creates nothing:
``circuit_state`` of a name neither this process nor the fleet knows reads
``"closed"``, as its first call would start.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from typing import Any, Literal, TypedDict

import baldur._audit as _audit
import baldur._core as _core
import baldur._events as _events
import baldur._validate as _validate
import baldur.kill_switch as kill_switch
from baldur.exceptions import KillSwitchEngagedError

CircuitStateName = Literal["closed", "open", "half_open", "forced_open", "forced_closed"]


class CircuitSnapshot(TypedDict):
    """One breaker as ``baldur.circuits()`` reports it."""

    state: CircuitStateName
    calls: int
    failures: int
    opened_at: float | None
    retry_after: float | None
    transitions: int


def force_open_circuit(
    name: str, *, override: bool = False, reason: str | None = None, actor: str | None = None
) -> None:
    """Takes a dependency out of rotation: every call fails fast until an
    operator closes or resets the breaker. Refused while Baldur is disabled
    (:class:`~baldur.exceptions.KillSwitchEngagedError`) unless ``override``.
    ``reason`` and ``actor`` (default ``user@host``) go into the transition's
    ``circuit_breaker.state_changed`` event.

    >>> baldur.force_open_circuit("payments", reason="provider incident", actor="alice")
    """
    _refuse_while_disabled("force_open_circuit", override)
    name = _validate.name(name)
    with _acting("force_open", name, reason, actor):
        _core.force_open(name)


def force_close_circuit(
    name: str, *, override: bool = False, reason: str | None = None, actor: str | None = None
) -> None:
    """Pins a breaker closed: calls flow and it never trips, until reset.
    Refused while Baldur is disabled unless ``override``; ``reason`` and
    ``actor`` as for :func:`force_open_circuit`."""
    _refuse_while_disabled("force_close_circuit", override)
    name = _validate.name(name)
    with _acting("force_close", name, reason, actor):
        _core.force_close(name)


def reset_circuit(
    name: str, *, override: bool = False, reason: str | None = None, actor: str | None = None
) -> None:
    """Hands a breaker back to automatic control: closed, window cleared.
    Refused while Baldur is disabled unless ``override``; ``reason`` and
    ``actor`` as for :func:`force_open_circuit`."""
    _refuse_while_disabled("reset_circuit", override)
    name = _validate.name(name)
    with _acting("reset", name, reason, actor):
        _core.reset(name)


@contextlib.contextmanager
def _acting(action: str, name: str, reason: str | None, actor: str | None) -> Iterator[None]:
    """Names the operator, their reason and the action in the transition
    event the core reports (synchronously, from within the action), and
    records the action in the audit trail once it is done (the transition
    it caused is the operator's record, not one of its own)."""
    fields = {
        "action": action,
        "reason": _validate.optional_text("reason", reason, "text saying why"),
        "actor": kill_switch._default_actor()
        if actor is None
        else _validate.text("actor", actor, "a non-empty string naming who"),
    }
    token = _events.operator_action.set(fields)
    try:
        yield
    finally:
        _events.operator_action.reset(token)
    _audit.operator(f"cb.{action}", name, actor=str(fields["actor"]), reason=fields["reason"])


def _refuse_while_disabled(action: str, override: bool) -> None:
    # While an operator works an incident with Baldur off, a breaker action
    # must be deliberate.
    if not _validate.flag("override", override) and not kill_switch.is_baldur_enabled():
        raise KillSwitchEngagedError(action, kill_switch.kill_switch_status().reason)


def circuit_state(name: str) -> CircuitStateName:
    """``"closed"``, ``"open"``, ``"half_open"``, ``"forced_open"`` or
    ``"forced_closed"``: this process's breaker's state; for a name it has no
    breaker for, the fleet's (Redis mode: a breaker another worker created,
    read within the store's timeout), else ``"closed"``. Creates nothing,
    here or in Redis.

    >>> baldur.circuit_state("never-used")
    'closed'
    """
    return _core.circuit_state(_validate.name(name))  # type: ignore[return-value]


def circuit(name: str) -> CircuitSnapshot | None:
    """One breaker as :func:`circuits` reports it: this process's, or for a
    name it has no breaker for, the fleet's record (Redis mode: a breaker
    another worker created); ``None`` when neither knows the name. Creates
    nothing. Raises :class:`ConnectionError` when Redis does not answer
    within the store's timeout.
    """
    name = _validate.name(name)
    local = circuits().get(name)
    if local is not None:
        return local
    record = _core.fleet_snapshot(name)
    return None if record is None else _snapshot(record, time.time())


def circuits() -> dict[str, CircuitSnapshot]:
    """Every breaker by name: state, calls and failures in the window,
    ``opened_at`` (Unix time, while open) and ``retry_after`` (seconds until
    probing resumes, while open)."""
    now = time.time()
    return {name: _snapshot(snap, now) for name, snap in _core.snapshots().items()}


def _snapshot(snap: Mapping[str, Any], now: float) -> CircuitSnapshot:
    opened_ago = snap["opened_ago"]
    return CircuitSnapshot(
        state=snap["state"],
        calls=snap["calls"],
        failures=snap["failures"],
        opened_at=None if opened_ago is None else now - opened_ago,
        retry_after=snap["retry_after"],
        transitions=snap["transitions"],
    )
