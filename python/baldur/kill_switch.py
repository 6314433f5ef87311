"""The kill switch: one call makes every self-healing action inert.

While Baldur is disabled, every protected call passes straight through to
the function: no circuit breaker, retry, timeout, fallback, idempotency
claim or DLQ record (the metrics count it as ``passed_through``). The state
persists across restarts, and is shared by every worker through Redis when
breaker state is. Manual breaker actions are refused while disabled,
unless given ``override=True``.

>>> import baldur
>>> baldur.disable(reason="incident 4711: retries amplify the outage", actor="alice")
>>> baldur.is_baldur_enabled()
False
>>> baldur.enable()
"""

from __future__ import annotations

import getpass
import logging
import os
import socket
import time
from dataclasses import dataclass

import baldur._audit as _audit
import baldur._bus as _bus
import baldur._config as _config
import baldur._core as _core
import baldur._events as _events
import baldur._kill_switch as _kill_switch
from baldur.exceptions import ConfigError


@dataclass(frozen=True)
class KillSwitchStatus:
    """The switch as an operator reads it."""

    enabled: bool
    #: Why it was disabled (``None`` while enabled).
    reason: str | None
    #: Who disabled it.
    actor: str | None
    #: When, in Unix seconds.
    disabled_at: float | None


def is_baldur_enabled() -> bool:
    """Whether self-healing is on (one atomic read)."""
    _config.current()  # a restart that was disabled reads its record first
    return _core.kill_switch_enabled()


def disable(*, reason: str, actor: str | None = None) -> None:
    """Makes every self-healing action inert until :func:`enable`, here and
    after a restart (and in every worker, with Redis). ``reason`` is
    required; ``actor`` defaults to ``user@host``. A Redis that does not
    take the record raises ``ConnectionError`` after the local change."""
    if not isinstance(reason, str) or not reason.strip():
        raise ConfigError("reason", reason, "a non-empty string saying why")
    if actor is None:
        actor = _default_actor()
    elif not isinstance(actor, str) or not actor.strip():
        raise ConfigError("actor", actor, "a non-empty string naming who")
    _config.current()
    record = _kill_switch.Record(reason=reason.strip(), actor=actor.strip(), at=time.time())
    _kill_switch.save(record)
    _bus.publish(_bus.HEALTH_CHANGED)
    _events.kill_switch_event(
        "kill_switch.baldur_disabled", logging.WARNING, reason=record.reason, actor=record.actor
    )
    _audit.operator("kill_switch.disable", "baldur", actor=record.actor, reason=record.reason)


def enable(*, actor: str | None = None) -> None:
    """Re-arms self-healing and clears the record."""
    _config.current()
    previous = _kill_switch.current()
    _kill_switch.save(None)
    _audit.operator(
        "kill_switch.enable",
        "baldur",
        actor=actor or _default_actor(),
        details={"was_disabled": previous is not None},
    )
    _bus.publish(_bus.HEALTH_CHANGED)
    _events.kill_switch_event(
        "kill_switch.baldur_enabled",
        logging.INFO,
        actor=actor or _default_actor(),
        was_disabled=previous is not None,
    )


def kill_switch_status() -> KillSwitchStatus:
    """Enabled or not, and who disabled it, why and when."""
    _config.current()
    record = _kill_switch.current()
    if record is None:
        return KillSwitchStatus(enabled=True, reason=None, actor=None, disabled_at=None)
    return KillSwitchStatus(
        enabled=False, reason=record.reason, actor=record.actor, disabled_at=record.at
    )


def _default_actor() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()}"
