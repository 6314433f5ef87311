"""What every web adapter does the same way: wire Baldur at startup, turn
a framework-free :class:`~baldur.endpoints.Response` into plain parts, and
tell which requests a draining process still answers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from baldur import _config, _shutdown

#: Where the adapters mount the operations endpoints.
PREFIX = "/api/baldur/"

#: Every operations endpoint: its path under :data:`PREFIX` and the route
#: name each framework registers it by (Django: ``reverse("baldur:ready")``).
ROUTES: tuple[tuple[str, str], ...] = (
    ("health/", "health"),
    ("health/live/", "live"),
    ("health/ready/", "ready"),
    ("health/pool/", "pool"),
    ("health/ping/", "ping"),
    ("metrics/", "metrics"),
    ("metrics/json/", "metrics_json"),
    ("dashboard/summary/", "dashboard_summary"),
)

#: What the operations endpoints answer: they are read-only (anything else is 405).
METHODS: tuple[str, ...] = ("GET", "HEAD")

_log = logging.getLogger("baldur.adapters")


def start(overrides: Mapping[str, object]) -> None:
    """``baldur.init()`` with the framework's own settings on top of the
    environment, and Baldur's SIGTERM handler chained to the server's (from
    the main thread only: Python allows no other)."""
    _config.init(**{key.lower(): value for key, value in overrides.items()})
    if threading.current_thread() is threading.main_thread():
        _shutdown.install_shutdown_handler()
    else:
        _log.info(
            "adapter.shutdown_handler_skipped: started off the main thread; "
            "call baldur.install_shutdown_handler() from it, or baldur.shutdown() on exit"
        )


_runs_lock = threading.Lock()
_runs = 0


def run_started() -> None:
    """An app's run begins (a lifespan's startup). The first run active in
    the process serves even when an earlier run's end drained it: the drain
    belongs to that run. Pair with :func:`run_ended`."""
    global _runs
    with _runs_lock:
        if _runs == 0:
            _shutdown.resume_serving()
        _runs += 1


def run_ended() -> None:
    """An app's run is over (after its drain)."""
    global _runs
    with _runs_lock:
        _runs = max(0, _runs - 1)


def served_while_draining(path: str) -> bool:
    """Health probes keep answering during a drain (readiness says 503
    itself; liveness must stay 200); everything else is refused."""
    return path.startswith(PREFIX + "health/")


def prefixed_settings(config: Mapping[str, object], prefix: str = "BALDUR_") -> dict[str, object]:
    """``init()`` overrides from a framework's config: its ``BALDUR_*`` keys,
    prefix dropped."""
    return {key[len(prefix) :]: value for key, value in config.items() if key.startswith(prefix)}
