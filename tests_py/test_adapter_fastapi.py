"""The FastAPI adapter through Starlette's TestClient: the lifespan (alone
and composed with the app's own), the router, the draining middleware,
and protected async endpoints that keep their signatures for dependency
injection."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from helpers import require_module

require_module("fastapi", "fastapi")

from fastapi import Depends, FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

import baldur  # noqa: E402
from baldur import _config, _shutdown  # noqa: E402
from baldur.adapters.fastapi import BaldurMiddleware, lifespan, router, with_baldur  # noqa: E402


@baldur.protected("fastapi-adapter-dlq", dlq=True, fallback=lambda: {"queued": True})
async def send_receipt(order_id: int) -> dict[str, object]:
    raise ConnectionError(f"mail server down for order {order_id}")


@pytest.fixture(autouse=True)
def _serving() -> Iterator[None]:
    yield
    _shutdown.reset_for_tests()


#: The endpoints' zone. FastAPI caches what it learnt about an endpoint for
#: the whole session, so the decorated endpoint (and its zone's breaker)
#: outlives the test: a name of its own, which no other test module uses.
ZONE = "fastapi-orders"


def tenant(x_tenant: str = "acme") -> str:
    return x_tenant


def build(app: FastAPI, zone: str) -> FastAPI:
    app.include_router(router)
    app.add_middleware(BaldurMiddleware)

    @app.get("/orders/{order_id}")
    @baldur.protected(zone, fallback=lambda: {"order": -1, "cached": True})
    async def order(order_id: int, who: str = Depends(tenant)) -> dict[str, object]:
        if order_id < 0:
            raise ConnectionError("down")
        return {"order": order_id, "tenant": who}

    return app


def test_lifespan_inits_serves_and_drains_at_exit() -> None:
    app = build(FastAPI(lifespan=lifespan), ZONE)
    with TestClient(app) as client:
        assert client.get("/api/baldur/health/ping/").status_code == 200
        assert client.get("/api/baldur/health/ready/").status_code == 200
        assert client.get("/api/baldur/health/").json()["status"] in ("healthy", "degraded")
        assert not baldur.is_shutting_down()
    assert baldur.is_shutting_down(), "leaving the lifespan drained"


def test_protected_async_endpoints_keep_dependency_injection() -> None:
    app = build(FastAPI(lifespan=lifespan), ZONE)
    with TestClient(app) as client:
        assert client.get("/orders/3?x_tenant=globex").json() == {"order": 3, "tenant": "globex"}
        assert client.get("/orders/-1").json() == {"order": -1, "cached": True}
        assert client.get("/orders/abc").status_code == 422  # FastAPI validated the path
    endpoints = baldur.metrics_snapshot()["endpoints"]
    assert any(row["route"] == "/orders/{order_id}" for row in endpoints), endpoints


def test_with_baldur_composes_with_the_apps_own_lifespan() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def own(app: FastAPI) -> AsyncIterator[dict[str, str]]:
        events.append(f"start threshold={_config.current().cb_failure_threshold}")
        yield {"db": "connected"}
        events.append(f"stop draining={baldur.is_shutting_down()}")

    app = FastAPI(lifespan=with_baldur(own, cb_failure_threshold=11))

    @app.get("/state")
    async def state_view() -> dict[str, bool]:
        return {"has_db": True}

    with TestClient(app) as client:
        assert client.get("/state").json() == {"has_db": True}
    assert events == ["start threshold=11", "stop draining=False"]
    assert baldur.is_shutting_down()


def test_while_draining_new_requests_get_503_and_probes_answer() -> None:
    app = build(FastAPI(lifespan=lifespan), ZONE)
    with TestClient(app) as client:
        baldur.begin_shutdown(timeout=5)
        refused = client.get("/orders/1")
        assert refused.status_code == 503
        assert int(refused.headers["Retry-After"]) >= 1
        assert client.get("/api/baldur/health/ready/").status_code == 503
        assert client.get("/api/baldur/health/live/").status_code == 200


@pytest.mark.parametrize("path", ["health/", "health/ping/", "dashboard/summary/", "metrics/json/"])
def test_operations_endpoints_answer_get_and_head_only(path: str) -> None:
    app = build(FastAPI(lifespan=lifespan), ZONE)
    with TestClient(app) as client:
        url = "/api/baldur/" + path
        assert client.get(url).status_code == 200
        head = client.head(url)
        assert (head.status_code, head.content) == (200, b"")
        for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
            refused = client.request(method, url)
            assert refused.status_code == 405, method
            assert sorted(refused.headers["Allow"].split(", ")) == ["GET", "HEAD"], method
        assert "/api/baldur/health/" in client.get("/openapi.json").json()["paths"]


def test_a_lifespan_that_starts_again_serves_again() -> None:
    app = build(FastAPI(lifespan=lifespan), ZONE)
    for run in range(2):  # one TestClient per test, the same app: each run serves
        with TestClient(app) as client:
            assert client.get(f"/orders/{run}").json() == {"order": run, "tenant": "acme"}, run
            assert client.get("/api/baldur/health/ready/").status_code == 200, run
            assert not baldur.is_shutting_down()
        assert baldur.is_shutting_down(), "each run still drains at its end"
    other = build(FastAPI(lifespan=with_baldur()), ZONE + "-other")
    with TestClient(other) as client:
        assert client.get("/orders/7").status_code == 200


def test_a_full_dead_letter_queue_reaches_the_client_as_503_with_retry_after(
    tmp_path: Path,
) -> None:
    app = build(FastAPI(lifespan=with_baldur(data_dir=str(tmp_path))), ZONE)

    @app.post("/receipts/{order_id}")
    async def receipt(order_id: int) -> dict[str, object]:
        return await send_receipt(order_id)

    with TestClient(app) as client:
        baldur.init(dlq_max_size=1, dlq_overflow_strategy="reject")
        assert client.post("/receipts/1").json() == {"queued": True}  # set aside
        full = client.post("/receipts/2")  # the queue is full: the reject strategy
    assert full.status_code == 503
    assert int(full.headers["Retry-After"]) >= 1
    assert full.json()["error"] == "dead_letter_queue_full"


def test_the_summary_needs_a_key_once_one_is_configured() -> None:
    keyed = with_baldur(admin_key="k-admin", viewer_key="k-view")
    app = build(FastAPI(lifespan=keyed), ZONE)
    url = "/api/baldur/dashboard/summary/"
    with TestClient(app) as client:
        for headers in ({}, {"X-Baldur-Key": "wrong"}, {"X-Baldur-Key": "k-vie"}):
            refused = client.get(url, headers=headers)
            assert (refused.status_code, refused.json()) == (401, {"error": "unauthorized"})
        for key in ("k-view", "k-admin"):
            answer = client.get(url, headers={"X-Baldur-Key": key})
            assert answer.status_code == 200, key
            assert "verdict" in answer.json()
        assert client.get("/api/baldur/health/ready/").status_code == 200


def test_a_viewer_key_alone_is_enough_to_close_the_summary() -> None:
    app = build(FastAPI(lifespan=with_baldur(viewer_key="k-view")), ZONE)
    url = "/api/baldur/dashboard/summary/"
    with TestClient(app) as client:
        assert client.get(url).status_code == 401
        assert client.get(url, headers={"X-Baldur-Key": "k-view"}).status_code == 200
