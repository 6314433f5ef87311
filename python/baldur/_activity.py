"""The recent operational events the dashboard summary shows: breaker
transitions and kill-switch flips, newest last, in a small ring (rare
events, never the call path)."""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

#: Events kept.
MAX_EVENTS = 50

_lock = threading.Lock()
_events: collections.deque[dict[str, Any]] = collections.deque(maxlen=MAX_EVENTS)


def note(event: str, **fields: Any) -> None:
    """Keeps one event, stamped with the time."""
    with _lock:
        _events.append({"event": event, "at": time.time(), **fields})


def recent(limit: int = 20) -> list[dict[str, Any]]:
    """The newest ``limit`` events, newest first."""
    with _lock:
        return list(reversed(_events))[:limit]


def clear() -> None:
    """Empties the recent-events ring (``baldur.testing.reset()``)."""
    with _lock:
        _events.clear()
