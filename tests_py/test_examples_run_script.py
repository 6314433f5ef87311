"""``examples/run.sh``, the one command each example's README gives: it
starts the gateway and the service on the default store, and stops both;
the admin server's console runs beside the service."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from example_servers import (
    EXAMPLE_APPS,
    EXAMPLES,
    Process,
    call,
    new_order,
    require_server,
)
from helpers import free_port


@pytest.mark.parametrize("example", EXAMPLE_APPS)
def test_run_sh_serves_a_checkout_and_stops_both_servers(example: str, tmp_path: Path) -> None:
    require_server(example)
    gateway_port = free_port()
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "GATEWAY_PORT": str(gateway_port),
        "BALDUR_DATA_DIR": str(tmp_path),
        "SHOP_DB": str(tmp_path / "shop.sqlite3"),
        "DJANGO_DB": str(tmp_path / "django.sqlite3"),
    }
    script = Process(example, ["bash", str(EXAMPLES / "run.sh"), example], env, tmp_path / "log")
    script.env["PORT"] = str(script.port)
    try:
        script.start("/api/baldur/health/ready/")
        payload = {"order_id": "o-1", "customer": "c-1", "amount_cents": 990}
        answer = call(script.url + "/checkout", "POST", payload)
        # The gateway fails now and then on purpose: paid, or pending in the DLQ.
        assert answer.status in (201, 202), (answer, script.output())
        script.signal(signal.SIGTERM)
        assert script.wait() == 128 + signal.SIGTERM, script.output()
        for port in (script.port, gateway_port):
            with pytest.raises(OSError):
                call(f"http://127.0.0.1:{port}/")
    finally:
        script.stop()


@pytest.mark.parametrize("example", EXAMPLE_APPS)
def test_run_sh_serves_the_console_beside_the_service(example: str, tmp_path: Path) -> None:
    """The app's init() starts the admin server: run.sh names the console and
    where its key is, the console answers, and the baldur command sees the
    checkout's breaker and forces it open, after which a checkout is refused
    without a charge."""
    require_server(example)
    admin = f"http://127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "GATEWAY_PORT": str(free_port()),
        "BALDUR_DATA_DIR": str(tmp_path),
        "BALDUR_ADMIN_PORT": admin.rsplit(":", 1)[1],
        "BALDUR_ADMIN_UNLOCK": "1",
        "SHOP_DB": str(tmp_path / "shop.sqlite3"),
        "DJANGO_DB": str(tmp_path / "django.sqlite3"),
    }
    script = Process(example, ["bash", str(EXAMPLES / "run.sh"), example], env, tmp_path / "log")
    script.env["PORT"] = str(script.port)
    cli = [sys.executable, "-m", "baldur", "--url", admin]

    def baldur(*command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*cli, *command], env=env, capture_output=True, text=True, timeout=60)

    try:
        script.start("/api/baldur/health/ready/")
        assert f"console: {admin}/ (key: {tmp_path / 'admin.key'})" in script.output()
        assert call(admin + "/").status == 200
        payload = {"order_id": new_order(), "customer": "c-1", "amount_cents": 990}
        assert call(script.url + "/checkout", "POST", payload).status in (201, 202)
        listed = baldur("cb", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        names = [breaker["name"] for breaker in json.loads(listed.stdout)["breakers"]]
        assert "charge-customer" in names
        forced = baldur("cb", "force-open", "charge-customer", "--yes")
        assert forced.returncode == 0, forced.stderr
        payload = {"order_id": new_order(), "customer": "c-1", "amount_cents": 990}
        assert call(script.url + "/checkout", "POST", payload).status == 503
    finally:
        script.stop()


def test_run_sh_refuses_several_workers_on_the_default_store() -> None:
    done = subprocess.run(
        ["bash", str(EXAMPLES / "run.sh"), "flask"],
        env={**os.environ, "WORKERS": "3"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "BALDUR_REDIS_URL" in done.stderr
