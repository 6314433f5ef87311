"""A WSGI app whose every worker calls ``baldur.init()`` (the admin port
from the environment): each answers its pid and where its own admin server
listens (``None`` when another process serves)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

import baldur

baldur.init()


def app(environ: dict[str, object], start_response: Callable[..., object]) -> Iterable[bytes]:
    address = baldur._admin_server.address()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"{os.getpid()}:{address}".encode()]
