"""FastAPI: ``FastAPI(lifespan=lifespan)`` (or ``with_baldur(your_lifespan)``
to compose with your own), ``app.include_router(router)`` for the
endpoints under ``/api/baldur``, and ``app.add_middleware(BaldurMiddleware)``
to refuse new requests with 503 + ``Retry-After`` while draining.

``@baldur.protected`` on an ``async def`` endpoint keeps its signature, so
FastAPI's dependency injection sees the real parameters.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from baldur.adapters._requires import require

require("fastapi", "fastapi")

from fastapi import APIRouter, FastAPI, Request  # noqa: E402
from fastapi import Response as HTTPResponse  # noqa: E402
from fastapi.routing import APIRoute  # noqa: E402
from starlette.exceptions import HTTPException  # noqa: E402
from starlette.types import ASGIApp, Message, Receive, Scope, Send  # noqa: E402

from baldur import _shutdown, endpoints, metrics  # noqa: E402
from baldur.adapters import _serving  # noqa: E402
from baldur.exceptions import DeadLetterQueueFullError  # noqa: E402

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[Any]]


def to_fastapi(answer: endpoints.Response) -> HTTPResponse:
    headers = {k: v for k, v in answer.headers.items() if k.lower() != "content-type"}
    return HTTPResponse(
        content=answer.body,
        status_code=answer.status,
        headers=headers,
        media_type=answer.content_type,
    )


class _ReadOnlyRoute(APIRoute):
    """GET (the one method in the OpenAPI schema: a route with two methods
    gets a duplicate operation id), HEAD answered as GET, and 405 with
    ``Allow: GET, HEAD`` to anything else."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "HEAD":
            await self.app(scope, receive, send)  # the server sends no body
            return
        if scope["method"] not in _serving.METHODS:
            raise HTTPException(405, headers={"Allow": ", ".join(_serving.METHODS)})
        await super().handle(scope, receive, send)


router = APIRouter(prefix="/api/baldur", tags=["baldur"])


def _endpoint(path: str) -> Callable[[Request], HTTPResponse]:
    def answer(request: Request) -> HTTPResponse:
        return to_fastapi(
            endpoints.dispatch(
                path,
                dict(request.query_params),
                key=request.headers.get(endpoints.KEY_HEADER),
            )
        )

    return answer


for _path, _name in _serving.ROUTES:
    router.add_api_route(
        "/" + _path,
        _endpoint(_path),
        methods=["GET"],
        name=f"baldur:{_name}",
        route_class_override=_ReadOnlyRoute,
    )


def with_baldur(
    app_lifespan: Lifespan | None = None, **overrides: object
) -> Callable[[FastAPI], AbstractAsyncContextManager[Any]]:
    """A lifespan that runs ``baldur.init(**overrides)`` at startup, then
    ``app_lifespan`` (if any) inside it; at exit, after the app's own
    teardown, it drains in-flight protected calls (the event loop keeps
    running them meanwhile). The drain belongs to that run: a lifespan
    entered again (``TestClient`` used twice, a reload in place) serves."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        _serving.start(overrides)
        _serving.run_started()
        try:
            if app_lifespan is None:
                yield None
            else:
                async with app_lifespan(app) as state:
                    yield state
        finally:
            try:
                await asyncio.to_thread(_shutdown.shutdown)
            finally:
                _serving.run_ended()

    return lifespan


#: ``FastAPI(lifespan=lifespan)``: Baldur alone, settings from the environment.
lifespan = with_baldur()


class BaldurMiddleware:
    """Pure ASGI: 503 + ``Retry-After`` for new HTTP requests while
    draining (health probes still answer) and for a call the full
    dead-letter queue refused, and each request counted per route for the
    metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        refusal = None if _serving.served_while_draining(path) else endpoints.shutdown_refusal()
        if refusal is not None:
            await to_fastapi(refusal)(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        responded = False

        async def sending(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = int(message["status"]), True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except DeadLetterQueueFullError:
            if responded:  # too late to answer otherwise
                raise
            # The reject strategy refused to set the call aside: 503, not 500.
            await to_fastapi(endpoints.dead_letter_queue_full())(scope, receive, sending)
        finally:
            route = scope.get("route")
            pattern: str | None = getattr(route, "path", None)
            metrics.record_request(
                scope.get("method", "GET"), pattern, status, time.perf_counter() - started
            )


__all__ = ["BaldurMiddleware", "lifespan", "router", "to_fastapi", "with_baldur"]
