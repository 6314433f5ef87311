"""The web console's files: the page at ``/`` and its static files.

The console is one HTML page, one script and one stylesheet, shipped in the
wheel under ``baldur/_console_files/`` and read with :mod:`importlib.resources`.
The script asks for the admin key and talks to the control API with
``fetch()``; the page itself holds no data, so it loads without a key.

Only the names in :data:`FILES` are served: a path is looked up in that
table, never joined onto a directory, so ``/static/../admin.key`` and its
encoded cousins find nothing.

>>> page("GET", "/").status
200
>>> page("GET", "/static/../../admin.key") is None
True
"""

from __future__ import annotations

import functools
from importlib import resources

from baldur.endpoints import Response

#: The files the console serves, by name under ``/static/``, with their type.
FILES: dict[str, str] = {
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}

_INDEX = "index.html"
_HTML = "text/html; charset=utf-8"
_STATIC = "/static/"

# The page may change with a new release; a browser revalidates each load
# (the server adds no-store to every response anyway).
_HEADERS = {"Cache-Control": "no-store"}


def page(method: str, path: str) -> Response | None:
    """Answers ``GET``/``HEAD`` of ``/`` (the page) and ``/static/NAME`` (a
    file of :data:`FILES`); ``None`` for any other request."""
    if method not in ("GET", "HEAD"):
        return None
    if path in ("/", "/index.html"):
        return _file(_INDEX, _HTML)
    if path.startswith(_STATIC):
        name = path[len(_STATIC) :]
        content_type = FILES.get(name)
        if content_type is not None:
            return _file(name, content_type)
    return None


def _file(name: str, content_type: str) -> Response:
    return Response(200, {"Content-Type": content_type, **_HEADERS}, raw=_read(name))


@functools.cache
def _read(name: str) -> bytes:
    return resources.files("baldur").joinpath("_console_files").joinpath(name).read_bytes()
