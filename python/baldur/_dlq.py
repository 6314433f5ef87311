"""Building dead-letter entries: JSON arguments (never pickle), the
function's import path, the final error. Called by the Rust driver when a
`dlq=True` call ends without the function succeeding."""

from __future__ import annotations

import contextvars
import json
import logging
from typing import Any

from baldur import _core, _events

#: Replays an entry gets before it needs review.
DEFAULT_REPLAY_BUDGET = 3

_log = logging.getLogger("baldur.dlq")

# Set while a replay runs: its failure is the replayed entry's, not a new one.
replaying: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "baldur_dlq_replaying", default=False
)


def import_path(func: object) -> str:
    """``module:qualname``, which the replay imports again."""
    named = func if hasattr(func, "__qualname__") else type(func)
    return f"{named.__module__}:{named.__qualname__}"


def encode(args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> tuple[str, list[str]]:
    """The arguments as JSON, and the names of those that are not JSON
    (kept by ``repr``; the entry is then not replayable)."""
    kwargs = kwargs or {}
    unjson: list[str] = []

    def keep(name: str, value: object) -> object:
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            unjson.append(name)
            return {"__repr__": repr(value)}
        return value

    document = {
        "args": [keep(f"args[{i}]", value) for i, value in enumerate(args)],
        "kwargs": {name: keep(name, value) for name, value in kwargs.items()},
    }
    return json.dumps(document), unjson


def record_call(
    zone: str,
    func: object,
    args: tuple[Any, ...],
    kwargs: dict[str, Any] | None,
    error: BaseException,
    attempts: int,
    reason: str,
) -> str | None:
    """Records one call; returns the entry's id (``None`` during a replay)."""
    if replaying.get():
        return None
    arguments, unjson = encode(args, kwargs)
    function = import_path(func)
    if "<" in function:
        # A lambda or a function defined inside another: nothing can import
        # it again, so nothing could replay the entry.
        unjson.append(f"function {function}")
    if unjson:
        _events.emit(
            _log,
            logging.WARNING,
            "dlq.argument_not_replayable",
            zone=zone,
            function=function,
            arguments=unjson,
        )
    error_type = f"{type(error).__module__}.{type(error).__qualname__}"
    entry_id, evicted, compressed, kept_locally = _core.dlq_record(
        zone,
        function,
        arguments,
        not unjson,
        error_type,
        str(error),
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
    _events.emit(_log, logging.INFO, "dlq.entry_recorded", zone=zone, id=entry_id, reason=reason)
    return entry_id


def flush_event(event: str, count: int, detail: str) -> None:
    """Called by the Rust flusher: entries carried from the local queue to
    Redis (INFO); Redis's queue full (``reject``: the entries wait locally)
    or evicting to make room for them (WARNING); a store failing otherwise
    (ERROR: the entries wait locally, retried)."""
    levels = {"dlq.entries_flushed": logging.INFO, "dlq.flush_failed": logging.ERROR}
    level = levels.get(event, logging.WARNING)
    _events.emit(_log, level, event, count=count, detail=detail)
