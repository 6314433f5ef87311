"""The admin server's Python half: started by ``init()`` with the
settings, it answers what the Rust core's gate let in (the core owns the
socket, the HTTP and every security check; see ``src/core/admin/``).

The server runs on Baldur's background runtime and hands each request to
:func:`_serve` on a thread of its own, so a protected call never waits on
it; a server that cannot bind never breaks the app (``admin.server_skipped``
when another process serves, ``admin.server_failed`` otherwise).
"""

from __future__ import annotations

import logging
import threading
from typing import NamedTuple

import baldur._admin_key as _admin_key
import baldur._console as _console
import baldur._control_api as _control_api
import baldur._core as _core
import baldur._events as _events
import baldur._settings as _settings
from baldur._settings import Settings
from baldur.endpoints import JSON, Response

_log = logging.getLogger("baldur.admin")
_lock = threading.Lock()


class _Wanted(NamedTuple):
    """What a start was asked: a different one restarts the server."""

    host: str
    port: int
    key: str
    viewer_key: str | None
    hosts: tuple[str, ...]
    origins: tuple[str, ...]
    unlocked: bool
    store: str


_running: _Wanted | None = None


def apply(settings: Settings) -> None:
    """Starts, restarts or stops the server as ``settings`` say (port 0:
    off). Never raises for a socket: the app runs on without a server."""
    global _running
    with _lock:
        if settings.admin_port == 0:
            if _running is not None or _core.admin_address() is not None:
                _core.admin_stop()
            _running = None
            return
        wanted = _wanted(settings)
        if wanted == _running and _core.admin_address() is not None:
            return
        _running = None
        try:
            status, where, port = _core.admin_start(
                host=wanted.host,
                port=wanted.port,
                admin_key=wanted.key,
                viewer_key=wanted.viewer_key,
                allowed_hosts=list(wanted.hosts),
                allowed_origins=list(wanted.origins),
                unlocked=wanted.unlocked,
                handler=_serve,
                store=wanted.store,
            )
        except (ValueError, OSError) as error:
            _events.admin_event("admin.server_failed", str(error))
            return
        if status == "skipped":
            _events.admin_event("admin.server_skipped", f"{where}: another process serves")
            return
        _running = wanted
        key_from = (
            "BALDUR_ADMIN_KEY" if _admin_key.configured(settings) else _admin_key.path(settings)
        )
        _events.emit(
            _log,
            logging.INFO,
            "admin.server_started",
            url=url_of(where, port),
            key_from=key_from,
            unlocked=wanted.unlocked,
        )


def address() -> tuple[str, int] | None:
    """``(host, port)`` the server listens on in this process, or ``None``."""
    return _core.admin_address()


def url_of(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _wanted(settings: Settings) -> _Wanted:
    redis = _settings.breaker_store_url(settings) is not None
    return _Wanted(
        host=settings.admin_host,
        port=settings.admin_port,
        key=_admin_key.resolve(settings),
        viewer_key=settings.viewer_key,
        hosts=settings.admin_allowed_hosts,
        origins=settings.admin_allowed_origins,
        unlocked=settings.admin_unlock,
        store="redis" if redis else "memory",
    )


def _serve(
    method: str, path: str, query: str, body: bytes, role: str | None, actor: str | None
) -> tuple[int, list[tuple[str, str]], bytes]:
    """One request the core's gate let in: the console's files, else the
    control API. Never raises (the core would answer a bare 500)."""
    try:
        response = None
        if not path.startswith("/api/"):
            response = _console.page(method, path)
        if response is None:
            response = _control_api.route(method, path, query, body, role=role, actor=actor)
    except Exception as error:  # one bad request must not kill the server
        # The type only: a message may hold a DSN or an argument.
        _events.emit(
            _log,
            logging.ERROR,
            "admin.request_failed",
            path=path,
            error_type=type(error).__name__,
        )
        response = Response(500, {"Content-Type": JSON}, {"error": "internal"})
    headers = [(name, value) for name, value in response.headers.items()]
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", response.content_type))
    return response.status, headers, response.body
