"""The face's internal signals: a module announces what happened, and those
that care (registered once, by ``baldur/__init__.py``, the one place that
wires the floors together) act on it. A lower floor never imports a higher
one to tell it something: the breaker's event logger does not start a DLQ
sweep, a drain does not reach into health's cache.

Subscribers run synchronously, in registration order, on the publishing
thread; one that raises is logged at ERROR (``bus.subscriber_failed``) and
the rest still run: a signal must not break the code that sent it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

#: A breaker closed after probing (``zone=``): the dependency is back.
BREAKER_RECOVERED = "circuit_breaker.recovered"
#: What Baldur notifies on by itself (``baldur._self_alerts``): a breaker
#: opened (``zone=, to_state=, cause=, failures=, calls=``), a dead letter
#: reached needs_review (``entry_id=, detail=``), a shared store entered or
#: left DEGRADED (``store=, detail=``), the kill switch flipped
#: (``disabled=, actor=, reason=``), a background loop stalled (``loop=,
#: detail=``).
BREAKER_OPENED = "circuit_breaker.opened"
DLQ_NEEDS_REVIEW = "dlq.needs_review"
STORE_DEGRADED = "storage.degraded"
STORE_RECOVERED = "storage.recovered"
KILL_SWITCH_FLIPPED = "kill_switch.flipped"
LOOP_STALLED = "watchdog.loop_stalled"
#: Health's answer changed for a reason its cache cannot see (a drain that
#: started or ended, the kill switch flipped).
HEALTH_CHANGED = "health.changed"
#: ``init()`` (or the first use) applied a configuration (``settings=``).
CONFIG_APPLIED = "config.applied"
#: ``init()`` or ``reset()`` applied the configuration the app chose
#: (``settings=``): what starts only when asked (the admin server), not on
#: a first call's lazy load.
INIT_APPLIED = "config.init_applied"

_log = logging.getLogger("baldur")
_subscribers: dict[str, list[Callable[..., Any]]] = {}
_lock = threading.Lock()


def subscribe(topic: str, subscriber: Callable[..., Any]) -> None:
    """Calls ``subscriber(**fields)`` for every :func:`publish` of ``topic``."""
    with _lock:
        _subscribers.setdefault(topic, []).append(subscriber)


def publish(topic: str, **fields: Any) -> None:
    """Tells every subscriber of ``topic``. Takes no lock while they run (a
    SIGTERM handler publishes, and may interrupt a thread in here)."""
    for subscriber in tuple(_subscribers.get(topic, ())):
        try:
            subscriber(**fields)
        except Exception:
            _log.exception("bus.subscriber_failed topic=%r subscriber=%r", topic, subscriber)
