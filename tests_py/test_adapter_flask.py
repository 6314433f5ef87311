"""The Flask adapter through Flask's test client: ``Baldur(app)`` and the
app-factory form, ``BALDUR_*`` keys from ``app.config``, the blueprint,
and refusal while draining."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import require_module

require_module("flask", "flask")

from flask import Flask, jsonify  # noqa: E402

import baldur  # noqa: E402
from baldur import _admin_key, _config, _shutdown  # noqa: E402
from baldur.adapters.flask import Baldur  # noqa: E402


@baldur.protected("flask-adapter-dlq", dlq=True, fallback=lambda: "queued")
def send_receipt(order_id: int) -> str:
    raise ConnectionError(f"mail server down for order {order_id}")


@pytest.fixture(autouse=True)
def _serving() -> Iterator[None]:
    yield
    _shutdown.reset_for_tests()
    _shutdown.uninstall_shutdown_handler()


def make_app(zone: str) -> Flask:
    app = Flask(__name__)
    app.config["BALDUR_CB_FAILURE_THRESHOLD"] = 13
    app.config["UNRELATED"] = "left alone"

    @app.get("/orders/<int:order_id>")
    @baldur.protected(zone, fallback=lambda: {"order": None, "cached": True})
    def order(order_id: int) -> object:
        return jsonify(order=order_id)

    return app


def test_baldur_app_reads_app_config_and_serves_the_blueprint(zone_name: str) -> None:
    app = make_app(zone_name)
    Baldur(app)
    assert _config.current().cb_failure_threshold == 13
    client = app.test_client()
    for name in ("health/", "health/live/", "health/ready/", "health/ping/", "dashboard/summary/"):
        assert client.get(f"/api/baldur/{name}").status_code == 200, name
    assert client.get("/orders/4").get_json() == {"order": 4}
    endpoints = baldur.metrics_snapshot()["endpoints"]
    assert any(row["route"] == "/orders/<int:order_id>" for row in endpoints), endpoints


def test_the_app_factory_form(zone_name: str) -> None:
    extension = Baldur(cb_minimum_calls=17)
    app = make_app(zone_name)
    extension.init_app(app)
    extension.init_app(app)  # twice is harmless
    assert app.extensions["baldur"] is extension
    assert _config.current().cb_minimum_calls == 17
    assert app.test_client().get("/api/baldur/health/ping/").status_code == 200


def test_while_draining_new_requests_get_503_and_probes_answer(zone_name: str) -> None:
    app = make_app(zone_name)
    Baldur(app)
    client = app.test_client()
    baldur.begin_shutdown(timeout=5)
    refused = client.get("/orders/4")
    assert refused.status_code == 503
    assert int(refused.headers["Retry-After"]) >= 1
    assert client.get("/api/baldur/health/ready/").status_code == 503
    assert client.get("/api/baldur/health/live/").status_code == 200


@pytest.mark.parametrize("path", ["health/", "health/ping/", "dashboard/summary/", "metrics/json/"])
def test_operations_endpoints_answer_get_and_head_only(zone_name: str, path: str) -> None:
    app = make_app(zone_name)
    Baldur(app)
    client = app.test_client()
    url = "/api/baldur/" + path
    assert client.get(url).status_code == 200
    head = client.head(url)
    assert (head.status_code, head.data) == (200, b"")
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        refused = client.open(url, method=method)
        assert refused.status_code == 405, method
        assert sorted(refused.headers["Allow"].split(", ")) == ["GET", "HEAD"], method


def test_a_full_dead_letter_queue_reaches_the_client_as_503_with_retry_after(
    zone_name: str, tmp_path: Path
) -> None:
    app = make_app(zone_name)

    @app.post("/receipts/<int:order_id>")
    def receipt(order_id: int) -> object:
        return jsonify(result=send_receipt(order_id))

    Baldur(app, data_dir=str(tmp_path), dlq_max_size=1, dlq_overflow_strategy="reject")
    client = app.test_client()
    assert client.post("/receipts/1").get_json() == {"result": "queued"}  # set aside
    full = client.post("/receipts/2")  # the queue is full: the reject strategy
    assert full.status_code == 503
    assert int(full.headers["Retry-After"]) >= 1
    assert full.get_json()["error"] == "dead_letter_queue_full"


def test_the_summary_needs_a_key_once_one_is_configured(
    zone_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BALDUR_VIEWER_KEY", "k-view")
    app = make_app(zone_name)
    app.config["BALDUR_ADMIN_KEY"] = "k-admin"
    Baldur(app)
    client = app.test_client()
    url = "/api/baldur/dashboard/summary/"
    for headers in ({}, {"X-Baldur-Key": "wrong"}, {"X-Baldur-Key": "k-admin "}):
        refused = client.get(url, headers=headers)
        assert (refused.status_code, refused.get_json()) == (401, {"error": "unauthorized"})
    for key in ("k-view", "k-admin"):
        answer = client.get(url, headers={"X-Baldur-Key": key})
        assert answer.status_code == 200, key
        assert "verdict" in answer.get_json()
    # The probes stay open.
    assert client.get("/api/baldur/health/ready/").status_code == 200


def test_a_generated_admin_key_leaves_the_summary_open(zone_name: str, tmp_path: Path) -> None:
    app = make_app(zone_name)
    Baldur(app, data_dir=str(tmp_path))
    _admin_key.resolve(_config.current())  # the admin server made admin.key
    assert (tmp_path / "admin.key").exists()
    assert app.test_client().get("/api/baldur/dashboard/summary/").status_code == 200
