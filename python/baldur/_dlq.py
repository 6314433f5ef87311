"""Building dead-letter entries: JSON arguments (never pickle), the
function's import path, the final error. Called by the Rust driver when a
`dlq=True` call ends without the function succeeding."""

from __future__ import annotations

import contextvars
import json
import logging
from typing import Any

import baldur._config as _config
import baldur._core as _core
import baldur._dlq_codec as _dlq_codec
import baldur._dlq_registry as _dlq_registry
import baldur._events as _events

#: Replays an entry gets before it needs review (the core's default).
DEFAULT_REPLAY_BUDGET: int = _core.DLQ_DEFAULT_REPLAY_BUDGET

_log = logging.getLogger("baldur.dlq")

# Set while a replay runs: its failure is the replayed entry's, not a new one.
replaying: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "baldur_dlq_replaying", default=False
)


def record_call(
    zone: str,
    func: object,
    args: tuple[Any, ...],
    kwargs: dict[str, Any] | None,
    error: BaseException,
    attempts: int,
    reason: str,
) -> str | None:
    """Records one call; returns the entry's id (``None`` during a replay).
    What cannot be encoded is kept as a placeholder and the entry marked
    not replayable, with a WARNING: recording never changes the call's
    outcome (only a full queue under ``reject`` raises)."""
    if replaying.get():
        return None
    arguments, unreplayable = _dlq_codec.encode(args, kwargs)
    function = _dlq_registry.protected_path(zone, func)
    if function is None:
        function = _unprotected(zone, func, unreplayable)
    message = _message(error, unreplayable)
    key = _config.current().dlq_signing_key
    if key is not None:
        document = json.loads(arguments)
        document["signature"] = _dlq_registry.sign(key, zone, function, arguments)
        arguments = json.dumps(document)
    if unreplayable:
        _events.emit(
            _log,
            logging.WARNING,
            "dlq.argument_not_replayable",
            zone=zone,
            function=function,
            arguments=[problem.partition(":")[0] for problem in unreplayable],
            why="; ".join(unreplayable),
        )
    error_type = f"{type(error).__module__}.{type(error).__qualname__}"
    entry_id, evicted, compressed, kept_locally = _core.dlq_record(
        zone,
        function,
        arguments,
        not unreplayable,
        error_type,
        message,
        attempts,
        reason,
        DEFAULT_REPLAY_BUDGET,
    )
    if evicted:
        _events.emit(
            _log,
            logging.WARNING,
            "dlq.entries_evicted",
            zone=zone,
            evicted=evicted,
            compressed=compressed,
        )
    if kept_locally is not None:
        # Redis could not take it: the local queue did, durably, and hands
        # it to Redis once Redis answers again.
        _events.emit(
            _log,
            logging.WARNING,
            "dlq.entry_kept_locally",
            zone=zone,
            id=entry_id,
            error=kept_locally,
        )
    if _log.isEnabledFor(logging.INFO):  # skips building the event's fields
        _events.emit(
            _log, logging.INFO, "dlq.entry_recorded", zone=zone, id=entry_id, reason=reason
        )
    return entry_id


def _unprotected(zone: str, func: object, unreplayable: list[str]) -> str:
    """The import path of ``func``, not found among the zone's protected
    functions: why replay may not call it goes in ``unreplayable``, unless
    it was registered under that path after all (another function object
    of the same name)."""
    function = _dlq_registry.import_path(func)
    if "<" in function:
        unreplayable.append(
            f"function: {function} is a local function or lambda, which cannot be imported again"
        )
    elif not _dlq_registry.registered(zone, function):
        unreplayable.append(
            f"function: {function} is not a @baldur.protected({zone!r}, dlq=True) function "
            "(replay calls only those)"
        )
    return function


def _message(error: BaseException, unreplayable: list[str]) -> str:
    """``str(error)``, or a placeholder when its ``__str__`` raises."""
    try:
        return str(error)
    except Exception:
        unreplayable.append("error: its __str__ raised")
        return f"<{type(error).__qualname__}: str() failed>"


def flush_event(event: str, count: int, detail: str) -> None:
    """Called by the Rust flusher: entries carried from the local queue to
    Redis (INFO); Redis's queue full (``reject``: the entries wait locally)
    or evicting to make room for them (WARNING); a store failing otherwise
    (ERROR: the entries wait locally, retried)."""
    levels = {"dlq.entries_flushed": logging.INFO, "dlq.flush_failed": logging.ERROR}
    level = levels.get(event, logging.WARNING)
    _events.emit(_log, level, event, count=count, detail=detail)
