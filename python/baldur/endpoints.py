"""The operations endpoints as framework-free handlers. Each returns a
:class:`Response` (status, headers, JSON body); an adapter (Django,
FastAPI, Flask, the admin server) only copies it onto its own response.

Mounted under ``/api/baldur/``:

==========================  ================================================
``health/``                 the full report: 200 healthy/degraded, 503 unhealthy
``health/live/``            200 while the process runs (no I/O, even draining)
``health/ready/``           503 while draining or a readiness check fails
``health/pool/``            the shared stores: 503 while any is DEGRADED
``health/ping/``            200, no I/O, for high-frequency probes
``metrics/``                Prometheus text (503 without ``prometheus_client``)
``metrics/json/``           the same numbers as JSON
``dashboard/summary/``      the dashboard roll-up (:data:`KEYED`)
==========================  ================================================

>>> from baldur import endpoints
>>> endpoints.dispatch("health/ping/").status
200
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import baldur._builtin_checks as _builtin_checks
import baldur._config as _config
import baldur._core as _core
import baldur._shutdown as _shutdown
import baldur.dashboard as dashboard
import baldur.health as health
import baldur.metrics as metrics

JSON = "application/json"
_NO_STORE = {"Cache-Control": "no-store"}


@dataclass(frozen=True)
class Response:
    """What an endpoint answers: an adapter copies it onto its response."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    #: The JSON document (``None`` for a non-JSON body such as Prometheus text).
    payload: Any = None
    #: The body's bytes; derived from ``payload`` when not given.
    raw: bytes | None = None

    @property
    def body(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return json.dumps(self.payload, sort_keys=True, default=str).encode()

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", JSON)


def _json(status: int, payload: Any, **headers: str) -> Response:
    return Response(status, {"Content-Type": JSON, **_NO_STORE, **headers}, payload)


def _draining_headers() -> dict[str, str]:
    return {"Retry-After": str(_shutdown.retry_after_seconds())}


def health_full(*, nocache: bool = False) -> Response:
    """``health/``: every check, 200 unless the verdict is unhealthy."""
    report = health.check_health(nocache=nocache)
    body = report.as_dict()
    body["enabled"] = _core.kill_switch_enabled()
    body["shutting_down"] = _shutdown.is_shutting_down()
    return _json(503 if report.status == "unhealthy" else 200, body)


def health_live() -> Response:
    """``health/live/``: the process answers. No store, no database."""
    return _json(200, {"status": "alive"})


def health_ready(*, nocache: bool = False) -> Response:
    """``health/ready/``: 503 with ``Retry-After`` once a drain started, or
    while a readiness check is unhealthy."""
    if _shutdown.is_shutting_down():
        return _json(
            503,
            {"status": "shutting_down", "in_flight": _shutdown.calls_in_flight()},
            **_draining_headers(),
        )
    report = health.check_readiness(nocache=nocache)
    body = {
        "status": "ready" if report.status != "unhealthy" else "not_ready",
        "checks": {n: r.as_dict() for n, r in report.checks.items()},
    }
    return _json(503 if report.status == "unhealthy" else 200, body)


def health_pool() -> Response:
    """``health/pool/``: each shared store; 503 while any is DEGRADED."""
    stores = _builtin_checks.store_health()
    running, starts = _core.runtime_status()
    degraded = sorted(name for name, entry in stores.items() if entry["degraded"])
    body: dict[str, Any] = {
        "status": "degraded" if degraded else "healthy",
        "stores": stores,
        "runtime": {"running": running, "starts": starts},
    }
    try:
        body["wal_pending"] = _core.wal_pending()
    except Exception as error:  # the local log is part of the pool: erroring is 503
        body["status"], body["wal_pending"] = "error", None
        body["error"] = f"write-ahead log: {type(error).__name__}"  # public: never the message
    return _json(200 if body["status"] == "healthy" else 503, body)


def health_ping() -> Response:
    """``health/ping/``: the fastest yes."""
    return _json(200, {"status": "ok"})


def metrics_prometheus() -> Response:
    """``metrics/``: Prometheus text, or 503 without ``prometheus_client``."""
    try:
        text, content_type = metrics.prometheus_text()
    except metrics.PrometheusUnavailableError as missing:
        return _json(503, {"error": str(missing)})
    return Response(200, {"Content-Type": content_type, **_NO_STORE}, raw=text)


def metrics_json() -> Response:
    """``metrics/json/``: every metric as JSON."""
    return _json(200, metrics.metrics_snapshot())


def dashboard_summary(*, nocache: bool = False) -> Response:
    """``dashboard/summary/``: the dashboard roll-up."""
    return _json(200, dashboard.summary(nocache=nocache))


def shutdown_refusal() -> Response | None:
    """What an adapter answers to new protected work once a drain started
    (503 + ``Retry-After``); ``None`` while serving. One atomic read."""
    if not _core.is_draining():
        return None
    return _json(
        503,
        {"error": "shutting down", "retry_after": _shutdown.retry_after_seconds()},
        **_draining_headers(),
    )


#: The ``Retry-After`` of a call refused because the dead-letter queue is
#: full: long enough for a replay or the breaker's sweep to make room.
DLQ_FULL_RETRY_AFTER_SECONDS = 30


def dead_letter_queue_full() -> Response:
    """What an adapter answers when a view raised
    :class:`~baldur.exceptions.DeadLetterQueueFullError` (the ``reject``
    overflow strategy): 503 + ``Retry-After``. The failed call could not be
    set aside, so the client keeps it and tries again later."""
    seconds = DLQ_FULL_RETRY_AFTER_SECONDS
    return _json(
        503,
        {"error": "dead_letter_queue_full", "retry_after": seconds},
        **{"Retry-After": str(seconds)},
    )


Handler = Callable[[Mapping[str, str]], Response]


def _nocache(query: Mapping[str, str]) -> bool:
    return str(query.get("nocache", "")).lower() in ("1", "true", "yes")


#: Path (under ``/api/baldur/``) → handler of the query parameters.
ROUTES: Mapping[str, Handler] = {
    "health/": lambda q: health_full(nocache=_nocache(q)),
    "health/live/": lambda q: health_live(),
    "health/ready/": lambda q: health_ready(nocache=_nocache(q)),
    "health/pool/": lambda q: health_pool(),
    "health/ping/": lambda q: health_ping(),
    "metrics/": lambda q: metrics_prometheus(),
    "metrics/json/": lambda q: metrics_json(),
    "dashboard/summary/": lambda q: dashboard_summary(nocache=_nocache(q)),
}


#: The routes that need the viewer or admin key (header :data:`KEY_HEADER`)
#: once ``BALDUR_VIEWER_KEY`` or ``BALDUR_ADMIN_KEY`` is configured: the
#: summary names domains, failure types and recent activity. A key the
#: admin server generated into ``admin.key`` does not count here (an app
#: that never set a key keeps its summary open, as before).
KEYED = frozenset({"dashboard/summary/"})

#: The request header carrying a key.
KEY_HEADER = "X-Baldur-Key"


def dispatch(
    path: str, query: Mapping[str, str] | None = None, *, key: str | None = None
) -> Response:
    """Answers ``path`` (relative to ``/api/baldur/``; a missing trailing
    slash is forgiven) with its handler; 404 for any other path. ``key`` is
    the request's :data:`KEY_HEADER`: a :data:`KEYED` route answers 401
    without one of the configured keys.

    >>> endpoints.dispatch("dashboard/summary/", key=request.headers.get("X-Baldur-Key"))
    """
    route = path.lstrip("/")
    if not route.endswith("/"):
        route += "/"
    handler = ROUTES.get(route)
    if handler is None:
        return _json(404, {"error": f"no such endpoint: {path}", "endpoints": sorted(ROUTES)})
    if route in KEYED and not _key_accepted(key):
        return _json(401, {"error": "unauthorized"})
    return handler(query or {})


def _key_accepted(key: str | None) -> bool:
    settings = _config.current()
    wanted = [k for k in (settings.admin_key, settings.viewer_key) if k is not None]
    if not wanted:
        return True
    if key is None:
        return False
    given = key.encode()
    # Every key compared, each in constant time: how long the answer takes
    # says nothing of which key, or how much of one, matched.
    matches = [hmac.compare_digest(given, k.encode()) for k in wanted]
    return any(matches)
