"""The kill switch's persistence: a local record under ``BALDUR_DATA_DIR``
(so a restart stays disabled), and a shared one in Redis when breaker state
is shared (so every worker of the fleet follows one switch).

The switch itself is an atomic in the Rust core, read once per protected
call; this module only reads and writes its record. With Redis, a
background poller applies the shared record to this process within
:data:`POLL_SECONDS` once the process has made its first protected call
(which starts the I/O runtime); it is restarted in a forked child. A
restarted worker starts from its local record, which the poller keeps in
step with the shared one.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from dataclasses import dataclass

import baldur._core as _core
import baldur._events as _events
from baldur._settings import Settings, kill_switch_path

#: How often a worker re-reads the shared record in Redis.
POLL_SECONDS = 1.0

_lock = threading.Lock()
_path: str | None = None
_poller: threading.Thread | None = None
_stop = threading.Event()
#: The last refresh could not reach Redis (logged once per outage).
_unreachable = False
#: Why the local record could not be read (see record_problem()).
_problem: str | None = None


@dataclass(frozen=True)
class Record:
    """Who disabled Baldur, why, and when (Unix seconds)."""

    reason: str
    actor: str
    at: float

    def to_json(self) -> str:
        return json.dumps({"reason": self.reason, "actor": self.actor, "at": self.at})

    @staticmethod
    def from_json(text: str) -> Record:
        data = json.loads(text)
        return Record(reason=str(data["reason"]), actor=str(data["actor"]), at=float(data["at"]))


def current() -> Record | None:
    """The record in force in this process; ``None`` while enabled."""
    held = _core.kill_switch_record()
    return None if held is None else Record(*held)


def apply(record: Record | None) -> None:
    """Flips this process's switch to match ``record`` (no persistence)."""
    if record is None:
        _core.kill_switch_enable()
    else:
        _core.kill_switch_disable(record.reason, record.actor, record.at)


def restore(settings: Settings) -> None:
    """At configuration: the local record decides until the shared one (if
    any) is read by the poller."""
    global _path
    path = kill_switch_path(settings)
    with _lock:
        if path != _path:
            _path = path
            apply(_read_local(path))
    _ensure_poller()


def save(record: Record | None) -> None:
    """Applies ``record`` here, writes it locally, then to Redis if shared.
    A Redis that does not take it raises ``ConnectionError`` (the local
    change stands: the operator must know the fleet did not follow)."""
    with _lock:
        apply(record)
        if _path is not None:
            _write_local(_path, record)
    if _core.kill_switch_remote_configured():
        try:
            _core.kill_switch_remote_save(None if record is None else record.to_json())
        except ConnectionError as error:
            raise ConnectionError(
                f"the kill switch changed in this process and its local record, but Redis "
                f"did not take it ({error}): other workers still follow the old state"
            ) from error


def refresh() -> None:
    """Applies the shared record now (the poller's step; tests call it)."""
    global _unreachable
    if not _core.kill_switch_remote_configured():
        return
    try:
        text = _core.kill_switch_remote_load()
    except ConnectionError as error:
        # DEGRADED: this worker keeps its last known state, and says so
        # once per outage (the store's own DEGRADED event says the rest).
        if not _unreachable:
            _unreachable = True
            _events.kill_switch_event(
                "kill_switch.refresh_failed", logging.WARNING, detail=str(error)
            )
        return
    _unreachable = False
    try:
        shared = None if text is None else Record.from_json(text)
    except (ValueError, KeyError, TypeError) as error:
        # As for the local record: kept as it is, said loudly, never "disabled".
        _events.kill_switch_event(
            "kill_switch.record_error", logging.ERROR, source="redis", detail=repr(error)
        )
        return
    with _lock:
        if shared != current():
            apply(shared)
            if _path is not None:
                _write_local(_path, shared)
            _events.kill_switch_event(
                "kill_switch.state_changed",
                logging.WARNING if shared is not None else logging.INFO,
                enabled=shared is None,
                source="redis",
            )


def record_problem() -> str | None:
    """Why the local record could not be read, while that lasts (the health
    check reports it); ``None`` when it was read, or there is none."""
    return _problem


def _read_local(path: str) -> Record | None:
    global _problem
    try:
        with open(path, encoding="utf-8") as file:
            record = Record.from_json(file.read())
    except FileNotFoundError:
        record = None
    except (OSError, ValueError, KeyError, TypeError) as error:
        # Unreadable is not "disabled": reading it so turned every protection
        # off in silence. Protection stays on; the event and the health
        # check say the operator's switch cannot be trusted.
        _problem = f"the kill switch's record {path} cannot be read: {error!r}"
        _events.kill_switch_event(
            "kill_switch.record_error",
            logging.ERROR,
            path=path,
            detail=repr(error),
            protection="on",
        )
        return None
    _problem = None
    return record


def _write_local(path: str, record: Record | None) -> None:
    global _problem
    _problem = None  # what is written now replaces what could not be read
    if record is None:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
        return
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    # Written whole or not at all: a crash mid-write leaves the old record.
    fd, temporary = tempfile.mkstemp(prefix=".kill-switch.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(record.to_json())
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.remove(temporary)
        except FileNotFoundError:
            pass
        raise


def _ensure_poller() -> None:
    if not _core.kill_switch_remote_configured():
        return
    with _lock:
        if _poller is None or not _poller.is_alive():
            _start_poller()


def _start_poller() -> None:
    global _poller
    _stop.clear()
    _poller = threading.Thread(target=_poll, name="baldur-kill-switch", daemon=True)
    _poller.start()


#: How soon after a worker's first protected call the shared record is read.
FIRST_POLL_SECONDS = 0.05


def _poll() -> None:
    interval = FIRST_POLL_SECONDS  # until the first read: a new worker learns fast
    while not _stop.wait(interval):
        running, _ = _core.runtime_status()
        if not running:
            # The runtime starts with the first protected call, never here:
            # a pre-forking parent must not start it for a poll.
            continue
        if _breaker_store_degraded():
            continue  # the breaker sync probes the store; no second prober
        refresh()
        interval = POLL_SECONDS


def _breaker_store_degraded() -> bool:
    entry = _core.store_health().get("redis:circuit_breaker")
    return bool(entry and entry["degraded"])


def _after_fork_in_child() -> None:
    # The parent's poller did not survive the fork. Restarted without
    # touching the Rust side (its locks may be mid-use in the parent); its
    # polls begin with the child's own runtime (its first protected call).
    global _lock, _stop
    _lock, _stop = threading.Lock(), threading.Event()
    if _poller is not None:
        _start_poller()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def forget() -> None:
    """Enabled again, its local record removed (``baldur.testing.reset()``);
    a record shared in Redis is left alone."""
    with _lock:
        apply(None)
        if _path is not None:
            _write_local(_path, None)
