"""``BaldurMiddleware``: first in ``MIDDLEWARE``. While the process drains,
new requests get 503 + ``Retry-After`` (health probes still answer), as does
a view's call the full dead-letter queue refused; every request is counted
per route for the metrics. Works under WSGI and ASGI."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from baldur import endpoints, metrics
from baldur.adapters import _serving
from baldur.adapters.django.views import to_django
from baldur.exceptions import DeadLetterQueueFullError


class BaldurMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        refused = _refusal(request)
        if refused is not None:
            return refused
        started = time.perf_counter()
        response: HttpResponseBase = self.get_response(request)
        _count(request, response, started)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """A view's call the dead-letter queue refused (``reject``): 503 +
        ``Retry-After``, not a 500."""
        if isinstance(exception, DeadLetterQueueFullError):
            return to_django(endpoints.dead_letter_queue_full())
        return None

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        refused = _refusal(request)
        if refused is not None:
            return refused
        started = time.perf_counter()
        pending: Awaitable[HttpResponseBase] = self.get_response(request)
        response = await pending
        _count(request, response, started)
        return response


def _refusal(request: HttpRequest) -> HttpResponse | None:
    if _serving.served_while_draining(request.path):
        return None
    answer = endpoints.shutdown_refusal()
    return None if answer is None else to_django(answer)


def _count(request: HttpRequest, response: HttpResponseBase, started: float) -> None:
    match = getattr(request, "resolver_match", None)
    route = "/" + match.route.lstrip("/") if match is not None and match.route else None
    metrics.record_request(
        request.method or "GET", route, response.status_code, time.perf_counter() - started
    )
