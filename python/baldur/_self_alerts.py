"""What Baldur notifies on by itself, as the contract lists it: a breaker
opened (MEDIUM), a dead letter reaching needs_review (HIGH), a shared
store DEGRADED for over 30 s (HIGH), the kill switch flipped (HIGH), a
background loop stalled (CRITICAL).

Each listens on ``_bus`` (wired in ``baldur/__init__.py``) and raises its
notification on the notifier's thread, never the one that announced. Keys
are stable (``baldur:<what>:<subject>``), so a storm (a breaker opening in
every worker of the fleet) collapses to one notification per cooldown;
each names its subject and carries the reason.
"""

from __future__ import annotations

import os
import threading

import baldur._core as _core
import baldur._notify as _notify

#: Seconds a store stays DEGRADED before it is worth a notification.
DEGRADED_ALERT_SECONDS = 30.0

_lock = threading.Lock()
#: Stores DEGRADED now, each with the spell's own timer.
_degraded: dict[str, threading.Timer] = {}


def _alert(priority: str, what: str, subject: str, title: str, reason: str, **fields: str) -> None:
    """One notification of Baldur's own: keyed ``baldur:<what>:<subject>``,
    its reason as the message and among its fields."""
    _notify.notify_later(
        title,
        reason,
        priority=priority,
        key=f"baldur:{what}:{subject}",
        fields={**fields, "reason": reason},
    )


def breaker_opened(zone: str, to_state: str, cause: str, failures: int, calls: int) -> None:
    forced = to_state == _core.CIRCUIT_FORCED_OPEN
    title = f"Circuit breaker {zone!r} {'forced open' if forced else 'opened'}"
    reason = "by an operator" if forced else f"{failures} failures in {calls} calls"
    _alert("MEDIUM", "breaker_opened", zone, title, reason, zone=zone, cause=cause)


def needs_review(entry_id: str, detail: str) -> None:
    title = f"Dead letter {entry_id} needs review"
    _alert("HIGH", "dlq_needs_review", entry_id, title, detail, entry=entry_id)


def store_degraded(store: str, detail: str) -> None:
    timer = threading.Timer(DEGRADED_ALERT_SECONDS, _still_degraded, args=(store, detail))
    timer.daemon = True
    with _lock:
        previous = _degraded.pop(store, None)
        _degraded[store] = timer
    if previous is not None:
        previous.cancel()
    timer.start()


def store_recovered(store: str, detail: str) -> None:
    with _lock:
        timer = _degraded.pop(store, None)
    if timer is not None:
        timer.cancel()


def _still_degraded(store: str, detail: str) -> None:
    with _lock:
        if store not in _degraded:
            return
    title = f"Store {store} DEGRADED for over {DEGRADED_ALERT_SECONDS:g} s"
    _alert("HIGH", "store_degraded", store, title, detail, store=store)


def kill_switch_flipped(disabled: bool, actor: object, reason: object) -> None:
    state = "disabled" if disabled else "enabled"
    title = f"Baldur {state} by the kill switch"
    _alert("HIGH", "kill_switch", state, title, str(reason or ""), actor=str(actor))


def loop_stalled(loop: str, detail: str) -> None:
    title = f"Background loop {loop!r} stalled"
    _alert("CRITICAL", "loop_stalled", loop, title, detail, loop=loop)


def _after_fork_in_child() -> None:
    # The parent's timers are gone with its threads.
    global _lock
    _lock = threading.Lock()
    _degraded.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
