"""A WSGI app served by gunicorn --preload: Baldur is used (its runtime
started) in the master before the workers are forked."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable

import baldur

baldur.init()


@baldur.protected("fork-wsgi", retry=True, idempotency_key="key")
def work(key: str) -> str:
    return f"{os.getpid()}:{key}"


work(f"preload-{os.getpid()}")  # the master's runtime and connections are live


def app(environ: dict[str, object], start_response: Callable[..., object]) -> Iterable[bytes]:
    key = str(environ["PATH_INFO"]).strip("/")
    if key.startswith("slow"):
        time.sleep(0.3)  # keeps this worker busy: the next request goes to the other
    try:
        body = work(key)
    except baldur.IdempotencyDuplicateError:
        body = "duplicate"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]
