"""The operations endpoints as Django views: each copies the framework-free
answer of :mod:`baldur.endpoints` onto an ``HttpResponse``."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed

from baldur import endpoints
from baldur.adapters import _serving


def to_django(answer: endpoints.Response) -> HttpResponse:
    response = HttpResponse(answer.body, status=answer.status, content_type=answer.content_type)
    for name, value in answer.headers.items():
        if name.lower() != "content-type":
            response[name] = value
    return response


def endpoint(path: str) -> Callable[[HttpRequest], HttpResponse]:
    """A view answering ``path`` (relative to ``/api/baldur/``): GET and
    HEAD only (read-only), 405 with ``Allow`` to anything else."""

    def view(request: HttpRequest) -> HttpResponse:
        if request.method not in _serving.METHODS:
            return HttpResponseNotAllowed(_serving.METHODS)
        query = {key: str(request.GET.get(key, "")) for key in request.GET}
        return to_django(
            endpoints.dispatch(path, query, key=request.headers.get(endpoints.KEY_HEADER))
        )

    view.__name__ = "baldur_" + path.strip("/").replace("/", "_")
    return view
