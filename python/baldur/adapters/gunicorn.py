"""gunicorn: its workers install their own signal handlers after the app is
loaded in them, and with ``--preload`` the app (and with it Baldur's
SIGTERM handler) loads in the master instead, so no worker would drain.
This hook chains Baldur's handler to each worker's, after gunicorn set
it. In ``gunicorn.conf.py``::

    from baldur.adapters.gunicorn import post_worker_init  # noqa: F401

Harmless without ``--preload`` (installing twice changes nothing).
"""

from __future__ import annotations

from baldur import _shutdown


def post_worker_init(worker: object) -> None:
    """gunicorn's ``post_worker_init`` server hook."""
    _shutdown.install_shutdown_handler()
