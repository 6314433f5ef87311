"""Recording into the audit trail (``BALDUR_AUDIT_ENABLED``): an
operator's action before the function that took it returns, an action
Baldur took on its own off the caller's path. The record, its chain and
its storage are the Rust core's; this only names what happened.

A record that cannot be written never undoes or fails the action it
describes (that already happened): it is an ERROR log line naming the
action, ``storage.audit_write_failed``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

import baldur._core as _core

#: Who Baldur's own actions are recorded under.
BALDUR = "baldur"

#: Breaker causes that are not this process's own decision: an operator's
#: action (recorded as the operator's, once) and the fleet's state learned
#: from the shared store (recorded by the worker that decided it).
_NOT_AUTOMATED = frozenset({"forced_open", "forced_closed", "reset", "fleet_sync"})

_log = logging.getLogger("baldur.audit")


def operator(
    action: str,
    target: str,
    *,
    actor: str,
    reason: str | None = None,
    details: Mapping[str, object] | None = None,
) -> None:
    """An operator's action: written now (one SQLite transaction)."""
    if not _core.audit_enabled():
        return
    try:
        _core.audit_record(actor, action, target, reason, _details(details))
    except OSError as error:
        _log.error(
            "storage.audit_write_failed action=%s target=%s actor=%s error=%s",
            action,
            target,
            actor,
            error,
        )


def automated(
    action: str,
    target: str,
    *,
    reason: str | None = None,
    details: Mapping[str, object] | None = None,
) -> None:
    """An action Baldur took on its own: queued, written off this path."""
    if _core.audit_enabled():
        _core.audit_record_later(BALDUR, action, target, reason, _details(details))


def breaker_transition(zone: str, from_state: str, to_state: str, cause: str) -> None:
    """A breaker this process moved by itself (a trip, a recovery)."""
    if cause in _NOT_AUTOMATED:
        return
    details = {"from": from_state, "to": to_state, "cause": cause}
    automated("cb.transition", zone, details=details)


def _details(details: Mapping[str, object] | None) -> str:
    # default=str: a value JSON cannot hold (a datetime) is kept as text
    # rather than failing the record.
    return json.dumps(dict(details or {}), default=str)
