"""The Django adapter through Django's own test client: startup wiring from
``settings.BALDUR``, the namespaced endpoints, readiness that needs every
database, the draining middleware, and per-route request metrics."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import require_module

django = require_module("django", "django")

from django.conf import settings  # noqa: E402

import baldur  # noqa: E402
from baldur import _admin_key, _config, _shutdown  # noqa: E402


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    if settings.configured:
        pytest.fail("Django was configured by another test module: these tests need their own site")
    where: Path = tmp_path_factory.mktemp("django")
    previous_handler = signal.getsignal(signal.SIGTERM)
    settings.configure(
        DEBUG=False,
        ALLOWED_HOSTS=["testserver"],
        SECRET_KEY="baldur-tests",
        ROOT_URLCONF="apps.django_urls",
        INSTALLED_APPS=["django.contrib.contenttypes", "baldur.adapters.django"],
        MIDDLEWARE=["baldur.adapters.django.middleware.BaldurMiddleware"],
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(where / "a.sqlite3")},
            "reports": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(where / "b.sqlite3")},
        },
        BALDUR={"CB_FAILURE_THRESHOLD": 7, "cb_minimum_calls": 9},
    )
    django.setup()
    from django.test import Client

    yield Client()
    signal.signal(signal.SIGTERM, previous_handler)


@pytest.fixture(autouse=True)
def _serving() -> Iterator[None]:
    yield
    _shutdown.reset_for_tests()


def test_the_app_config_ran_init_with_the_django_settings(client: object) -> None:
    assert _config.current().cb_failure_threshold == 7
    assert _config.current().cb_minimum_calls == 9
    assert signal.getsignal(signal.SIGTERM) is _shutdown._handle  # chained at startup


def test_the_endpoints_are_namespaced(client: object) -> None:
    from django.urls import reverse

    assert reverse("baldur:ready") == "/api/baldur/health/ready/"
    assert reverse("baldur:live") == "/api/baldur/health/live/"
    assert reverse("baldur:dashboard_summary") == "/api/baldur/dashboard/summary/"


def test_health_answers_and_json(client: object) -> None:
    from django.test import Client

    assert isinstance(client, Client)
    for name in ("health/", "health/live/", "health/ready/", "health/ping/"):
        answer = client.get(f"/api/baldur/{name}")
        assert answer.status_code == 200, (name, answer.content)
        assert answer["Content-Type"].startswith("application/json")
    full = client.get("/api/baldur/health/?nocache=true").json()
    assert full["checks"]["django.databases"]["status"] == "healthy"
    assert sorted(full["checks"]["django.databases"]["databases"]) == ["default", "reports"]


def test_ready_needs_every_database(client: object) -> None:
    from django.db import connections
    from django.test import Client

    assert isinstance(client, Client)
    reports = connections["reports"]
    good = reports.settings_dict["NAME"]
    reports.close()
    reports.settings_dict["NAME"] = "/proc/no-such-dir/b.sqlite3"
    try:
        answer = client.get("/api/baldur/health/ready/?nocache=true")
        assert answer.status_code == 503
        shown = answer.json()["checks"]["django.databases"]
        assert shown["detail"] == "reports: OperationalError"  # the type, never the message
        assert "unable to open" not in answer.content.decode()
        assert client.get("/api/baldur/health/live/").status_code == 200
    finally:
        reports.close()
        reports.settings_dict["NAME"] = good
    assert client.get("/api/baldur/health/ready/?nocache=true").status_code == 200


def test_a_protected_view_works_and_is_counted_per_route(client: object) -> None:
    from django.test import Client

    assert isinstance(client, Client)
    assert client.get("/orders/5/checkout/").json() == {"result": "charged 5"}
    assert client.get("/orders/-1/checkout/").json() == {"result": "queued"}
    routes = baldur.metrics_snapshot()["endpoints"]
    mine = [row for row in routes if row["route"] == "/orders/<str:order_id>/checkout/"]
    assert mine and sum(mine[0]["requests"].values()) >= 2, routes


def test_while_draining_new_requests_get_503_and_probes_still_answer(client: object) -> None:
    from django.test import Client

    assert isinstance(client, Client)
    baldur.begin_shutdown(timeout=5)
    refused = client.get("/orders/5/checkout/")
    assert refused.status_code == 503
    assert int(refused["Retry-After"]) >= 1
    ready = client.get("/api/baldur/health/ready/")
    assert ready.status_code == 503
    assert ready["Cache-Control"] == "no-store"
    assert "Retry-After" in ready
    assert client.get("/api/baldur/health/live/").status_code == 200
    assert client.get("/api/baldur/health/ping/").status_code == 200


@pytest.mark.parametrize("path", ["health/", "health/ping/", "dashboard/summary/", "metrics/json/"])
def test_operations_endpoints_answer_get_and_head_only(client: object, path: str) -> None:
    from django.test import Client

    assert isinstance(client, Client)
    url = "/api/baldur/" + path
    assert client.get(url).status_code == 200
    head = client.head(url)
    assert (head.status_code, head.content) == (200, b"")
    for method in ("post", "put", "delete", "patch", "options"):
        refused = getattr(client, method)(url)
        assert refused.status_code == 405, method
        assert sorted(refused["Allow"].split(", ")) == ["GET", "HEAD"], method


def test_a_full_dead_letter_queue_reaches_the_client_as_503_with_retry_after(
    client: object, tmp_path: Path
) -> None:
    from django.test import Client

    assert isinstance(client, Client)
    baldur.init(data_dir=str(tmp_path), dlq_max_size=1, dlq_overflow_strategy="reject")
    assert client.post("/receipts/1/").json() == {"result": "queued"}  # set aside
    full = client.post("/receipts/2/")  # the queue is full: the reject strategy
    assert full.status_code == 503
    assert int(full["Retry-After"]) >= 1
    assert full.json()["error"] == "dead_letter_queue_full"


def test_the_summary_needs_a_key_once_one_is_configured(client: object, tmp_path: Path) -> None:
    from django.test import Client

    assert isinstance(client, Client)
    url = "/api/baldur/dashboard/summary/"
    baldur.init(data_dir=str(tmp_path))
    _admin_key.resolve(_config.current())  # a generated admin.key does not count
    assert client.get(url).status_code == 200
    baldur.init(admin_key="k-admin", viewer_key="k-view")
    for headers in ({}, {"HTTP_X_BALDUR_KEY": "wrong"}, {"HTTP_X_BALDUR_KEY": ""}):
        refused = client.get(url, **headers)
        assert (refused.status_code, refused.json()) == (401, {"error": "unauthorized"})
    for key in ("k-view", "k-admin"):
        answer = client.get(url, HTTP_X_BALDUR_KEY=key)
        assert answer.status_code == 200, key
        assert "verdict" in answer.json()
    assert client.get("/api/baldur/health/live/").status_code == 200
