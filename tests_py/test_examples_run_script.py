"""``examples/run.sh``, the one command each example's README gives: it
starts the gateway and the service on the default store, and stops both."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from example_servers import EXAMPLE_APPS, EXAMPLES, Process, call, free_port, require_server


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
